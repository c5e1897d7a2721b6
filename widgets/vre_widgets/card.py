"""The metadata card of one catalogue entry, as HTML."""

from __future__ import annotations

from functools import lru_cache
from html import escape

from ._catalog import entry_variables
from .basemap import COUNTRY_STYLE, country_paths

_POLE_NAMES = {"odatis": "ODATIS (ocean)", "aeris": "AERIS (atmosphere)",
               "theia": "THEIA (land surfaces)", "formater": "ForM@Ter (solid earth)"}


def _first(metadata: dict, *keys):
    for key in keys:
        value = metadata.get(key)
        if value:
            return value
    return None


def card_fields(entry) -> dict:
    """The card's content as plain values (what tests check and what the HTML shows)."""
    md = dict(entry.metadata or {})
    doi = _first(md, "doi", "DOI")
    if doi and not str(doi).startswith("http"):
        doi = f"https://doi.org/{doi}"
    return {
        "title": entry.title or entry.id,
        "id": entry.id,
        "pole": entry.pole,
        "description": entry.description or "",
        "variables": [(v.get("name"), v.get("long_name") or v.get("standard_name") or "",
                       v.get("units") or "") for v in entry_variables(entry)],
        "bbox": tuple(entry.bbox) if entry.bbox else None,
        "time_coverage": tuple(entry.time_coverage) if entry.time_coverage else None,
        "licence": _first(md, "license", "licence", "rights"),
        "doi": doi,
        "landing": _first(md, "landing_page", "landing_url", "url", "homepage", "references"),
        "provider": _first(md, "provider", "institution", "publisher"),
        "platform": _first(md, "platform"),
        "protocol": entry.protocol,
        "source": "remote service + embedded sample" if entry.has_remote else "embedded sample only",
        "citation": _first(md, "citation", "sample_source", "sample_citation"),
    }


def card_html(entry) -> str:
    """The *overview* view: title, abstract, extent map, time, licence, links, how to open."""
    f = card_fields(entry)
    rows = [("Pole", _POLE_NAMES.get(f["pole"], f["pole"]))]
    for label, key in (("Provider", "provider"), ("Platform", "platform"), ("Protocol", "protocol"),
                       ("Data", "source"), ("Licence", "licence")):
        if f[key]:
            value = f[key]
            rows.append((label, ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value))
    if f["bbox"]:
        rows.append(("Extent", "W {:g} · S {:g} · E {:g} · N {:g}".format(*f["bbox"])))
    if f["time_coverage"]:
        start, end = f["time_coverage"]
        rows.append(("Time", f"{start or '…'} → {end or '…'}"))
    links = []
    if f["doi"]:
        links.append(f'<a href="{escape(f["doi"])}" target="_blank" rel="noopener">DOI</a>')
    if f["landing"] and str(f["landing"]).startswith("http"):
        links.append(f'<a href="{escape(f["landing"])}" target="_blank" rel="noopener">landing page</a>')
    for link in (entry.metadata or {}).get("links") or []:  # harvested records: every distribution link
        if str(link.get("url", "")).startswith(("http://", "https://")):
            links.append(f'<a href="{escape(link["url"])}" target="_blank" rel="noopener">'
                         f'{escape(str(link.get("name") or link.get("protocol") or "link"))}</a>')
    if links:
        rows.append(("Links", " · ".join(links)))
    if f["citation"]:
        rows.append(("Cite", f["citation"]))
    table = "".join(f"<tr><th style='text-align:left;padding-right:8px'>{escape(k)}</th>"
                    f"<td>{v if k == 'Links' else escape(str(v))}</td></tr>" for k, v in rows)
    variables = "".join(
        f"<li><code>{escape(str(n))}</code> {escape(str(long))}"
        f"{' [' + escape(str(u)) + ']' if u else ''}</li>" for n, long, u in f["variables"])
    harvest = (entry.metadata or {}).get("harvest") or {}
    how = (f"<pre style='margin:2px 0;white-space:pre-wrap'>{escape(_open_line(entry))}</pre>"
           + ("<div><small>No distribution intake can read: this entry opens the record's metadata document; "
              "use the links above for the data.</small></div>" if harvest and not harvest.get("readable") else ""))
    return (f"<div class='vre-card' style='line-height:1.35'>"
            f"<h4 style='margin:2px 0'>{escape(str(f['title']))}</h4>"
            f"<div><small><code>{escape(f['id'])}</code></small></div>"
            f"<p style='margin:4px 0'>{escape(str(f['description']))}</p>"
            f"{_extent_svg(f['bbox'])}"
            f"<table>{table}</table>"
            f"<div><b>Variables</b><ul style='margin:2px 0 2px 18px;padding:0'>{variables}</ul></div>"
            f"<div><b>How to open</b>{how}</div>"
            f"</div>")


