"""The metadata card of one catalogue entry, as HTML."""

from __future__ import annotations

from html import escape

from ._catalog import entry_variables

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
    if links:
        rows.append(("Links", " · ".join(links)))
    if f["citation"]:
        rows.append(("Cite", f["citation"]))
    table = "".join(f"<tr><th style='text-align:left;padding-right:8px'>{escape(k)}</th>"
                    f"<td>{v if k == 'Links' else escape(str(v))}</td></tr>" for k, v in rows)
    variables = "".join(
        f"<li><code>{escape(str(n))}</code> {escape(str(long))}"
        f"{' [' + escape(str(u)) + ']' if u else ''}</li>" for n, long, u in f["variables"])
    return (f"<div class='vre-card' style='line-height:1.35'>"
            f"<h4 style='margin:2px 0'>{escape(str(f['title']))}</h4>"
            f"<div><small><code>{escape(f['id'])}</code></small></div>"
            f"<p style='margin:4px 0'>{escape(str(f['description']))}</p>"
            f"<table>{table}</table>"
            f"<div><b>Variables</b><ul style='margin:2px 0 2px 18px;padding:0'>{variables}</ul></div>"
            f"</div>")
