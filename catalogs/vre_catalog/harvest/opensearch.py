"""OpenSearch (resto, THEIA): paged GeoJSON or Atom responses.

Source options: ``format`` (geojson | atom, default geojson), ``query`` (the ``q`` search terms),
``page_size``; paging uses ``startIndex`` (OpenSearch 1.1) from 1, as resto does.
"""
from __future__ import annotations

from lxml import etree

from .records import Link, Record

ATOM = {"a": "http://www.w3.org/2005/Atom", "georss": "http://www.georss.org/georss",
        "dc": "http://purl.org/dc/elements/1.1/", "os": "http://a9.com/-/spec/opensearch/1.1/"}


def read(source, start: int, throttle, timeout: float):
    import requests

    fmt = source.options.get("format", "geojson")
    if fmt not in ("geojson", "atom"):
        raise ValueError(f"source {source.name}: format must be geojson or atom, not {fmt!r}")
    page = int(source.options.get("page_size", 50))
    limit = source.options.get("max_records")
    position = start
    while True:
        params = {"startIndex": position + 1, "maxRecords": page, "count": page}
        if source.options.get("query"):
            params["q"] = source.options["query"]
        throttle.wait()
        resp = requests.get(source.url, params=params, timeout=timeout)
        resp.raise_for_status()
        records, total = (_geojson(resp.json()) if fmt == "geojson" else _atom(resp.content))
        for rec in records:
            yield position, rec
            position += 1
            if limit and position >= int(limit):
                return
        if not records or (total is not None and position >= total) or len(records) < page:
            return


def _geojson(doc: dict):
    out = []
    for feat in doc.get("features") or []:
        props = feat.get("properties") or {}
        rec = Record(identifier=str(feat.get("id") or props.get("productIdentifier") or props.get("identifier") or ""),
                     title=props.get("title") or props.get("productIdentifier"),
                     abstract=props.get("description") or "", datestamp=props.get("updated") or props.get("published"),
                     time_start=props.get("startDate"), time_end=props.get("completionDate"),
                     license=(props.get("license") or {}).get("licenseId") if isinstance(props.get("license"), dict) else props.get("license"),
                     platform=[props["platform"]] if props.get("platform") else [],
                     instrument=[props["instrument"]] if props.get("instrument") else [],
                     data_centre=props.get("organisationName"))
        rec.keywords = [k.get("name") if isinstance(k, dict) else str(k) for k in props.get("keywords") or []]
        bbox = feat.get("bbox") or _geometry_bbox(feat.get("geometry"))
        rec.bbox = tuple(bbox[:4]) if bbox else None
        download = ((props.get("services") or {}).get("download") or {})
        if download.get("url"):
            rec.links.append(Link(download["url"], download.get("mimeType") or "WWW:DOWNLOAD", "download"))
        for link in props.get("links") or []:
            if link.get("rel") == "self":
                rec.record_url = link.get("href")
            elif link.get("rel") in ("alternate", "about") and not rec.landing_page and "html" in str(link.get("type")):
                rec.landing_page = link.get("href")
            elif link.get("rel") == "enclosure":
                rec.links.append(Link(link["href"], link.get("type") or "", link.get("title") or ""))
        out.append(rec)
    total = (doc.get("properties") or {}).get("totalResults")
    return out, int(total) if total is not None else None


def _geometry_bbox(geom):
    if not geom or not geom.get("coordinates"):
        return None
    flat = []

    def walk(c):
        if c and isinstance(c[0], (int, float)):
            flat.append(c[:2])
        else:
            for x in c:
                walk(x)

    walk(geom["coordinates"])
    xs, ys = [p[0] for p in flat], [p[1] for p in flat]
    return (min(xs), min(ys), max(xs), max(ys)) if flat else None


def _atom(content: bytes):
    root = etree.fromstring(content)
    out = []
    for entry in root.findall("a:entry", ATOM):
        def text(path):
            node = entry.find(path, ATOM)
            return node.text.strip() if node is not None and node.text else None

        rec = Record(identifier=text("a:id") or text("dc:identifier"), title=text("a:title"),
                     abstract=text("a:summary") or text("a:content") or "", datestamp=text("a:updated"),
                     license=text("a:rights"))
        date = text("dc:date")
        if date and "/" in date:
            rec.time_start, rec.time_end = (d or None for d in date.split("/", 1))
        box = text("georss:box")  # 'south west north east'
        if box:
            s, w, n, e = (float(v) for v in box.split())
            rec.bbox = (w, s, e, n)
        rec.keywords = [c.get("term") for c in entry.findall("a:category", ATOM) if c.get("term")]
        for link in entry.findall("a:link", ATOM):
            rel, href = link.get("rel", "alternate"), link.get("href")
            if rel == "enclosure" and href:
                rec.links.append(Link(href, link.get("type") or "", link.get("title") or ""))
            elif rel == "alternate" and href and not rec.landing_page:
                rec.landing_page = href
            elif rel == "self" and href:
                rec.record_url = href
        out.append(rec)
    total = root.find("os:totalResults", ATOM)
    return out, int(total.text) if total is not None and total.text else None
