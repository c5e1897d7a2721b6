"""Staging a subset of a remote gridded entry into Dataref (issue 14 part 3), against a Zarr store served over
HTTP on 127.0.0.1: provenance and checksum, idempotent, resumable after a server failing half-way, bad input in
one line with nothing published, `vre data stage|list`. Other protocols: test_stage_protocols.py."""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vre_catalog.index import CatalogIndex
from vre_catalog.stage import StageError, list_staged, stage, staged_path

from .loopback import RangeHTTPServer, no_proxy_env

ENTRY = "odatis.ocean_environment_monthly"
QUERY = {"bbox": (-10.0, 40.0, 0.0, 50.0), "start": "2001-01-01", "end": "2008-12-31", "variables": ["thetao"]}


@pytest.fixture
def served(tmp_path):
    """A 120-month cube as Zarr (one chunk per month) under a loopback HTTP server."""
    no_proxy_env()
    root = tmp_path / "www"
    rng = np.random.default_rng(5)
    ds = xr.Dataset(
        {"thetao": (("time", "latitude", "longitude"), rng.normal(12, 3, (120, 71, 61)).astype("float32")),
         "so": (("time", "latitude", "longitude"), rng.normal(35, 1, (120, 71, 61)).astype("float32"))},
        coords={"time": pd.date_range("2000-01-01", periods=120, freq="MS"),
                "latitude": np.linspace(30, 65, 71), "longitude": np.linspace(-20, 10, 61)})
    ds.chunk({"time": 1}).to_zarr(root / "cube.zarr", zarr_format=2, consolidated=True, mode="w")
    with RangeHTTPServer(root) as server:
        yield server, ds, root / "cube.zarr"


@pytest.fixture
def index(catalog_copy, served):
    server = served[0]
    odatis = catalog_copy.parent / "odatis.yaml"
    text = odatis.read_text()
    url = "https://s3.waw3-1.cloudferro.com/mdl-arco-time-025/arco/GLOBAL_MULTIYEAR_PHY_001_030/cmems_mod_glo_phy_my_0.083deg_P1D-m_202311/timeChunked.zarr"
    assert text.count(f"urlpath: {url}") == 1
    odatis.write_text(text.replace(f"urlpath: {url}", f"urlpath: {server.url}/cube.zarr"))
    return CatalogIndex.from_catalog(catalog_copy, cache=False)


def test_stage_writes_the_subset_with_provenance_and_is_idempotent(index, served, tmp_path):
    server, source, _ = served
    dataref = tmp_path / "dataref"
    store = stage(ENTRY, dataref, index=index, block_mb=0.05, log=lambda *_: None, **QUERY)
    assert store == staged_path(dataref, ENTRY) and store.exists() and not store.with_name(store.name + ".partial").exists()
    staged = xr.open_zarr(store)
    expected = source.thetao.sel(latitude=slice(40, 50), longitude=slice(-10, 0), time=slice("2001-01-01", "2008-12-31"))
    np.testing.assert_array_equal(staged.thetao.values, expected.values)
    assert list(staged.data_vars) == ["thetao"] and staged.sizes["time"] == 96
    attrs = staged.attrs
    assert attrs["sample_kind"] == "staged" and attrs["stage_source_url"] == f"{server.url}/cube.zarr"
    assert json.loads(attrs["stage_query"])["bbox"] == [-10.0, 40.0, 0.0, 50.0]
    digest = hashlib.sha256()
    for path in sorted(p for p in store.rglob("*") if p.is_file() and not p.name.startswith(".z")):
        digest.update(str(path.relative_to(store)).encode())
        digest.update(path.read_bytes())
    assert attrs["stage_checksum_sha256"] == digest.hexdigest()
    [row] = list_staged(dataref)
    assert row["entry"] == ENTRY and row["bytes"] > 0 and row["query"]["variables"] == ["thetao"]
    # Same query again: nothing is read, the copy is kept as it is.
    server.counter.reset()
    mtime = (store / ".zattrs").stat().st_mtime_ns
    said = []
    assert stage(ENTRY, dataref, index=index, log=said.append, **QUERY) == store
    assert said and "already staged" in said[0], said
    assert (store / ".zattrs").stat().st_mtime_ns == mtime and server.counter.bytes < 20_000  # metadata only


def test_server_failing_half_way_publishes_nothing_and_the_next_run_resumes(index, served, tmp_path):
    server, source, cube = served
    dataref = tmp_path / "dataref"
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    for month in range(60, 120):  # the server sends broken chunks for the second half of the months
        shutil.move(cube / "thetao" / f"{month}.0.0", hidden / f"{month}.0.0")
        (cube / "thetao" / f"{month}.0.0").write_bytes(b"502 Bad Gateway")
    messages = []
    with pytest.raises(StageError) as failed:
        stage(ENTRY, dataref, index=index, block_mb=0.05, log=messages.append, **QUERY)
    assert "\n" not in str(failed.value) and "run the same command again to resume" in str(failed.value)
    target = staged_path(dataref, ENTRY)
    assert not target.exists() and list_staged(dataref) == []
    partial_steps = xr.open_zarr(target.with_name(target.name + ".partial"), consolidated=False).sizes["time"]
    assert 0 < partial_steps < 96
    for path in hidden.iterdir():
        shutil.move(path, cube / "thetao" / path.name)  # the server is repaired
    store = stage(ENTRY, dataref, index=index, block_mb=0.05, log=messages.append, **QUERY)
    assert f"resuming at time step {partial_steps} of 96" in " ".join(messages)
    expected = source.thetao.sel(latitude=slice(40, 50), longitude=slice(-10, 0), time=slice("2001-01-01", "2008-12-31"))
    np.testing.assert_array_equal(xr.open_zarr(store).thetao.values, expected.values)


