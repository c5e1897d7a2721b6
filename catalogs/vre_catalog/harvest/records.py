"""What every protocol reader produces (a :class:`Record`) and how a record becomes an intake entry.

The readers (csw.py, stac.py, opensearch.py) only translate their protocol into a Record; every rule about
what is kept, dropped or reported (bbox, CRS, dates, HTML, duplicates, which link intake can open) lives here,
so the three protocols behave the same.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import asdict, dataclass, field
from urllib.parse import urlparse

import numpy as np

from ..layout import POLES

# VRE ``access.protocol`` <-> the online-resource protocol string written in ISO 19139 records.  `publish`
# writes the right-hand side; `harvest` reads it back, and also the usual variants found in the poles'
# catalogues (see _classify).
ISO_PROTOCOLS = {
    "opendap": "OPeNDAP:OPeNDAP",
    "erddap": "ERDDAP:erddap",
    "thredds": "UNIDATA:THREDDS",
    "http": "WWW:DOWNLOAD-1.0-http--download",
    "zarr": "Zarr:zarr",
    "stac": "OGC:STAC",
    "fdsn": "FDSN:fdsnws",
    "api": "WWW:LINK-1.0-http--link",
}
LANDING_PAGE = "landing_page"  # name of the online resource that carries the landing page
WGS84 = {None, "", "4326", "EPSG:4326", "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:EPSG:6.6:4326",
         "urn:ogc:def:crs:OGC:1.3:CRS84", "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
         "http://www.opengis.net/def/crs/EPSG/0/4326", "CRS84", "WGS84", "WGS 84"}
_TAG = re.compile(r"<[^>]*>")
_HTML_HINT = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>|&[a-zA-Z]+;|&#\d+;")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class Link:
    url: str
    protocol: str = ""
    name: str = ""
    description: str = ""
    function: str = ""
    format: str = ""


@dataclass
class Record:
    """One catalogue record, as the protocol reader understood it (strings as found, not yet checked)."""

    identifier: str | None
    title: str | None = None
    abstract: str = ""
    datestamp: str | None = None  # the record's own change stamp: incremental harvests compare it
    keywords: list[str] = field(default_factory=list)
    variables: list[dict] = field(default_factory=list)  # name, standard_name, units, long_name
    platform: list[str] = field(default_factory=list)
    instrument: list[str] = field(default_factory=list)
    pole: str | None = None
    data_centre: str | None = None
    publisher_name: str | None = None
    publisher_url: str | None = None
    institution: str | None = None
    bbox: tuple | None = None  # (west, south, east, north) as found
    crs: str | None = None
    time_start: str | None = None
    time_end: str | None = None  # None = ongoing
    time_resolution: str | None = None
    lat_resolution: str | None = None
    lon_resolution: str | None = None
    license: str | None = None
    doi: str | None = None
    landing_page: str | None = None
    links: list[Link] = field(default_factory=list)
    record_url: str | None = None  # where the record itself can be read (GetRecordById, collection JSON...)

    def stamp(self) -> str:
        """The record's datestamp, or a hash of its content when the server gives none."""
        if self.datestamp:
            return str(self.datestamp)
        return "sha1:" + hashlib.sha1(json.dumps(asdict(self), sort_keys=True, default=str).encode()).hexdigest()


class Skip(Exception):
    """The record cannot become an entry; the message is the reason written in the harvest report."""


def entry_name(identifier: str) -> str:
    """A Python-attribute-safe intake source name (``cat.<source>.<name>``) from a record identifier."""
    name = re.sub(r"[^a-z0-9]+", "_", identifier.lower()).strip("_")
    if not name:
        raise Skip(f"identifier {identifier!r} has no letter or digit")
    return name if name[0].isalpha() else f"r_{name}"


def strip_html(text: str) -> tuple[str, bool]:
    """Plain text of an abstract; True when there was markup or entities to remove."""
    if not text or not _HTML_HINT.search(text):
        return (text or "").strip(), False
    plain = text
    for _ in range(2):  # twice: markup escaped once (&lt;b&gt;) is markup too once unescaped
        plain = re.sub(r"(?is)<\s*(script|style)[^>]*>.*?<\s*/\s*\1\s*>", " ", plain)
        plain = html.unescape(_TAG.sub(" ", plain))
    return re.sub(r"\s+", " ", _TAG.sub(" ", plain)).replace("<", "‹").replace(">", "›").strip(), True


