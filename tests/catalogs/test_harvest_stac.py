"""`vre catalog harvest` of a static STAC catalogue (written here with pystac, SYNTHETIC collections) served by
an HTTP server on 127.0.0.1, and of OpenSearch (resto-shaped GeoJSON and Atom pages served the same way)."""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pystac
import pytest
import xarray as xr
import yaml

from vre_catalog.check import _validator as validator
from vre_catalog.harvest import Source, harvest

from .catalog_servers import StaticServer
from .loopback import no_proxy_env

UTC = dt.timezone.utc


def collection(ident, title, *, description="Synthetic test collection.", bbox=(-5.0, 42.0, 8.0, 51.0),
               updated="2024-01-01T00:00:00Z", asset=None) -> pystac.Collection:
    coll = pystac.Collection(
        id=ident, title=title, description=description, license="CC-BY-4.0", keywords=["synthetic", "lakes"],
        extent=pystac.Extent(pystac.SpatialExtent([list(bbox)]),
                             pystac.TemporalExtent([[dt.datetime(2002, 1, 1, tzinfo=UTC), None]])),
        providers=[pystac.Provider("Synthetic Hydrology Centre", roles=["host"]),
                   pystac.Provider("Synthetic Publisher", roles=["licensor"], url="https://example.org")],
        extra_fields={"updated": updated, "cube:variables": {"water_level": {"type": "data", "unit": "m",
                                                                               "description": "Lake water level"}}})
    if asset:
        coll.add_asset("data", pystac.Asset(asset, media_type="application/x-netcdf", roles=["data"]))
    return coll


def write_stac(root: Path, files_url: str, lake_title="SYNTHETIC lake levels") -> Path:
    cat = pystac.Catalog("synthetic-root", "SYNTHETIC test catalogue")
    lakes, rivers = pystac.Catalog("lakes", "lakes"), pystac.Catalog("rivers", "rivers")
    cat.add_children([lakes, rivers])
    lake = collection("lake-levels", lake_title, asset=f"{files_url}/level.nc",
                      updated="2024-01-01T00:00:00Z" if lake_title == "SYNTHETIC lake levels" else "2025-03-01T00:00:00Z")
    lake.add_item(pystac.Item("lake-leman", {"type": "Point", "coordinates": [6.5, 46.4]}, [6.5, 46.4, 6.5, 46.4],
                              dt.datetime(2020, 5, 1, tzinfo=UTC), {"title": "SYNTHETIC Lake Geneva level"}))
    lakes.add_child(lake)
    lakes.add_child(collection("html-abstract", "SYNTHETIC collection with HTML",
                               description="<h1>Rivers</h1> &lt;b&gt; <a href='javascript:alert(1)'>click</a>"))
    rivers.add_child(collection("bad-bbox", "SYNTHETIC collection with a bbox out of range", bbox=(-200.0, 42.0, 8.0, 51.0)))
    rivers.add_child(collection("lake-levels", "SYNTHETIC duplicate of lake-levels"))
    cat.normalize_hrefs(str(root))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


@pytest.fixture
def stac(tmp_path):
    no_proxy_env()
    root = tmp_path / "www"
    root.mkdir()
    xr.Dataset({"water_level": (("time",), np.array([372.1, 372.3]))}).to_netcdf(root / "level.nc", engine="h5netcdf")
    with StaticServer(root) as srv:
        write_stac(root / "stac", srv.url)
        srv.stac_url = f"{srv.url}/stac/catalog.json"
        yield srv


def test_static_stac_collections(stac, tmp_path):
    out = tmp_path / "harvested"
    report = harvest(Source("hydroweb", "stac", stac.stac_url, "theia", rate_limit=0), out)
    entries = yaml.safe_load((out / "hydroweb.yaml").read_text())["sources"]
    assert sorted(entries) == ["bad_bbox", "html_abstract", "lake_levels"]
    assert report.skipped == [("lake-levels", "duplicate identifier (already harvested as lake_levels)")]
    assert any("out of range" in n for n in report.kept["bad_bbox"])
    assert "<" not in entries["html_abstract"]["description"] and "javascript" not in entries["html_abstract"]["description"]
    lake = entries["lake_levels"]
    assert lake["driver"] == "netcdf"
    m = lake["metadata"]
    assert (m["data_centre"], m["publisher_name"], m["publisher_url"]) == ("Synthetic Hydrology Centre", "Synthetic Publisher", "https://example.org")
    assert m["variables"] == [{"name": "water_level", "units": "m", "long_name": "Lake water level"}]
    assert m["time_coverage_start"].startswith("2002-01-01") and m["time_coverage_end"] is None
    assert [e.message for spec in entries.values() for e in validator().iter_errors(spec["metadata"])] == []
    script = textwrap.dedent(f"""
        import intake, json
        cat = intake.open_catalog({str(out / 'catalog.yaml')!r})
        print(json.dumps(cat.hydroweb.lake_levels.read()["water_level"].values.tolist()))
    """)
    proc = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [372.1, 372.3]


def test_stac_items_rate_limit_and_incremental(stac, tmp_path):
    out = tmp_path / "harvested"
    src = Source("hydroweb", "stac", stac.stac_url, "theia", rate_limit=10, options={"items": True})
    t0 = time.perf_counter()
    first = harvest(src, out)
    assert "lake_levels_lake_leman" in first.kept  # '<collection>/<item>' ids
    assert time.perf_counter() - t0 >= (first.requests - 1) / 10
    write_stac(tmp_path / "www" / "stac",
               stac.url, lake_title="SYNTHETIC lake levels, revised")
    second = harvest(src, out)
    assert second.changed == ["lake_levels"]
    assert sorted(second.unchanged) == ["bad_bbox", "html_abstract", "lake_levels_lake_leman"]