def _open_line(entry) -> str:
    try:
        return "import intake\n" + entry.code()
    except ValueError as exc:  # not loaded from a catalogue file (an index built from dicts)
        return str(exc)


@lru_cache(maxsize=1)
def _coastline_path() -> str:
    """The Natural Earth outlines of the browser map (basemap.py, offline) as one SVG path in the card's
    360 x 180 frame, to the nearest 0.5 degree (plenty at 180 px); empty without pyogrio."""
    rings = []
    for ring in country_paths():
        points = dict.fromkeys((round(2 * (lon + 180)) / 2, round(2 * (90 - lat)) / 2) for lon, lat in ring)
        if len(points) > 2:
            rings.append("M" + "L".join(f"{x:g} {y:g}" for x, y in points) + "Z")
    return "".join(rings)


def _extent_svg(bbox) -> str:
    """A small world map (Natural Earth country outlines, no tiles, no network) with the entry's box;
    nothing when there is no box."""
    if not bbox:
        return ""
    west, south, east, north = (float(v) for v in bbox)
    boxes = [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]  # across the antimeridian
    rects = "".join(
        f"<rect x='{a + 180:.2f}' y='{90 - north:.2f}' width='{max(b - a, 0.8):.2f}' height='{max(north - south, 0.8):.2f}' "
        "fill='#1f77b4' fill-opacity='0.35' stroke='#1f77b4'/>" for a, b in boxes)
    land = _coastline_path()
    style = COUNTRY_STYLE
    outlines = (f"<path class='vre-card-coastlines' d='{land}' fill='{style['fillColor']}' stroke='{style['color']}' "
                f"stroke-width='0.4' stroke-linejoin='round'/>" if land else "")
    return ("<svg class='vre-card-extent' viewBox='0 0 360 180' width='180' height='90' "
            "style='border:1px solid #bbb;background:#f4f8fb;margin:2px 0'>"
            f"{outlines}"
            "<line x1='0' y1='90' x2='360' y2='90' stroke='#ccc'/><line x1='180' y1='0' x2='180' y2='180' stroke='#ccc'/>"
            f"{rects}</svg>")


def full_metadata_html(entry) -> str:
    """The *full metadata* view: every field of the entry's metadata, nested, every value escaped."""
    rows = [("id", entry.id), ("description", entry.description or "")]
    rows += list((entry.metadata or {}).items())
    body = "".join(f"<tr><th style='text-align:left;vertical-align:top;padding-right:8px'>{escape(str(k))}</th>"
                   f"<td>{_value_html(v)}</td></tr>" for k, v in rows)
    return f"<div class='vre-card-full' style='line-height:1.3'><table>{body}</table></div>"


def _value_html(value, depth: int = 0) -> str:
    if isinstance(value, dict) and depth < 6:
        return "<table>" + "".join(f"<tr><th style='text-align:left;padding-right:6px'>{escape(str(k))}</th>"
                                   f"<td>{_value_html(v, depth + 1)}</td></tr>" for k, v in value.items()) + "</table>"
    if isinstance(value, (list, tuple)) and depth < 6:
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            return escape(", ".join(map(str, value)))
        return "<ol style='margin:0 0 0 16px;padding:0'>" + "".join(f"<li>{_value_html(v, depth + 1)}</li>" for v in value) + "</ol>"
    return "<i>none</i>" if value is None else escape(str(value))
