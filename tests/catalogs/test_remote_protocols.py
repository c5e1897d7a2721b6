"""The remote protocols of the production entries, exercised for real against loopback servers.

Each test takes the driver and arguments of a production ``*_remote`` source from the repository catalogue,
swaps only the host for a server on 127.0.0.1, opens it with plain intake, reads a small subset lazily and
compares the bytes the server sent with the size of the file.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import intake
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from vre_catalog.layout import read_tree

from .loopback import OpendapServer, RangeHTTPServer, no_proxy_env


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A ~19 MB chunked NetCDF cube, the same cube as Zarr, an ERDDAP-style CSV and an OBIS-style JSON."""
    no_proxy_env()
    root = tmp_path_factory.mktemp("remote")
    rng = np.random.default_rng(3)
    ds = xr.Dataset(
        {"thetao": (("time", "latitude", "longitude"), rng.normal(12, 3, (120, 200, 200)).astype("float32"))},
        coords={"time": pd.date_range("2000-01-01", periods=120, freq="MS"),
                "latitude": np.linspace(30, 65, 200), "longitude": np.linspace(-20, 10, 200)},
    )
    ds.thetao.attrs = {"units": "degC", "standard_name": "sea_water_potential_temperature"}
    ds.to_netcdf(root / "cube.nc", engine="h5netcdf", encoding={"thetao": {"chunksizes": (1, 200, 200)}})
    ds.chunk({"time": 1}).to_zarr(root / "cube.zarr", zarr_format=2, consolidated=True, mode="w")
    (root / "ArgoFloats.csv").write_text(
        "platform_number,cycle_number,time,latitude,longitude,pres,temp,psal\n"
        ",,UTC,degrees_north,degrees_east,decibar,degree_Celsius,PSU\n"
        "6902746,1,2019-01-03T10:00:00Z,45.1,-20.2,5.0,14.1,35.9\n"
        "6902746,1,2019-01-03T10:00:00Z,45.1,-20.2,10.0,14.0,35.9\n"
    )
    (root / "occurrence").write_text(json.dumps({"total": 2, "results": [
        {"scientificName": "Gadus morhua", "decimalLongitude": -4.1, "decimalLatitude": 56.2, "eventDate": "2001-05-02"},
        {"scientificName": "Gadus morhua", "decimalLongitude": 2.5, "decimalLatitude": 57.9, "eventDate": "2003-07-11"},
    ]}))
    return root


def production_source(catalog_path, pole: str, name: str) -> dict:
    for p in read_tree(catalog_path).poles:
        if p.pole == pole:
            return p.sources[name]
    raise KeyError(pole)


def loopback_catalog(tmp_path, catalog_path, pole, name, url) -> intake.catalog.Catalog:
    """The production source with only its URL changed, in a catalogue of its own."""
    spec = production_source(catalog_path, pole, name)
    assert spec["args"]["urlpath"].startswith(("http://", "https://"))
    local = {"driver": spec["driver"], "args": {**spec["args"], "urlpath": url}, "metadata": {"from": f"{pole}.{name}"}}
    path = tmp_path / "loopback.yaml"
    path.write_text(yaml.safe_dump({"sources": {name: local}}))
    return intake.open_catalog(str(path))[name]


def test_netcdf_over_http_byte_ranges_reads_only_the_subset(tmp_path, catalog_path, data_dir):
    size = (data_dir / "cube.nc").stat().st_size
    with RangeHTTPServer(data_dir) as server:
        source = loopback_catalog(tmp_path, catalog_path, "theia", "soil_moisture_daily_remote", f"{server.url}/cube.nc")
        ds = source.to_dask()
        assert hasattr(ds.thetao.data, "dask")  # lazy
        opened = server.counter.bytes
        subset = ds.thetao.isel(time=7).sel(latitude=slice(40, 45)).load()
        sent = server.counter.bytes
    expected = xr.open_dataset(data_dir / "cube.nc", engine="h5netcdf").thetao.isel(time=7).sel(latitude=slice(40, 45))
    np.testing.assert_array_equal(subset.values, expected.values)
    print(f"\nNetCDF over HTTP: opened with {opened} B, subset read with {sent} B of a {size} B file ({sent / size:.1%})")
    assert opened < 0.05 * size
    assert sent < 0.10 * size


def test_zarr_over_http_reads_only_the_chunks_needed(tmp_path, catalog_path, data_dir):
    size = sum(f.stat().st_size for f in (data_dir / "cube.zarr").rglob("*") if f.is_file())
    with RangeHTTPServer(data_dir) as server:
        source = loopback_catalog(tmp_path, catalog_path, "odatis", "ocean_environment_monthly_remote", f"{server.url}/cube.zarr")
        ds = source.to_dask()
        assert hasattr(ds.thetao.data, "dask")
        subset = ds.thetao.isel(time=[3, 4]).sel(longitude=slice(-5, 0)).load()
        sent = server.counter.bytes
    assert subset.shape[0] == 2 and float(subset.mean()) == pytest.approx(12, abs=0.2)
    print(f"\nZarr over HTTP: {sent} B of {size} B ({sent / size:.1%})")
    assert sent < 0.05 * size


def test_opendap_reads_only_the_constrained_subset(tmp_path, catalog_path, data_dir):
    size = (data_dir / "cube.nc").stat().st_size
    with OpendapServer(data_dir) as server, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydap's DAP2-vs-DAP4 advice
        source = loopback_catalog(tmp_path, catalog_path, "odatis", "bathymetry_remote", f"{server.url}/cube.nc")
        ds = source.to_dask()
        assert hasattr(ds.thetao.data, "dask")
        subset = ds.thetao.isel(time=11).sel(latitude=slice(50, 55), longitude=slice(-10, -5)).load()
        sent = server.counter.bytes
    expected = xr.open_dataset(data_dir / "cube.nc", engine="h5netcdf").thetao.isel(time=11).sel(latitude=slice(50, 55), longitude=slice(-10, -5))
    np.testing.assert_allclose(subset.values, expected.values)
    print(f"\nOPeNDAP: {sent} B sent for a {size} B file ({sent / size:.1%})")
    assert sent < 0.05 * size


def test_erddap_tabledap_csv_through_the_production_csv_arguments(tmp_path, catalog_path, data_dir):
    with RangeHTTPServer(data_dir) as server:
        url = f"{server.url}/ArgoFloats.csv?platform_number,time,pres,temp&time%3E=2019-01-01T00:00:00Z"
        df = loopback_catalog(tmp_path, catalog_path, "odatis", "argo_profiles_remote", url).read()
    assert list(df.columns) == ["platform_number", "cycle_number", "time", "latitude", "longitude", "pres", "temp", "psal"]
    assert len(df) == 2 and df["platform_number"].iloc[0] == "6902746"  # units row skipped, id kept as text
    assert str(df["time"].dtype).startswith("datetime64")


def test_json_api_with_a_query_string(tmp_path, catalog_path, data_dir):
    with RangeHTTPServer(data_dir) as server:
        url = f"{server.url}/occurrence?scientificname=Gadus%20morhua&size=5000"
        out = loopback_catalog(tmp_path, catalog_path, "odatis", "species_occurrences_remote", url).read()
    assert out["total"] == 2 and out["results"][0]["scientificName"] == "Gadus morhua"
