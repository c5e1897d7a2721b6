"""`vre catalog harvest` against a real pycsw (CSW 2.0.2) on 127.0.0.1, loaded with ISO 19139 records.

The records are SYNTHETIC (written here with pygeometa, titles say so); their distributions point at files
served on 127.0.0.1, so the harvested intake sources are really opened, by plain intake in a fresh interpreter.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from lxml import etree

from vre_catalog import CatalogIndex
from vre_catalog.check import _validator as validator
from vre_catalog.cli import main as catalog_cli
from vre_catalog.harvest import HarvestError, Source, harvest
from vre_catalog.publish import iso_record

from .catalog_servers import PycswServer, StaticServer
from .loopback import no_proxy_env

NS = {"gmd": "http://www.isotc211.org/2005/gmd"}


def mcf(ident: str, title: str, *, abstract="Synthetic test record.", bbox=(-10.0, 40.0, 5.0, 50.0), crs=4326,
        begin="2001-01-01", end="2010-12-31", links=(), keywords=("synthetic", "ocean"), stamp="2024-01-01T00:00:00Z") -> dict:
    """pygeometa MCF of a synthetic record (begin None = no time span)."""
    return {
        "mcf": {"version": "1.0"},
        "metadata": {"identifier": ident, "language": "eng", "charset": "utf8", "hierarchylevel": "dataset",
                     "datestamp": stamp},
        "spatial": {"datatype": "grid", "geomtype": "surface"},
        "identification": {
            "language": "eng", "charset": "utf8", "title": title, "abstract": abstract, "dates": {"revision": stamp},
            "keywords": {"default": {"keywords": list(keywords), "keywords_type": "theme"},
                         "cf": {"keywords": ["sea_water_temperature"], "keywords_type": "theme",
                                "vocabulary": {"name": "CF Standard Name Table"}}},
            "topiccategory": ["oceans"], "status": "completed", "maintenancefrequency": "asNeeded",
            "license": {"name": "CC-BY-4.0 (synthetic test data)", "url": ""},
            "extents": {"spatial": [{"bbox": list(bbox), "crs": crs}],
                        "temporal": [{"begin": begin, "end": end}] if begin else []},
        },
        "contact": {"publisher": {"organization": "Synthetic Data Centre", "url": "https://example.org"}},
        "distribution": {f"d{i}": {"url": url, "type": proto, "name": f"link {i}", "function": "download"}
                         for i, (url, proto) in enumerate(links)},
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A NetCDF file and a CSV file on a loopback HTTP server (the records' distributions)."""
    no_proxy_env()
    root = tmp_path_factory.mktemp("files")
    xr.Dataset({"t": (("time",), np.arange(5.0))}, coords={"time": pd.date_range("2001-01-01", periods=5)}) \
        .to_netcdf(root / "t.nc", engine="h5netcdf")
    (root / "t.csv").write_text("time,t\n2001-01-01,1.5\n2001-01-02,2.5\n")
    with StaticServer(root) as srv:
        yield srv.url


