"""`vre catalog publish`: the VRE's curated entries as ISO 19139 records (pygeometa) and a static STAC catalogue
(pystac), so that the poles' catalogues (GeoNetwork harvesters, STAC browsers) can harvest what the VRE adds.

ISO 19139 has no element for a few schema fields; they travel as keyword sets with a named thesaurus
(vre_catalog.harvest.csw.THESAURI), which `vre catalog harvest` reads back: variables ('name|standard_name|
units|long_name'), pole, lat/lon resolution.  CF standard names are also written under the CF thesaurus that
other harvesters know.  The `sample` block (the VRE's offline file) is not published: it only makes sense
inside the VRE.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from .harvest.csw import THESAURI
from .harvest.records import ISO_PROTOCOLS, LANDING_PAGE
from .harvest.stac import PROVIDER_ROLES
from .layout import REMOTE_SUFFIX, read_tree

ID_PREFIX = "dataterra-vre."
_THESAURUS = {v: k for k, v in THESAURI.items()}
CF_URL = "https://cfconventions.org/Data/cf-standard-names/current/build/cf-standard-name-table.html"
STAC_MEDIA = {"zarr": "application/vnd+zarr", "opendap": "application/vnd.opendap.dap4", "http": "application/octet-stream"}


def curated_entries(root: Path):
    """(id, metadata, description, datestamp) of every curated entry (the `_remote` twins share their metadata)."""
    tree = read_tree(root)
    for pole in tree.poles:
        stamp = dt.datetime.fromtimestamp(pole.file.stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        names = set(pole.sources)
        for name, spec in pole.sources.items():
            if name.endswith(REMOTE_SUFFIX) and name[: -len(REMOTE_SUFFIX)] in names:
                continue
            yield f"{pole.pole}.{name}", dict(spec.get("metadata") or {}), str(spec.get("description") or ""), stamp


def to_mcf(ident: str, m: dict, description: str, datestamp: str) -> dict:
    """pygeometa's metadata control file for one entry."""
    keywords = {"default": {"keywords": list(m.get("keywords") or []), "keywords_type": "theme"},
                "pole": {"keywords": [m["pole"]], "keywords_type": "theme",
                         "vocabulary": {"name": _THESAURUS["pole"]}}}
    variables = m.get("variables") or []
    if variables:
        keywords["variables"] = {"keywords_type": "theme", "vocabulary": {"name": _THESAURUS["variables"]},
                                 "keywords": ["|".join(str(v.get(k) or "") for k in ("name", "standard_name", "units", "long_name"))
                                              for v in variables]}
    standard_names = [v["standard_name"] for v in variables if v.get("standard_name")]
    if standard_names:
        keywords["cf"] = {"keywords": standard_names, "keywords_type": "theme",
                          "vocabulary": {"name": _THESAURUS["standard_name"], "url": CF_URL}}
    for key in ("platform", "instrument"):
        if m.get(key):
            keywords[key] = {"keywords": list(m[key]), "keywords_type": key}
    resolution = [f"{axis}: {m[f'geospatial_{axis}_resolution']}" for axis in ("lat", "lon") if m.get(f"geospatial_{axis}_resolution")]
    if resolution:
        keywords["resolution"] = {"keywords": resolution, "keywords_type": "theme", "vocabulary": {"name": _THESAURUS["resolution"]}}
    extents = {"spatial": [], "temporal": []}
    if m.get("geospatial_lon_min") is not None:
        extents["spatial"].append({"bbox": [m["geospatial_lon_min"], m["geospatial_lat_min"], m["geospatial_lon_max"],
                                            m["geospatial_lat_max"]], "crs": 4326})
    if m.get("time_coverage_start"):
        extents["temporal"].append({"begin": str(m["time_coverage_start"]), "end": str(m.get("time_coverage_end") or "now"),
                                    "resolution": m.get("time_coverage_resolution")})
    contact = {}
    if m.get("publisher_name"):
        contact["publisher"] = {"organization": m["publisher_name"], "url": m.get("publisher_url")}
    if m.get("institution"):
        contact["originator"] = {"organization": m["institution"]}
    if m.get("data_centre"):
        contact["distributor"] = {"organization": m["data_centre"]}
    distribution = {}
    access = m.get("access") or {}
    if access.get("url"):
        distribution["access"] = {"url": access["url"], "type": ISO_PROTOCOLS.get(access.get("protocol"), access.get("protocol")),
                                  "name": "access", "description": access.get("note"), "function": "download",
                                  "format": access.get("format")}
    if m.get("landing_page"):
        distribution[LANDING_PAGE] = {"url": m["landing_page"], "type": "WWW:LINK-1.0-http--link", "name": LANDING_PAGE,
                                      "function": "information"}
    doi = m.get("doi")
    return {
        "mcf": {"version": "1.0"},
        "metadata": {"identifier": ID_PREFIX + ident, "language": "eng", "charset": "utf8", "hierarchylevel": "dataset",
                     "datestamp": datestamp, **({"dataseturi": doi} if doi else {})},
        "spatial": {"datatype": "grid", "geomtype": "surface"},
        "identification": {
            "language": "eng", "charset": "utf8", "title": m.get("title"), "abstract": description or m.get("title"),
            "dates": {"revision": datestamp}, "keywords": keywords, "topiccategory": ["geoscientificInformation"],
            "extents": extents, "status": "onGoing" if m.get("time_coverage_end") is None else "completed",
            "maintenancefrequency": "asNeeded", "license": {"name": m.get("license"), "url": ""},
        },
        "contact": contact,
        "distribution": distribution,
    }


