"""OGC CSW 2.0.2 (GeoNetwork: Sextant, AERIS, ForM@Ter): GetRecords pages through OWSLib, ISO 19139 or Dublin Core.

ISO keyword thesauri are how a record says what its keywords are; the ones ``vre catalog publish`` writes for
fields ISO has no element for (variables with units, pole, resolutions) are named in THESAURI and read back here.
"""
from __future__ import annotations

from lxml import etree

from .records import LANDING_PAGE, Link, Record

GMD = "http://www.isotc211.org/2005/gmd"
OUTPUT_SCHEMAS = {"iso": GMD, "dc": "http://www.opengis.net/cat/csw/2.0.2"}
TYPENAMES = {"iso": "gmd:MD_Metadata", "dc": "csw:Record"}
NS = {"gmd": GMD, "gco": "http://www.isotc211.org/2005/gco", "gml": "http://www.opengis.net/gml",
      "gml32": "http://www.opengis.net/gml/3.2"}
THESAURI = {  # thesaurus title -> Record field; `publish` writes them (one place: vre_catalog.publish uses this)
    "CF Standard Name Table": "standard_name",
    "DATA TERRA VRE variables": "variables",  # 'name|standard_name|units|long_name'
    "DATA TERRA poles": "pole",
    "DATA TERRA VRE resolution": "resolution",  # 'lat: 0.5 degree', 'lon: 0.5 degree'
}
KEYWORD_TYPES = {"platform": "platform", "instrument": "instrument", "dataCentre": "data_centre"}


def _constraints(constraint):
    from owslib.fes import PropertyIsLike

    if not constraint:
        return []
    if isinstance(constraint, str):
        return [PropertyIsLike("csw:AnyText", f"%{constraint}%")]
    return [PropertyIsLike(constraint["property"], constraint["value"])]


def read(source, start: int, throttle, timeout: float):
    """Yield (position, Record) from record ``start`` (0-based) on, one GetRecords page at a time."""
    from owslib.csw import CatalogueServiceWeb

    schema = source.options.get("schema", "iso")
    if schema not in OUTPUT_SCHEMAS:
        raise ValueError(f"source {source.name}: schema must be iso or dc, not {schema!r}")
    page = int(source.options.get("page_size", 50))
    limit = source.options.get("max_records")
    csw = CatalogueServiceWeb(source.url, timeout=timeout, skip_caps=True)  # no request: GetRecords only
    position = start
    while True:
        throttle.wait()
        csw.getrecords2(constraints=_constraints(source.options.get("constraint")), esn="full",
                        typenames=TYPENAMES[schema], outputschema=OUTPUT_SCHEMAS[schema],
                        startposition=position + 1, maxrecords=page)
        records = list(csw.records.values())
        for rec in records:
            yield position, (from_iso(rec, source.url) if schema == "iso" else from_dc(rec, source.url))
            position += 1
            if limit and position >= int(limit):
                return
        matches = int(csw.results.get("matches") or 0)
        if not records or position >= matches:
            return


def record_url(url: str, identifier: str | None, schema: str = GMD) -> str | None:
    if not identifier:
        return None
    from urllib.parse import urlencode

    return f"{url}?" + urlencode({"service": "CSW", "version": "2.0.2", "request": "GetRecordById", "id": identifier,
                                   "outputSchema": schema, "elementSetName": "full"})