def write_records(directory: Path, files_url: str, changed: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for f in directory.glob("*.xml"):
        f.unlink()
    records = {
        "syn-ocean-nc": mcf("syn-ocean-nc", "SYNTHETIC ocean temperature (NetCDF over HTTP)",
                            links=[(f"{files_url}/t.nc", "WWW:DOWNLOAD-1.0-http--download")]),
        "syn-ocean-csv": mcf("syn-ocean-csv", "SYNTHETIC ocean temperature (CSV)",
                             links=[(f"{files_url}/t.csv", "WWW:DOWNLOAD-1.0-http--download")]),
        "syn-ocean-dap": mcf("syn-ocean-dap", "SYNTHETIC ocean temperature (OPeNDAP)",
                             links=[("http://127.0.0.1:9/thredds/dodsC/t.nc", "OPeNDAP:OPeNDAP"),
                                    ("http://127.0.0.1:9/wms?service=WMS&request=GetCapabilities", "OGC:WMS")]),
        "syn-wms-only": mcf("syn-wms-only", "SYNTHETIC map layer (WMS only)",
                            links=[("http://127.0.0.1:9/wms?service=WMS&request=GetCapabilities", "OGC:WMS-1.3.0-http-get-map")]),
        # Bad records: every one is kept or skipped with a reason, none crashes the harvest.
        "syn-no-bbox": mcf("syn-no-bbox", "SYNTHETIC record without a bounding box"),
        "syn-bad-dates": mcf("syn-bad-dates", "SYNTHETIC record with invalid dates", begin="2019-02-30", end="2018-13-01"),
        "syn-lambert": mcf("syn-lambert", "SYNTHETIC record in Lambert-93", bbox=(100000, 6000000, 1200000, 7100000), crs=2154),
        "syn-html": mcf("syn-html", "SYNTHETIC record with HTML in its abstract",
                        abstract='<p>Sea <b>temperature</b> &amp; salinity</p><script>alert("x")</script><img src=x onerror=alert(1)>'),
        "SYN-DUP": mcf("SYN-DUP", "SYNTHETIC duplicate A"),
        "syn_dup": mcf("syn_dup", "SYNTHETIC duplicate B (same entry name as A)"),
    }
    for i in (1, 2, 3):
        records[f"syn-land-0{i}"] = mcf(f"syn-land-0{i}", f"SYNTHETIC land record {i}", keywords=("synthetic", "land"))
    for ident, record in {**records, **(changed or {})}.items():
        xml = iso_record(record)
        if ident == "syn-no-bbox":  # pygeometa always writes an extent: remove it, as records in the wild lack one
            root = etree.fromstring(xml.encode())
            for node in root.findall(".//gmd:geographicElement", NS):
                node.getparent().remove(node)
            xml = etree.tostring(root, encoding="unicode")
        (directory / f"{ident}.xml").write_text(xml, encoding="utf-8")
    return directory


@pytest.fixture
def csw(tmp_path, files):
    with PycswServer(tmp_path / "pycsw", write_records(tmp_path / "records", files)) as srv:
        yield srv


def source(srv, **options) -> Source:
    return Source(name="sextant", protocol="csw", url=srv.url, pole="odatis", rate_limit=0,
                  options={"page_size": 4, **options})


def test_harvest_iso_records_into_a_catalogue_plain_intake_opens(csw, tmp_path, files):
    out = tmp_path / "harvested"
    report = harvest(source(csw), out)
    assert csw.loaded == 13
    entries = yaml.safe_load((out / "sextant.yaml").read_text())["sources"]
    assert set(report.kept) == set(entries)
    # 13 records, 1 skipped (the duplicate), every kept entry valid against the project's schema
    assert len(entries) == 12 and len(report.skipped) == 1
    errors = [f"{n}: {e.message}" for n, spec in entries.items() for e in validator().iter_errors(spec["metadata"])]
    assert errors == []

    nc, csv, dap, wms = (entries[n] for n in ("syn_ocean_nc", "syn_ocean_csv", "syn_ocean_dap", "syn_wms_only"))
    assert (nc["driver"], csv["driver"], dap["driver"]) == ("netcdf", "csv", "opendap")
    assert dap["metadata"]["links"][1]["protocol"] == "wms"  # a WMS link is kept as a link
    assert wms["driver"] == "textfiles" and wms["metadata"]["harvest"]["readable"] is False
    assert wms["description"].startswith("[links only: no readable distribution]")
    assert nc["metadata"]["variables"] == [{"name": "sea_water_temperature", "standard_name": "sea_water_temperature"}]
    assert nc["metadata"]["geospatial_lon_min"] == -10.0 and nc["metadata"]["time_coverage_end"] == "2010-12-31"
    assert nc["metadata"]["publisher_name"] == "Synthetic Data Centre"

    script = textwrap.dedent(f"""
        import json, sys, intake
        cat = intake.open_catalog({str(out / 'catalog.yaml')!r})
        src = cat.sextant
        out = {{"names": sorted(src), "nc": src.syn_ocean_nc.read()["t"].values.tolist(),
               "csv": src.syn_ocean_csv.read()["t"].tolist(),
               "record": "".join(src.syn_wms_only.read()),
               "leaked": sorted(m for m in sys.modules if m.startswith("vre"))}}
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["names"] == sorted(entries)
    assert got["nc"] == [0.0, 1.0, 2.0, 3.0, 4.0] and got["csv"] == [1.5, 2.5]
    assert "syn-wms-only" in got["record"]  # the link-only entry opens the record's own ISO document
    assert got["leaked"] == []

    # The search index and `vre catalog search` read the harvested root like the curated one.
    idx = CatalogIndex.from_catalog(out / "catalog.yaml", cache=False)
    assert len(idx) == 12 and idx.facet_counts()["pole"] == {"odatis": 12}
    assert idx.search("lambert").ids == ["sextant.syn_lambert"]
    assert idx["sextant.syn_ocean_csv"].open()["t"].tolist() == [1.5, 2.5]


def test_bad_records_are_kept_or_skipped_with_a_reason(csw, tmp_path):
    out = tmp_path / "harvested"
    report = harvest(source(csw), out)
    entries = yaml.safe_load((out / "sextant.yaml").read_text())["sources"]
    notes = report.kept
    assert any("no bounding box" in n for n in notes["syn_no_bbox"])
    assert "geospatial_lon_min" not in entries["syn_no_bbox"]["metadata"]
    assert any("invalid dates" in n for n in notes["syn_bad_dates"])
    assert "time_coverage_start" not in entries["syn_bad_dates"]["metadata"]
    assert any("unknown CRS" in n and "2154" in n for n in notes["syn_lambert"])
    assert "geospatial_lon_min" not in entries["syn_lambert"]["metadata"]
    assert any("HTML removed from abstract" in n for n in notes["syn_html"])
    html = entries["syn_html"]
    assert "<" not in html["description"] and "script" not in html["description"]
    assert html["description"].endswith("] Sea temperature & salinity")  # no distribution: links-only prefix
    (ident, reason), = report.skipped
    assert ident == "syn_dup" and "duplicate identifier" in reason and "SYN-DUP" in reason
    saved = json.loads((out / ".harvest" / "sextant.report.json").read_text())
    assert saved["skipped"] == [["syn_dup", reason]] and saved["kept"]["syn_lambert"] == notes["syn_lambert"]


def test_paging_constraint_and_dublin_core(csw, tmp_path):
    land = harvest(source(csw, constraint="land", page_size=2), tmp_path / "iso")
    assert sorted(land.kept) == ["syn_land_01", "syn_land_02", "syn_land_03"]
    assert land.requests == 2  # 3 matches in pages of 2
    dc = harvest(source(csw, schema="dc", page_size=5), tmp_path / "dc")
    assert len(dc.kept) == 12 and dc.requests == 3
    entries = yaml.safe_load((tmp_path / "dc" / "sextant.yaml").read_text())["sources"]
    assert entries["syn_ocean_csv"]["driver"] == "csv"
    assert entries["syn_ocean_nc"]["metadata"]["geospatial_lat_max"] == 50.0


def test_rate_limit(csw, tmp_path):
    t0 = time.perf_counter()
    report = harvest(Source("sextant", "csw", csw.url, "odatis", rate_limit=4, options={"page_size": 2}), tmp_path / "o")
    elapsed = time.perf_counter() - t0
    assert report.requests == 7  # 13 records in pages of 2
    assert elapsed >= (report.requests - 1) / 4


def test_incremental_reharvest_touches_only_changed_records(csw, tmp_path, files):
    out = tmp_path / "harvested"
    harvest(source(csw), out)
    before = yaml.safe_load((out / "sextant.yaml").read_text())["sources"]
    changed = mcf("syn-land-02", "SYNTHETIC land record 2, revised", keywords=("synthetic", "land", "revised"),
                  stamp="2025-06-01T00:00:00Z")
    csw.load(write_records(tmp_path / "records", files, {"syn-land-02": changed}))
    time.sleep(1.1)  # a different harvest time stamp, so rewritten entries would show it
    report = harvest(source(csw), out)
    after = yaml.safe_load((out / "sextant.yaml").read_text())["sources"]
    assert report.changed == ["syn_land_02"]
    assert len(report.unchanged) == 11 and report.removed == []
    assert after["syn_land_02"]["metadata"]["title"] == "SYNTHETIC land record 2, revised"
    assert after["syn_land_02"]["metadata"]["harvest"]["harvested"] != before["syn_land_02"]["metadata"]["harvest"]["harvested"]
    for name in before:
        if name != "syn_land_02":
            assert after[name] == before[name], name  # untouched, down to the harvest time stamp


def test_server_failing_half_way_keeps_the_previous_catalogue_and_resumes(csw, tmp_path, files, capsys):
    out = tmp_path / "harvested"
    harvest(source(csw), out)
    previous = (out / "sextant.yaml").read_bytes()
    csw.load(write_records(tmp_path / "records", files, {
        "syn-land-03": mcf("syn-land-03", "SYNTHETIC land record 3, revised", stamp="2025-07-01T00:00:00Z")}))
    csw.fail_from(9)  # pages of 4: records 1-8 arrive, the page starting at record 9 fails
    with pytest.raises(HarvestError) as err:
        harvest(source(csw), out)
    message = str(err.value)
    assert "\n" not in message and "after 8 records" in message and "left unchanged (12 entries)" in message
    assert "resume at record 9" in message
    assert (out / "sextant.yaml").read_bytes() == previous
    assert not list(out.glob(".sextant.yaml.*"))  # no temporary file left behind

    sources = tmp_path / "sources.yaml"
    sources.write_text(yaml.safe_dump({"sources": {"sextant": {"protocol": "csw", "url": csw.url, "pole": "odatis",
                                                                "page_size": 4, "rate_limit": 0}}}))
    capsys.readouterr()
    assert catalog_cli(["harvest", "sextant", "--sources", str(sources), "--out", str(out)]) == 1
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and err_lines[0].startswith("error: sextant: harvest stopped after 8 records")
    assert (out / "sextant.yaml").read_bytes() == previous

    csw.fail_from(None)  # the server is back: the next run starts at record 9, not at record 1
    assert catalog_cli(["harvest", "sextant", "--sources", str(sources), "--out", str(out)]) == 0
    report = json.loads((out / ".harvest" / "sextant.report.json").read_text())
    assert report["resumed_from"] == 8 and report["requests"] == 2  # records 9-12, then 13
    entries = yaml.safe_load((out / "sextant.yaml").read_text())["sources"]
    assert len(entries) == 12 and entries["syn_land_03"]["metadata"]["title"] == "SYNTHETIC land record 3, revised"
    assert not (out / ".harvest" / "sextant.partial.json").exists()


def test_unknown_source_and_bad_sources_file_say_what_to_fix(tmp_path, capsys):
    assert catalog_cli(["harvest", "nowhere", "--out", str(tmp_path)]) == 2
    assert "unknown source nowhere; the sources are sextant" in capsys.readouterr().err
    bad = tmp_path / "s.yaml"
    bad.write_text("sources:\n  x: {protocol: ftp, url: 'ftp://a', pole: odatis}\n")
    assert catalog_cli(["harvest", "x", "--sources", str(bad), "--out", str(tmp_path)]) == 2
    assert "protocol must be one of csw, stac, opensearch, not 'ftp'" in capsys.readouterr().err
    assert list(tmp_path.glob("*.yaml")) == [bad]  # nothing written


def test_shipped_sources_file_is_valid():
    """The production sources (never contacted by the tests): one per pole catalogue, each readable."""
    from vre_catalog.harvest import load_sources

    sources = load_sources()
    assert sources["sextant"].url == "https://sextant.ifremer.fr/geonetwork/srv/eng/csw"
    assert {s.pole for s in sources.values()} == {"odatis", "aeris", "theia", "formater"}
    assert {s.protocol for s in sources.values()} == {"csw", "stac", "opensearch"}