def iso_record(mcf: dict) -> str:
    """ISO 19139 XML of an MCF, through pygeometa.

    pygeometa (0.19) writes ``MD_Format/name`` as bare, unescaped text, which is not valid ISO 19139 and which
    OWSLib cannot read: the format is escaped before and wrapped in ``gco:CharacterString`` after rendering."""
    from xml.sax.saxutils import escape

    from lxml import etree
    from pygeometa.schemas.iso19139 import ISO19139OutputSchema

    mcf = dict(mcf, distribution={k: dict(v, format=escape(v["format"])) if v.get("format") else v
                                  for k, v in mcf.get("distribution", {}).items()})
    root = etree.fromstring(ISO19139OutputSchema().write(mcf).encode("utf-8"))
    ns = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco"}
    for name in root.iterfind(".//gmd:MD_Format/gmd:name", ns):
        if len(name) == 0 and name.text:
            etree.SubElement(name, f"{{{ns['gco']}}}CharacterString").text, name.text = name.text, None
    return etree.tostring(root, encoding="unicode", pretty_print=True)


def stac_collection(ident: str, m: dict, description: str, datestamp: str):
    import pystac

    bbox = ([m["geospatial_lon_min"], m["geospatial_lat_min"], m["geospatial_lon_max"], m["geospatial_lat_max"]]
            if m.get("geospatial_lon_min") is not None else [-180.0, -90.0, 180.0, 90.0])

    def when(value):
        return dt.datetime.fromisoformat(str(value)[:10]).replace(tzinfo=dt.timezone.utc) if value else None

    roles = {v: k for k, v in PROVIDER_ROLES.items()}
    providers = [pystac.Provider(name=m[key], roles=[roles[role]], url=m.get("publisher_url") if role == "publisher" else None)
                 for key, role in (("data_centre", "data_centre"), ("institution", "institution"), ("publisher_name", "publisher"))
                 if m.get(key)]
    coll = pystac.Collection(
        id=ID_PREFIX + ident, title=m.get("title"), description=description or m.get("title") or ident,
        extent=pystac.Extent(pystac.SpatialExtent([bbox]),
                             pystac.TemporalExtent([[when(m.get("time_coverage_start")), when(m.get("time_coverage_end"))]])),
        license="other", keywords=list(m.get("keywords") or []), providers=providers,
        summaries=pystac.Summaries({k: v for k, v in (("platform", m.get("platform")), ("instruments", m.get("instrument"))) if v}),
        extra_fields={"updated": datestamp, "vre:license": m.get("license"), "vre:pole": m.get("pole"),
                      **({"sci:doi": m["doi"]} if m.get("doi") else {}),
                      "cube:variables": {v["name"]: {"type": "data", "description": v.get("long_name"), "unit": v.get("units"),
                                                     "standard_name": v.get("standard_name")} for v in m.get("variables") or []}},
    )
    access = m.get("access") or {}
    if access.get("url"):
        coll.add_asset("access", pystac.Asset(access["url"], title=access.get("protocol"), description=access.get("note"),
                                              media_type=STAC_MEDIA.get(access.get("protocol")), roles=["data"]))
    if m.get("landing_page"):
        coll.add_link(pystac.Link("about", m["landing_page"], media_type="text/html", title="landing page"))
    return coll


def publish(root: Path, out: Path | str, base_url: str | None = None) -> tuple[int, int]:
    """Write ``out/iso19139/<id>.xml`` and ``out/stac/catalog.json``; returns (ISO records, STAC collections)."""
    import pystac

    out = Path(out)
    iso_dir = out / "iso19139"
    iso_dir.mkdir(parents=True, exist_ok=True)
    catalog = pystac.Catalog(id="dataterra-vre", title="DATA TERRA VRE - curated datasets",
                             description="Datasets curated in the DATA TERRA virtual research environment")
    n = 0
    for ident, meta, description, stamp in curated_entries(Path(root)):
        (iso_dir / f"{ID_PREFIX}{ident}.xml").write_text(iso_record(to_mcf(ident, meta, description, stamp)), encoding="utf-8")
        catalog.add_child(stac_collection(ident, meta, description, stamp))
        n += 1
    stac_dir = out / "stac"
    catalog.normalize_hrefs(base_url.rstrip("/") if base_url else str(stac_dir.resolve()))
    catalog.save(pystac.CatalogType.ABSOLUTE_PUBLISHED if base_url else pystac.CatalogType.SELF_CONTAINED, dest_href=str(stac_dir))
    return n, n