def from_iso(md, url: str) -> Record:
    """An OWSLib MD_Metadata as a Record; what OWSLib does not parse (polygon CRS, duration) is read from its XML."""
    idents = md.identification if isinstance(md.identification, list) else [md.identification]
    ident = next((i for i in idents if i is not None), None)
    rec = Record(identifier=md.identifier, datestamp=md.datestamp, record_url=record_url(url, md.identifier))
    if ident is None:
        return rec
    rec.title, rec.abstract = ident.title, ident.abstract or ""
    standard_names = []
    for group in ident.keywords or []:
        words = [k.name for k in group.keywords if getattr(k, "name", None)]
        thesaurus = (group.thesaurus or {}).get("title") or ""
        kind = next((v for k, v in THESAURI.items() if thesaurus.startswith(k)), None)
        if kind == "standard_name":
            standard_names += words
        elif kind == "variables":
            for word in words:
                name, sn, units, long_name = (word.split("|") + ["", "", "", ""])[:4]
                rec.variables.append({"name": name, "standard_name": sn or None, "units": units, "long_name": long_name})
        elif kind == "pole":
            rec.pole = words[0] if words else None
        elif kind == "resolution":
            for word in words:
                axis, _, value = word.partition(":")
                if axis.strip() in ("lat", "lon"):
                    setattr(rec, f"{axis.strip()}_resolution", value.strip())
        elif group.type in KEYWORD_TYPES and KEYWORD_TYPES[group.type] == "data_centre":
            rec.data_centre = words[0] if words else None
        elif group.type in KEYWORD_TYPES:
            getattr(rec, KEYWORD_TYPES[group.type]).extend(words)
        else:
            rec.keywords += words
    if standard_names and not rec.variables:  # a foreign record: CF names are all it says about its variables
        rec.variables = [{"name": sn, "standard_name": sn} for sn in standard_names]
    xml = etree.fromstring(md.xml) if md.xml else None
    box = ident.bbox
    if box is not None and box.minx not in (None, ""):
        rec.bbox = (box.minx, box.miny, box.maxx, box.maxy)
    elif xml is not None:
        poly = xml.find(".//gmd:EX_BoundingPolygon//gml:posList", NS)
        if poly is None:
            poly = xml.find(".//gmd:EX_BoundingPolygon//gml32:posList", NS)
        if poly is not None:
            values = [float(v) for v in poly.text.split()]
            xs, ys = values[0::2], values[1::2]
            rec.bbox = (min(xs), min(ys), max(xs), max(ys))
            rec.crs = poly.get("srsName") or poly.getparent().getparent().getparent().get("srsName") or "unknown"
    rec.time_start = ident.temporalextent_start
    rec.time_end = ident.temporalextent_end or None
    if xml is not None:
        duration = xml.find(".//gml:TimePeriod/gml:duration", NS)
        rec.time_resolution = duration.text.strip() if duration is not None and duration.text else None
    constraints = [c for c in (ident.otherconstraints or []) if c] + [c for c in (ident.uselimitation or []) if c]
    rec.license = constraints[0] if constraints else None
    rec.doi = md.dataseturi
    for party in (md.contact or []) + (ident.contact or []):
        org = party.organization
        link = getattr(party.onlineresource, "url", None) if party.onlineresource else None
        if party.role == "publisher" and not rec.publisher_name:
            rec.publisher_name, rec.publisher_url = org, link
        elif party.role in ("originator", "owner") and not rec.institution:
            rec.institution = org
        elif party.role in ("pointOfContact", "custodian") and not rec.publisher_name:
            rec.publisher_name, rec.publisher_url = org, link
    dist = md.distribution
    online = list(dist.online) if dist is not None else []
    for distributor in (dist.distributor if dist is not None else []) or []:
        online += distributor.online
        if distributor.contact is not None and distributor.contact.organization and not rec.data_centre:
            rec.data_centre = distributor.contact.organization
    fmt = dist.format if dist is not None else None
    for res in online:
        if not res.url:
            continue
        if res.name == LANDING_PAGE or (res.function == "information" and not rec.landing_page):
            rec.landing_page = res.url
            continue
        rec.links.append(Link(res.url, res.protocol or "", res.name or "", res.description or "", res.function or "",
                              fmt or "" if not rec.links else ""))  # ISO has one format list per distribution
    return rec


def from_dc(rec, url: str) -> Record:
    """An OWSLib Dublin Core CswRecord (the lowest common denominator every CSW serves)."""
    out = Record(identifier=rec.identifier, title=rec.title, abstract=rec.abstract or "",
                 datestamp=rec.modified or rec.date, keywords=list(rec.subjects or []), license=rec.rights,
                 publisher_name=rec.publisher, record_url=record_url(url, rec.identifier, "http://www.opengis.net/cat/csw/2.0.2"))
    if rec.bbox is not None:
        out.bbox = (rec.bbox.minx, rec.bbox.miny, rec.bbox.maxx, rec.bbox.maxy)
        out.crs = getattr(getattr(rec.bbox, "crs", None), "id", None) or None
        # OWSLib reads ows:BoundingBox in EPSG:4326 axis order (lat, lon) for urn CRSs; it swaps them for us.
    if rec.temporal and "/" in rec.temporal:
        out.time_start, out.time_end = (p.strip() or None for p in rec.temporal.split("/", 1))
    for ref in list(rec.references or []) + list(rec.uris or []):
        if ref.get("url"):
            out.links.append(Link(ref["url"], ref.get("scheme") or "", ref.get("name") or ""))
    return out