@pytest.mark.parametrize("entry,query,message", [
    ("odatis.nothing_here", {}, "unknown entry 'odatis.nothing_here'"),
    (ENTRY, {"bbox": (100.0, -10.0, 110.0, 0.0)}, "the query selects nothing"),
    (ENTRY, {"variables": ["salinity"]}, "unknown variable(s) ['salinity']"),
    ("formater.geomagnetic_field_clf", {}, "only zarr, netcdf, opendap, csv sources can be staged"),
    (ENTRY, {"bbox": (0.0, 50.0, 10.0, 40.0)}, "is empty or not west,south,east,north"),
])
def test_bad_input_is_one_line_and_creates_nothing(index, tmp_path, entry, query, message):
    dataref = tmp_path / "dataref"
    with pytest.raises(StageError) as error:
        stage(entry, dataref, index=index, log=lambda *_: None, **query)
    assert message in str(error.value) and "\n" not in str(error.value) and "; " in str(error.value)
    assert not dataref.exists() or not any(dataref.rglob("*.zarr*"))


def test_vre_data_stage_and_list(index, tmp_path, capsys, monkeypatch):
    """The `vre data` group through the `vre` command's entry point, with the CLI kit's --json, errors, exit codes."""
    from vre_hub.cli import main

    monkeypatch.setenv("VRE_CATALOG", str(index.entries[0].catalog_path))
    dataref = tmp_path / "dataref"
    assert main(["data", "stage", ENTRY, "--dataref", str(dataref), "--bbox=-10,40,0,50",
                 "--time", "2001-01-01/2001-12-31", "--variables", "thetao"]) == 0
    assert "is now the staged copy" in capsys.readouterr().out
    monkeypatch.setenv("VRE_DATAREF", str(dataref))
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert ENTRY in out and "1 staged dataset" in out
    assert main(["data", "list", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["entry"] == ENTRY and row["query"]["start"] == "2001-01-01" and row["bytes"] > 0
    for argv, message in ((["--bbox=1,2,3"], "is not W,S,E,N"), (["--time", "2001"], "is not START/END"),
                          (["--variables", "salinity"], "unknown variable(s) ['salinity']")):
        assert main(["data", "stage", ENTRY, *argv]) == 1
        err = capsys.readouterr().err
        assert message in err and err.startswith("error: ") and err.count("\n") == 1, err


def test_a_200_mb_staging_holds_about_one_block_in_memory(catalog_copy, tmp_path):
    """~200 MB over loopback HTTP, 16 MB blocks: the Python heap peak (tracemalloc, which numpy reports to)
    stays under ~2 blocks plus a fixed overhead, far below the size of the data."""
    import time
    import tracemalloc

    no_proxy_env()
    root = tmp_path / "www"
    n_time, ny, nx = 400, 250, 500  # 400 x 0.5 MB = 200 MB of float32
    lat, lon = np.linspace(30, 65, ny), np.linspace(-20, 10, nx)
    template = xr.Dataset({"thetao": (("time", "latitude", "longitude"), np.zeros((1, ny, nx), "float32"))},
                          coords={"time": pd.date_range("1990-01-01", periods=1, freq="MS"), "latitude": lat, "longitude": lon})
    rng = np.random.default_rng(1)
    times = pd.date_range("1990-01-01", periods=n_time, freq="MS")
    for i in range(0, n_time, 50):  # written in slices, so the test itself never holds 200 MB either
        part = template.reindex(time=times[i:i + 50]).copy(data={"thetao": rng.normal(12, 3, (50, ny, nx)).astype("float32")})
        part.chunk({"time": 1}).to_zarr(root / "big.zarr", zarr_format=2, mode="w" if i == 0 else "a",
                                        **({} if i == 0 else {"append_dim": "time"}))
    import zarr

    zarr.consolidate_metadata(str(root / "big.zarr"))
    odatis = catalog_copy.parent / "odatis.yaml"
    url = "https://s3.waw3-1.cloudferro.com/mdl-arco-time-025/arco/GLOBAL_MULTIYEAR_PHY_001_030/cmems_mod_glo_phy_my_0.083deg_P1D-m_202311/timeChunked.zarr"
    with RangeHTTPServer(root) as server:
        odatis.write_text(odatis.read_text().replace(f"urlpath: {url}", f"urlpath: {server.url}/big.zarr"))
        index = CatalogIndex.from_catalog(catalog_copy, cache=False)
        tracemalloc.start()
        started = time.perf_counter()
        store = stage(ENTRY, tmp_path / "dataref", index=index, block_mb=16, log=lambda *_: None)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        sent = server.counter.bytes
    size = n_time * ny * nx * 4
    print(f"\nstaged {size / 1e6:.0f} MB in {seconds:.1f} s ({size / 1e6 / seconds:.0f} MB/s), "
          f"{sent / 1e6:.0f} MB sent, peak heap {peak / 1e6:.0f} MB with 16 MB blocks")
    stored = sum(f.stat().st_size for f in (root / "big.zarr").rglob("*") if f.is_file())  # compressed chunks
    assert xr.open_zarr(store).sizes["time"] == n_time and sent >= 0.95 * stored
    assert peak < 2 * 16e6 + 40e6 and peak < size / 3
