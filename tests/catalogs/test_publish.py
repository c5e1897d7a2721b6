"""`vre catalog publish` -> a real pycsw on 127.0.0.1 -> `vre catalog harvest` keeps every field of the schema.

The curated catalogue (42 entries) is published as ISO 19139 (pygeometa) and as a static STAC catalogue (pystac);
pycsw loads the ISO files like any GeoNetwork harvester would, OWSLib reads them back.
"""
from __future__ import annotations

import json

import pytest
import yaml
from lxml import etree

from vre_catalog.check import schema
from vre_catalog.cli import main as catalog_cli
from vre_catalog.harvest import Source, harvest
from vre_catalog.harvest.records import entry_name
from vre_catalog.publish import ID_PREFIX, curated_entries

from .catalog_servers import PycswServer, StaticServer
from .loopback import no_proxy_env

NOT_PUBLISHED = {"sample"}  # the VRE's offline file: meaningless outside the VRE
HARVEST_ONLY = {"harvest", "links"}  # written by harvest, never in curated entries


@pytest.fixture(scope="module")
def published(tmp_path_factory, catalog_path):
    out = tmp_path_factory.mktemp("published")
    assert catalog_cli(["--catalog", str(catalog_path), "publish", "--out", str(out)]) == 0
    return out


def test_publish_writes_iso_and_stac(published, catalog_path):
    curated = list(curated_entries(catalog_path))
    files = sorted((published / "iso19139").glob("*.xml"))
    assert len(files) == len(curated) == 42
    ns = {"gmd": "http://www.isotc211.org/2005/gmd", "gco": "http://www.isotc211.org/2005/gco"}
    doc = etree.parse(str(published / "iso19139" / f"{ID_PREFIX}odatis.argo_profiles.xml"))
    assert doc.findtext(".//gmd:fileIdentifier/gco:CharacterString", namespaces=ns) == f"{ID_PREFIX}odatis.argo_profiles"
    for name in doc.iterfind(".//gmd:MD_Format/gmd:name", ns):  # valid ISO: the format name is a CharacterString
        assert name.find("gco:CharacterString", ns) is not None
    root = json.loads((published / "stac" / "catalog.json").read_text())
    assert root["type"] == "Catalog" and len([l for l in root["links"] if l["rel"] == "child"]) == 42


def test_round_trip_publish_pycsw_harvest_keeps_every_schema_field(published, catalog_path, tmp_path):
    with PycswServer(tmp_path / "pycsw", published / "iso19139") as csw:
        assert csw.loaded == 42
        report = harvest(Source("vre", "csw", csw.url, "odatis", rate_limit=0, options={"page_size": 10}), tmp_path / "h")
    harvested = yaml.safe_load((tmp_path / "h" / "vre.yaml").read_text())["sources"]
    assert len(harvested) == 42 and report.skipped == []
    fields = set(schema()["properties"]) - NOT_PUBLISHED - HARVEST_ONLY
    compared, lost = set(), []
    for ident, meta, description, _ in curated_entries(catalog_path):
        entry = harvested[entry_name(ID_PREFIX + ident)]
        got = entry["metadata"]
        assert got["harvest"]["identifier"] == ID_PREFIX + ident
        for key in fields & set(meta):
            compared.add(key)
            if got.get(key) != meta[key]:
                lost.append((ident, key, meta[key], got.get(key)))
        assert entry["description"].endswith(" ".join(description.split()))
    assert lost == []
    assert compared == fields  # every field of the schema was present somewhere and came back equal


def test_stac_round_trip_keeps_the_discovery_fields(published, catalog_path, tmp_path):
    no_proxy_env()
    with StaticServer(published) as srv:
        harvest(Source("vre_stac", "stac", f"{srv.url}/stac/catalog.json", "odatis", rate_limit=0), tmp_path / "h")
    harvested = yaml.safe_load((tmp_path / "h" / "vre_stac.yaml").read_text())["sources"]
    keys = ("title", "pole", "keywords", "license", "doi", "publisher_name", "publisher_url", "data_centre",
            "institution", "platform", "instrument", "geospatial_lon_min", "geospatial_lat_max", "landing_page")
    lost = []
    for ident, meta, _, _ in curated_entries(catalog_path):
        got = harvested[entry_name(ID_PREFIX + ident)]["metadata"]
        lost += [(ident, k, meta.get(k), got.get(k)) for k in keys if meta.get(k) != got.get(k)]
        assert [v["name"] for v in got["variables"]] == [v["name"] for v in meta["variables"]]
        assert got["time_coverage_start"][:10] == meta["time_coverage_start"]
    assert lost == []