def iso_date(value) -> str | None:
    """'YYYY-MM-DD[...]' if ``value`` is a real ISO date, else raises ValueError."""
    text = str(value).strip()
    if not _DATE.match(text):
        raise ValueError(text)
    np.datetime64(text[:10], "D")  # rejects 2021-02-30 and friends
    return text[:10] if len(text) == 10 or "T" not in text else text[:19].rstrip("Z")


def _classify(link: Link) -> tuple[str | None, str | None]:
    """(access protocol, intake driver) for a distribution link; driver None = kept as a link only.

    The protocol the record declares wins (so `publish` -> `harvest` keeps it); a driver is chosen only where
    intake reads the URL as it is: OPeNDAP, Zarr, and NetCDF or CSV files over plain HTTP."""
    if not link.url.startswith(("http://", "https://")):
        return None, None
    proto = (link.protocol or "").lower()
    path, query = urlparse(link.url).path.lower(), urlparse(link.url).query.lower()
    declared = next((key for key, iso in ISO_PROTOCOLS.items() if proto == iso.lower()), None)
    if "wms" in proto or "service=wms" in query:
        return "wms", None
    if declared in ("erddap", "thredds", "stac", "fdsn", "api"):
        return declared, None
    if declared == "opendap" or "opendap" in proto or "/dodsc/" in path:
        return "opendap", "opendap"
    if declared == "zarr" or "zarr" in proto or path.rstrip("/").endswith(".zarr"):
        return "zarr", "zarr"
    if path.endswith((".nc", ".nc4", ".netcdf", ".h5")) or "netcdf" in proto:
        return "http", "netcdf"
    if path.endswith((".csv", ".csv.gz")) or proto == "text/csv":
        return "http", "csv"
    for word in ("erddap", "fdsn", "stac"):
        if word in proto:
            return word, None
    if declared == "http" or "download" in proto or proto.startswith("http"):
        return "http", None
    return "api", None


def intake_source(link: Link, driver: str) -> dict:
    """The driver and args, written the way the hand-made catalogues write them."""
    if driver == "opendap":
        return {"driver": "opendap", "args": {"urlpath": link.url, "engine": "pydap", "chunks": {}}}
    if driver == "netcdf":
        return {"driver": "netcdf", "args": {"urlpath": link.url, "chunks": {}, "xarray_kwargs": {"engine": "h5netcdf"}}}
    if driver == "zarr":
        return {"driver": "zarr", "args": {"urlpath": link.url, "chunks": {}}}
    if driver == "csv":
        args = {"urlpath": link.url}
        if link.url.lower().endswith(".gz"):
            args["compression"] = "gzip"
        return {"driver": "csv", "args": args}
    raise ValueError(driver)


def _access(link: Link, protocol: str) -> dict:
    out = {"protocol": protocol, "url": link.url}
    if link.format:
        out["format"] = link.format
    if link.description:
        out["note"] = link.description
    return out


