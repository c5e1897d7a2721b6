"""STAC: a STAC API (pystac-client; THEIA / Hydroweb.next) or a static STAC catalogue (pystac).

Collections become entries; with ``items: true`` in the source, items too (``<collection>/<item>`` ids).
Every HTTP read goes through the harvest's rate limit (a pystac StacIO subclass).
"""
from __future__ import annotations

from .records import Link, Record

PROVIDER_ROLES = {"host": "data_centre", "producer": "institution", "licensor": "publisher"}  # `publish` writes the same


def _static_io(throttle, timeout: float):
    """pystac's StacIO for static catalogues, every HTTP read through the rate limit."""
    from pystac.stac_io import DefaultStacIO

    class ThrottledStacIO(DefaultStacIO):
        def read_text_from_href(self, href: str) -> str:
            if href.startswith(("http://", "https://")):
                import requests

                throttle.wait()
                resp = requests.get(href, timeout=timeout, headers=self.headers)
                resp.raise_for_status()
                return resp.text
            return super().read_text_from_href(href)

    return ThrottledStacIO()


def _api_io(throttle, timeout: float):
    """pystac-client's StacApiIO (API pages), every request through the rate limit."""
    from pystac_client.stac_api_io import StacApiIO

    class ThrottledStacApiIO(StacApiIO):
        def request(self, href, *args, **kwargs):
            throttle.wait()
            return super().request(href, *args, **kwargs)

    return ThrottledStacApiIO(timeout=timeout)


def _walk(source, throttle, timeout):
    """Collections (and items when asked) of the API or static catalogue at ``source.url``."""
    import pystac

    root = pystac.Catalog.from_file(source.url, stac_io=_static_io(throttle, timeout))
    with_items = bool(source.options.get("items"))
    if root.extra_fields.get("conformsTo"):  # a STAC API: paged /collections and /search
        from pystac_client import Client

        client = Client.open(source.url, stac_io=_api_io(throttle, timeout))
        for coll in client.get_collections():
            yield coll
            if with_items:
                yield from client.search(collections=[coll.id], max_items=source.options.get("max_items")).items()
        return
    for coll in root.get_all_collections():
        yield coll
        if with_items:
            yield from coll.get_items()


def read(source, start: int, throttle, timeout: float):
    position = 0
    limit = source.options.get("max_records")
    for obj in _walk(source, throttle, timeout):
        if position >= start:
            yield position, from_stac(obj)
        position += 1
        if limit and position >= int(limit):
            return


def from_stac(obj) -> Record:
    import pystac

    fields = obj.extra_fields
    is_item = isinstance(obj, pystac.Item)
    rec = Record(identifier=f"{obj.collection_id}/{obj.id}" if is_item and obj.collection_id else obj.id,
                 record_url=obj.get_self_href())
    if is_item:
        props = obj.properties
        rec.title = props.get("title") or obj.id
        rec.abstract = props.get("description") or ""
        rec.datestamp = props.get("updated")
        rec.bbox = tuple(obj.bbox) if obj.bbox else None
        rec.time_start = props.get("start_datetime") or props.get("datetime")
        rec.time_end = props.get("end_datetime") or props.get("datetime")
        rec.keywords = list(props.get("keywords") or [])
        rec.license = props.get("license")
        rec.platform = [props["platform"]] if props.get("platform") else []
        rec.instrument = list(props.get("instruments") or [])
        rec.doi = props.get("sci:doi")
        variables = props.get("cube:variables") or {}
    else:
        rec.title = obj.title or obj.id
        rec.abstract = obj.description or ""
        rec.datestamp = fields.get("updated")
        rec.keywords = list(obj.keywords or [])
        # SPDX id, else the text `publish` keeps in vre:license, else the title of the license link (below)
        rec.license = fields.get("vre:license") or (obj.license if obj.license not in ("other", "proprietary") else None)
        rec.pole = fields.get("vre:pole")
        bboxes = obj.extent.spatial.bboxes if obj.extent and obj.extent.spatial else []
        rec.bbox = tuple(bboxes[0][:4]) if bboxes and len(bboxes[0]) == 4 else (
            (bboxes[0][0], bboxes[0][1], bboxes[0][3], bboxes[0][4]) if bboxes and len(bboxes[0]) == 6 else None)
        intervals = obj.extent.temporal.intervals if obj.extent and obj.extent.temporal else []
        if intervals:
            start, end = intervals[0]
            rec.time_start = start.isoformat() if start else None
            rec.time_end = end.isoformat() if end else None
        summaries = obj.summaries.to_dict() if obj.summaries else {}
        rec.platform = list(summaries.get("platform") or [])
        rec.instrument = list(summaries.get("instruments") or [])
        rec.doi = fields.get("sci:doi")
        variables = fields.get("cube:variables") or {}
        for provider in obj.providers or []:
            for role in provider.roles or []:
                key = PROVIDER_ROLES.get(role)
                if key == "publisher" and not rec.publisher_name:
                    rec.publisher_name, rec.publisher_url = provider.name, provider.url
                elif key and key != "publisher" and not getattr(rec, key):
                    setattr(rec, key, provider.name)
    rec.variables = [{"name": name, "standard_name": (v or {}).get("standard_name"), "units": (v or {}).get("unit"),
                      "long_name": (v or {}).get("description")} for name, v in variables.items()]
    rec.variables = [{k: val for k, val in v.items() if val} for v in rec.variables]
    for link in obj.links:
        if link.rel in ("about", "describedby") and not rec.landing_page:
            rec.landing_page = link.href
        elif link.rel == "cite-as" and not rec.doi:
            rec.doi = link.href
        elif link.rel == "license" and not rec.license:
            rec.license = link.title or link.href
    for key, asset in (obj.assets or {}).items():
        rec.links.append(Link(asset.href, asset.media_type or "", key, asset.description or asset.title or ""))
    return rec
