"""Samples: every one opens non-empty through intake with the metadata's variables and units; the synthetic
ones carry the properties the workshop notebooks rely on (gradients, seasons, trend, a known niche)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from vre_catalog.layout import read_tree
from vre_catalog.generators import odatis
from vre_catalog.samples import build, load_registry


def _entries(catalog_path):
    return [(p.pole, name) for p in read_tree(catalog_path).poles for name in p.sources if not name.endswith("_remote")]


def test_every_sample_opens_with_its_variables_and_units(index):
    assert len(index) >= 32
    for entry in index:
        obj = entry.open()
        if isinstance(obj, xr.Dataset):
            assert obj.sizes and all(obj[v].size for v in obj.data_vars), entry.id
            for var in entry.variables:
                assert var["name"] in obj.variables, (entry.id, var["name"])
                if "units" in obj[var["name"]].attrs:
                    assert obj[var["name"]].attrs["units"] == var["units"], (entry.id, var["name"])
        else:
            assert isinstance(obj, pd.DataFrame) and len(obj) > 0, entry.id
            for var in entry.variables:
                assert var["name"] in obj.columns, (entry.id, var["name"])


def test_every_catalogue_sample_has_a_registered_generator(index):
    registry = load_registry()
    for entry in index:
        sample = entry.metadata["sample"]
        spec = registry[sample["file"].removeprefix("samples/")]
        assert spec.generator == sample["generator"], entry.id
        assert spec.kind == sample["kind"] and spec.seed == sample["seed"], entry.id


def test_generation_is_reproducible_from_the_seed():
    spec = load_registry()["odatis/sst_coastal_daily.csv"]
    pd.testing.assert_frame_equal(build(spec), build(spec))


def test_ocean_environment_has_gradient_seasons_and_warming(index):
    ds = index["odatis.ocean_environment_monthly"].open()
    assert ds.sizes["time"] >= 360 and float(ds.latitude.min()) <= 30 and float(ds.latitude.max()) >= 65
    assert ds.thetao.attrs["units"] == "degC" and ds.so.attrs["units"] == "1e-3"
    t = ds.thetao
    south = float(t.sel(latitude=slice(30, 35)).mean())
    north = float(t.sel(latitude=slice(58, 65)).mean())
    assert south - north > 8  # latitudinal gradient
    monthly = t.sel(latitude=slice(45, 50)).groupby("time.month").mean(...)
    assert float(monthly.sel(month=8) - monthly.sel(month=2)) > 2  # seasonal cycle
    yearly = t.mean(["latitude", "longitude"]).groupby("time.year").mean()
    slope = np.polyfit(yearly.year, yearly.values, 1)[0]
    assert 0.015 < slope < 0.045  # warming trend, degC per year
    bathy = index["odatis.bathymetry"].open()
    assert np.array_equal(bathy.latitude, ds.latitude) and np.array_equal(bathy.longitude, ds.longitude)
    assert np.array_equal(np.isnan(bathy.depth.values), np.isnan(ds.thetao.isel(time=0).values))  # same land mask


def test_virtual_species_sits_in_its_known_niche(index):
    occ = index["odatis.species_occurrences"].open()
    niche = index["odatis.species_occurrences"].metadata["sample"]["true_niche"]
    assert {"lon", "lat", "time", "presence"} <= set(occ.columns)
    assert niche["temperature_optimum_degC"] == odatis.TRUE_NICHE["temperature_optimum_degC"]
    env = index["odatis.ocean_environment_monthly"].open()
    pres = occ[occ.presence == 1]
    back = occ[occ.presence == 0]
    assert len(pres) == niche["presences"] and len(back) == niche["background_points"]
    t_at = env.thetao.sel(latitude=xr.DataArray(pres.lat.values), longitude=xr.DataArray(pres.lon.values),
                          time=xr.DataArray(pres.time.values), method="nearest")
    t_back = env.thetao.sel(latitude=xr.DataArray(back.lat.values), longitude=xr.DataArray(back.lon.values),
                            time=xr.DataArray(back.time.values), method="nearest")
    assert abs(float(t_at.mean()) - niche["temperature_optimum_degC"]) < 1.0
    assert float(t_at.std()) < float(t_back.std())  # presences concentrate inside the niche


def test_coastal_sst_contains_the_injected_heatwaves(index):
    entry = index["odatis.sst_coastal_daily"]
    sst = entry.open().set_index("time")["sst"]
    assert sst.index.min().year <= 1982 and sst.index.max().year >= 2022
    clim = sst.groupby(sst.index.day_of_year).mean()
    anomaly = sst - clim.reindex(sst.index.day_of_year).to_numpy()
    for event in entry.metadata["sample"]["injected_heatwaves"]:
        start = pd.Timestamp(event["start"])
        window = anomaly[start:start + pd.Timedelta(days=event["days"] - 1)]
        assert window.max() > 0.6 * event["peak_anomaly_degC"], event


@pytest.mark.parametrize("entry_id", ["aeris.co2_mauna_loa_weekly", "odatis.enso_sst_nino12"])
def test_real_samples_match_their_package_data(index, entry_id):
    df = index[entry_id].open()
    if entry_id.endswith("co2_mauna_loa_weekly"):
        from statsmodels.datasets import co2

        ref = co2.load_pandas().data["co2"]
        assert np.allclose(df["co2"].to_numpy(), ref.to_numpy(), equal_nan=True)
        assert df["time"].iloc[0] == pd.Timestamp("1958-03-29")
    else:
        from statsmodels.datasets import elnino

        ref = elnino.load_pandas().data
        assert df["sst"].iloc[0] == ref.loc[0, "JAN"] and len(df) == 12 * len(ref)


def test_gnss_sample_velocity_matches_its_recorded_truth(index):
    entry = index["formater.gnss_displacement_daily"]
    df = entry.open()
    years = (df.time - df.time.iloc[0]).dt.days / 365.25
    truth = entry.metadata["sample"]["truth"]
    assert abs(np.polyfit(years, df.east * 1000, 1)[0] - truth["velocity_east_mm_per_yr"]) < 0.5
    assert abs(np.polyfit(years, df.north * 1000, 1)[0] - truth["velocity_north_mm_per_yr"]) < 0.5