def to_entry(rec: Record, source: str, pole: str, harvested_at: str) -> tuple[str, dict, list[str]]:
    """(entry name, intake source spec, notes) for a record; raises :class:`Skip` with the reason.

    Notes say what was repaired or dropped (the record is kept)."""
    notes: list[str] = []
    if not rec.identifier or not str(rec.identifier).strip():
        raise Skip("no identifier")
    ident = str(rec.identifier).strip()
    name = entry_name(ident)
    title, had_html = strip_html(rec.title or "")
    if len(title) < 3:
        raise Skip("no title")
    abstract, abstract_html = strip_html(rec.abstract or "")
    if had_html or abstract_html:
        notes.append("HTML removed from " + " and ".join(w for w, h in (("title", had_html), ("abstract", abstract_html)) if h))
    meta: dict = {"title": title, "pole": rec.pole if rec.pole in POLES else pole}
    for key in ("data_centre", "publisher_name", "institution"):
        value = getattr(rec, key)
        if value:
            meta[key] = strip_html(str(value))[0]
    if rec.publisher_url and str(rec.publisher_url).startswith(("http://", "https://")):
        meta["publisher_url"] = rec.publisher_url
    if rec.variables:
        meta["variables"] = rec.variables
    for key in ("platform", "instrument"):
        if getattr(rec, key):
            meta[key] = list(getattr(rec, key))

    # Where: WGS 84 bounding box only; anything else is dropped with a reason (the record stays, without map search).
    if rec.bbox is None:
        notes.append("no bounding box: kept, not found by a map search")
    elif rec.crs not in WGS84 and str(rec.crs).split(":")[-1] not in ("4326", "CRS84"):
        notes.append(f"unknown CRS {rec.crs!r}: bounding box dropped (only WGS 84 is indexed)")
    else:
        try:
            w, s, e, n = (float(x) for x in rec.bbox)
        except (TypeError, ValueError):
            notes.append(f"unreadable bounding box {rec.bbox!r}: dropped")
        else:
            if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= n <= 90):
                notes.append(f"bounding box {w},{s},{e},{n} out of range: dropped")
            else:
                meta.update(geospatial_lon_min=w, geospatial_lon_max=e, geospatial_lat_min=s, geospatial_lat_max=n)

    # When: ISO dates; an unreadable start drops the span, an unreadable end is reported and left open.
    if rec.time_start:
        try:
            start = iso_date(rec.time_start)
            end = iso_date(rec.time_end) if rec.time_end else None
            if end is not None and end[:10] < start[:10]:
                raise ValueError(f"{rec.time_start} > {rec.time_end}")
        except ValueError as exc:
            notes.append(f"invalid dates ({exc}): time span dropped")
        else:
            meta["time_coverage_start"], meta["time_coverage_end"] = start, end
    else:
        notes.append("no time span: kept, not found by a time search")
    for key, value in (("time_coverage_resolution", rec.time_resolution),
                       ("geospatial_lat_resolution", rec.lat_resolution),
                       ("geospatial_lon_resolution", rec.lon_resolution)):
        if value:
            meta[key] = str(value)
    if rec.license:
        meta["license"] = strip_html(rec.license)[0]
    doi = str(rec.doi or "").strip()
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", doi, flags=re.I)
    if doi and re.match(r"^10\.[0-9]{4,9}/\S+$", doi):
        meta["doi"] = doi
    elif doi:
        notes.append(f"DOI {rec.doi!r} not of the form 10.NNNN/...: dropped")
    if rec.landing_page and rec.landing_page.startswith(("http://", "https://")):
        meta["landing_page"] = rec.landing_page
    keywords = list(dict.fromkeys(strip_html(str(k))[0] for k in rec.keywords if str(k).strip()))
    meta["keywords"] = keywords or [meta["pole"]]

    # How to open it: the first link intake has a driver for becomes the source; every link is listed.
    links, spec = [], None
    for link in rec.links:
        protocol, driver = _classify(link)
        if protocol is None:
            continue
        links.append({k: v for k, v in {"url": link.url, "protocol": protocol, "name": link.name,
                                        "description": link.description}.items() if v})
        if driver and spec is None:
            spec = intake_source(link, driver)
            meta["access"] = _access(link, protocol)
        elif spec is None and "access" not in meta and protocol not in ("wms",):
            meta["access"] = _access(link, protocol)
    if links:
        meta["links"] = links
    meta["harvest"] = {"source": source, "identifier": ident, "datestamp": rec.stamp(), "harvested": harvested_at,
                       "readable": spec is not None}
    if rec.record_url:
        meta["harvest"]["record_url"] = rec.record_url
    if spec is None:
        # Still an intake source, so the entry stays searchable and opens: the record's own metadata document.
        target = rec.record_url or meta.get("landing_page") or (links[0]["url"] if links else None)
        if target is None:
            raise Skip("no distribution and no record URL: nothing to open or link to")
        spec = {"driver": "textfiles", "args": {"urlpath": target}}
        meta["harvest"]["note"] = "no distribution that intake can open; this source reads the record's metadata document"
        notes.append("no readable distribution: kept as a link-only entry")
    description = abstract or title
    if spec["driver"] == "textfiles":
        description = f"[links only: no readable distribution] {description}"
    return name, {"description": description, **spec, "metadata": meta}, notes