def test_opensearch_geojson_and_atom(tmp_path):
    """resto answers OpenSearch queries with GeoJSON (or Atom); the pages here are static files of that shape."""
    no_proxy_env()
    www = tmp_path / "www"
    www.mkdir()
    features = [{"type": "Feature", "id": f"SYN-S2-{i}", "bbox": [1.0, 43.0, 2.0, 44.0],
                 "geometry": {"type": "Polygon", "coordinates": [[[1, 43], [2, 43], [2, 44], [1, 44], [1, 43]]]},
                 "properties": {"title": f"SYNTHETIC Sentinel-2 tile {i}", "description": "Synthetic <i>test</i> product",
                                "startDate": "2021-06-01T10:00:00Z", "completionDate": "2021-06-01T10:00:10Z",
                                "updated": "2021-06-02T00:00:00Z", "platform": "SENTINEL2A", "instrument": "MSI",
                                "keywords": [{"name": "synthetic"}, {"name": "reflectance"}],
                                "services": {"download": {"url": f"http://127.0.0.1:9/S2-{i}.zip", "mimeType": "application/zip"}}}}
                for i in range(3)]
    (www / "search.json").write_text(json.dumps({"type": "FeatureCollection", "features": features,
                                                 "properties": {"totalResults": 3}}))
    (www / "search.atom").write_text(textwrap.dedent("""\
        <feed xmlns="http://www.w3.org/2005/Atom" xmlns:georss="http://www.georss.org/georss"
              xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:os="http://a9.com/-/spec/opensearch/1.1/">
          <os:totalResults>1</os:totalResults>
          <entry><id>SYN-ATOM-1</id><title>SYNTHETIC Atom product</title><updated>2021-01-01T00:00:00Z</updated>
            <summary>Synthetic</summary><dc:date>2020-01-01/2020-12-31</dc:date><georss:box>43 1 44 2</georss:box>
            <link rel="enclosure" type="text/csv" href="http://127.0.0.1:9/a.csv"/></entry>
        </feed>"""))
    with StaticServer(www) as srv:
        geo = harvest(Source("resto", "opensearch", f"{srv.url}/search.json", "theia", rate_limit=0), tmp_path / "o")
        atom = harvest(Source("resto_atom", "opensearch", f"{srv.url}/search.atom", "theia", rate_limit=0,
                              options={"format": "atom"}), tmp_path / "o")
    entries = yaml.safe_load((tmp_path / "o" / "resto.yaml").read_text())["sources"]
    assert sorted(entries) == ["syn_s2_0", "syn_s2_1", "syn_s2_2"] and geo.requests == 1
    m = entries["syn_s2_0"]["metadata"]
    assert (m["geospatial_lon_min"], m["platform"], m["instrument"]) == (1.0, ["SENTINEL2A"], ["MSI"])
    assert entries["syn_s2_0"]["description"].endswith("Synthetic test product")
    a = yaml.safe_load((tmp_path / "o" / "resto_atom.yaml").read_text())["sources"]["syn_atom_1"]
    assert a["driver"] == "csv" and a["metadata"]["time_coverage_end"] == "2020-12-31"
    assert a["metadata"]["geospatial_lat_max"] == 44.0 and atom.requests == 1
    root = yaml.safe_load((tmp_path / "o" / "catalog.yaml").read_text())["sources"]
    assert sorted(root) == ["resto", "resto_atom"]


def test_stac_api_collections_through_pystac_client(tmp_path):
    """The STAC API path (pystac-client, /collections paging).  The landing page and the /collections page are
    static JSON files of the shape a STAC API returns (what Hydroweb.next answers), served on 127.0.0.1."""
    no_proxy_env()
    api = tmp_path / "www" / "api"
    api.mkdir(parents=True)
    with StaticServer(tmp_path / "www") as srv:
        base = f"{srv.url}/api"
        root = {"type": "Catalog", "stac_version": "1.0.0", "id": "synthetic-api", "description": "SYNTHETIC API",
                "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/collections"],
                "links": [{"rel": "self", "href": f"{base}/root.json"}, {"rel": "root", "href": f"{base}/root.json"},
                          {"rel": "data", "href": f"{base}/collections.json", "type": "application/json"}]}
        colls = []
        for i in range(3):
            coll = collection(f"api-coll-{i}", f"SYNTHETIC API collection {i}", asset=f"{srv.url}/level{i}.zarr")
            coll.set_self_href(f"{base}/collections/api-coll-{i}")
            colls.append(coll.to_dict())
        (api / "root.json").write_text(json.dumps(root))
        (api / "collections.json").write_text(json.dumps({"collections": colls, "links": []}))
        report = harvest(Source("hydroweb", "stac", f"{base}/root.json", "theia", rate_limit=0), tmp_path / "o")
    entries = yaml.safe_load((tmp_path / "o" / "hydroweb.yaml").read_text())["sources"]
    assert sorted(entries) == ["api_coll_0", "api_coll_1", "api_coll_2"] and report.skipped == []
    assert entries["api_coll_1"]["driver"] == "zarr"
    assert entries["api_coll_1"]["metadata"]["harvest"]["record_url"] == f"{base}/collections/api-coll-1"
    assert report.requests == 3  # landing page (pystac), landing page (pystac-client), one /collections page
