"""`vre data stage` over the other protocols, against real servers on 127.0.0.1 (issue 14 part 3):

- ERDDAP tabledap CSV and FDSN event text from ``TableService`` (stage_servers.py: a protocol stand-in that
  speaks their query syntax and formats), the region and period asked of the server;
- OPeNDAP from pydap's own server, subset by index ranges on the server side.

Each: the staged copy holds exactly what the service holds for the query (computed apart), provenance in the
attributes, idempotent; a server failing half-way gives one line and nothing visible, and the next run resumes.
Then the catalogue: once staged, plain intake (our packages not importable) opens the staged copy by default.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vre_catalog.index import CatalogIndex
from vre_catalog.stage import StageError, list_staged, stage, staged_path

from .loopback import no_proxy_env
from .stage_servers import ERDDAP_PATH, FDSN_PATH, FailingOpendap, TableService, expected, point_remote

ARGO, QUAKES, CMIP = "odatis.argo_profiles", "formater.earthquake_catalogue_france", "aeris.cmip6_ipsl_tas_monthly"
N, STEP = 40_000, 3600  # rows of the table services: one an hour from 2000-01-01 (4.6 years)


@pytest.fixture
def tables(tmp_path, catalog_copy):
    no_proxy_env()
    with TableService(tmp_path / "tables", n=N, step_s=STEP) as server:
        point_remote(catalog_copy, ARGO,
                     f"{server.url}{ERDDAP_PATH}?platform_number,time,latitude,longitude,pres,temp&time%3E=2000-01-01T00:00:00Z")
        point_remote(catalog_copy, QUAKES,
                     f"{server.url}{FDSN_PATH}?starttime=2000-01-01&minmagnitude=1.5&format=text")
        yield server, CatalogIndex.from_catalog(catalog_copy, cache=False)


def _quiet(*_):
    pass


def test_erddap_csv_subset_provenance_idempotent(tables, tmp_path):
    server, index = tables
    dataref = tmp_path / "dataref"
    query = {"bbox": (-10.0, 40.0, 0.0, 50.0), "start": "2000-03-01", "end": "2001-06-30"}
    store = stage(ARGO, dataref, index=index, block_mb=0.1, log=_quiet, **query)
    staged = xr.open_zarr(store).to_dataframe()
    truth = expected(N, STEP, "2000-03-01", "2001-06-30T23:59:59", query["bbox"])
    assert len(staged) == len(truth) > 500
    np.testing.assert_array_equal(staged["time"].to_numpy(), truth["time"].to_numpy().astype("datetime64[ns]"))
    np.testing.assert_allclose(staged["temp"], truth["temp"], atol=0.005)
    assert (staged["platform_number"].astype(str) == (6900000 + truth["i"] % 500).astype(str).to_numpy()).all()
    attrs = xr.open_zarr(store).attrs
    url = attrs["stage_source_url"]
    assert url.startswith(f"{server.url}{ERDDAP_PATH}?") and "time%3E=2000-03-01" in url and "latitude%3C=50.0" in url
    assert len(attrs["stage_checksum_sha256"]) == 64 and attrs["sample_kind"] == "staged" and "stage_rows" not in attrs
    # The region was asked of the server: it sent about the subset, not the 4.6 years of the whole world.
    assert server.counter["bytes"] < 0.05 * N * 60
    server.counter["bytes"] = 0
    said = []
    assert stage(ARGO, dataref, index=index, log=said.append, **query) == store
    assert "already staged" in said[0] and server.counter["bytes"] == 0


def test_erddap_failing_half_way_publishes_nothing_and_resumes(tables, tmp_path):
    server, index = tables
    dataref = tmp_path / "dataref"
    server.fail_after(600_000)
    with pytest.raises(StageError) as failed:
        stage(ARGO, dataref, index=index, block_mb=0.1, log=_quiet, start="2000-01-01", end="2003-12-31")
    message = str(failed.value)
    assert "\n" not in message and "nothing was published; run the same command again to resume" in message
    target = staged_path(dataref, ARGO)
    assert not target.exists() and list_staged(dataref) == []
    done = xr.open_zarr(target.with_name(target.name + ".partial"), consolidated=False).sizes["row"]
    assert 0 < done
    server.fail_after(None)
    said = []
    store = stage(ARGO, dataref, index=index, block_mb=0.1, log=said.append, start="2000-01-01", end="2003-12-31")
    assert any(f"resuming after {done} rows" in line for line in said), said
    staged = xr.open_zarr(store).to_dataframe()
    truth = expected(N, STEP, "2000-01-01", "2003-12-31T23:59:59")
    assert len(staged) == len(truth)  # no row twice, none missing
    np.testing.assert_array_equal(staged["time"].to_numpy(), truth["time"].to_numpy().astype("datetime64[ns]"))


def test_fdsn_text_subset_and_empty_answer(tables, tmp_path):
    server, index = tables
    dataref = tmp_path / "dataref"
    bbox = (-5.0, 41.0, 10.0, 51.0)
    store = stage(QUAKES, dataref, index=index, block_mb=0.05, log=_quiet, bbox=bbox, start="2001-01-01", end="2001-12-31",
                  variables=["Magnitude", "Depth/km"])
    staged = xr.open_zarr(store).to_dataframe()
    truth = expected(N, STEP, "2001-01-01", "2001-12-31T23:59:59", bbox)
    assert len(staged) == len(truth) > 100
    assert set(staged.columns) == {"Time", "Latitude", "Longitude", "Magnitude", "Depth_km"}
    np.testing.assert_allclose(staged["Magnitude"], truth["mag"], atol=0.05)
    assert "minlatitude=41.0" in xr.open_zarr(store).attrs["stage_source_url"]
    # Nothing there: the service answers 204; one line, nothing created.
    with pytest.raises(StageError) as empty:
        stage(QUAKES, tmp_path / "other", index=index, log=_quiet, bbox=bbox, start="1990-01-01", end="1990-12-31")
    assert "the query selects nothing" in str(empty.value) and not (tmp_path / "other" / "formater").exists() or \
        not any((tmp_path / "other" / "formater").iterdir())


@pytest.fixture
def opendap(tmp_path, catalog_copy):
    """pydap serving a 120-month NetCDF cube; ``fail_after`` data requests makes it answer 500."""
    no_proxy_env()
    root = tmp_path / "dap"
    root.mkdir()
    rng = np.random.default_rng(8)
    cube = xr.Dataset({"tas": (("time", "lat", "lon"), rng.normal(280, 8, (120, 73, 96)).astype("float32"))},
                      coords={"time": pd.date_range("1990-01-01", periods=120, freq="MS"),
                              "lat": np.linspace(-90, 90, 73), "lon": np.linspace(-180, 176.25, 96)})
    cube.to_netcdf(root / "tas.nc", engine="h5netcdf")
    with FailingOpendap(root) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydap's DAP2-vs-DAP4 advice
        point_remote(catalog_copy, CMIP, f"{server.url}/tas.nc")
        yield server, cube, CatalogIndex.from_catalog(catalog_copy, cache=False)


def test_opendap_subset_by_index_ranges_on_the_server_and_resume(opendap, tmp_path):
    server, cube, index = opendap
    dataref = tmp_path / "dataref"
    query = {"bbox": (-10.0, 35.0, 30.0, 70.0), "start": "1995-01-01", "end": "1998-12-31", "variables": ["tas"]}
    truth = cube.tas.sel(lat=slice(35, 70), lon=slice(-10, 30), time=slice("1995-01-01", "1998-12-31"))
    server.fail_after(8)  # a few blocks (after the coordinates), then 500s
    with pytest.raises(StageError) as failed:
        stage(CMIP, dataref, index=index, block_mb=0.002, log=_quiet, **query)
    assert "\n" not in str(failed.value) and "run the same command again to resume" in str(failed.value)
    assert list_staged(dataref) == []
    server.fail_after(None)
    server.counter.reset()
    said = []
    store = stage(CMIP, dataref, index=index, block_mb=0.002, log=said.append, **query)
    assert any("resuming at time step" in line for line in said), said
    np.testing.assert_allclose(xr.open_zarr(store).tas.values, truth.values)
    # Only the region travelled: the DAP responses of the resumed run are a fraction of the file.
    assert server.counter.bytes < 0.2 * cube.nbytes
    assert xr.open_zarr(store).attrs["stage_source_url"] == f"{server.url}/tas.nc"


def test_plain_intake_opens_the_staged_copy_by_default(tables, tmp_path, catalog_copy, monkeypatch):
    """After staging, `cat.odatis.argo_profiles` is the staged copy for plain intake in a fresh interpreter where our
    packages cannot be imported (the editable-install finder removed, checked); `_remote` still names the service."""
    server, index = tables
    dataref = tmp_path / "dataref"
    store = stage(ARGO, dataref, index=index, block_mb=0.1, log=_quiet, bbox=(-10.0, 40.0, 0.0, 50.0),
                  start="2000-03-01", end="2000-12-31")
    rows = xr.open_zarr(store).sizes["row"]
    script = textwrap.dedent(f"""
        import importlib.util, json, sys
        sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
        sys.path[:] = [p for p in sys.path if "__editable__" not in p]
        hidden = [m for m in ("vre_catalog", "vre_core", "vre_widgets") if importlib.util.find_spec(m) is not None]
        import intake
        cat = intake.open_catalog({str(catalog_copy)!r})
        ds = cat.odatis.argo_profiles.read()
        remote = cat.odatis.argo_profiles_remote
        print(json.dumps({{"hidden": hidden, "rows": ds.sizes["row"], "kind": ds.attrs.get("sample_kind"),
                          "remote": remote.describe()["args"]["urlpath"],
                          "leaked": sorted(m for m in sys.modules if m.startswith("vre"))}}))
    """)
    env = {"PATH": "/usr/bin:/bin", "VRE_DATAREF": str(dataref), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["hidden"] == [] and out["leaked"] == []
    assert out["rows"] == rows and out["kind"] == "staged"
    assert out["remote"].startswith(f"{server.url}{ERDDAP_PATH}")
    # Our index sees it too: the badge says staged; the catalogue still checks (schema, the staged copy opens)
    # and counts it as staged.
    entry = CatalogIndex.from_catalog(catalog_copy, cache=False)[ARGO]
    assert entry.sample_kind == "staged" and entry.metadata["sample"]["staged"]["was"] == "synthetic"
    from vre_catalog.check import check_catalog, sample_counts

    monkeypatch.setenv("VRE_DATAREF", str(dataref))
    assert check_catalog(catalog_copy, open_samples=True) == []
    assert sample_counts(catalog_copy)["odatis"]["staged"] == 1
    monkeypatch.setenv("VRE_DATAREF", str(tmp_path / "elsewhere"))
    [problem] = check_catalog(catalog_copy, open_samples=False)
    assert "staged copy" in str(problem) and "set VRE_DATAREF" in str(problem)
