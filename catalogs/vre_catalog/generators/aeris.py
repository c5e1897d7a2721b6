"""AERIS (atmosphere) samples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..samples import sample
from ._common import annual, ar1, coord_attrs, package_file, synthetic_attrs


@sample("aeris/co2_mauna_loa_weekly.csv", kind="real")
def co2_mauna_loa_weekly(rng):
    """Real: statsmodels ships the Scripps weekly Mauna Loa CO2 record (statsmodels/datasets/co2/co2.csv)."""
    from statsmodels.datasets import co2

    df = co2.load_pandas().data
    return pd.DataFrame({"time": df.index.strftime("%Y-%m-%d"), "co2": df["co2"].to_numpy()})


@sample("aeris/southern_oscillation_index_monthly.csv", kind="real")
def southern_oscillation_index_monthly(rng):
    """Real: the Darwin-based Southern Oscillation Index 1866-2013 (NCAR CGD), shipped by iris-sample-data."""
    with xr.open_dataset(package_file("iris-sample-data", "iris_sample_data/sample_data/SOI_Darwin.nc")) as src:
        soi = src["SOI_Darwin"].load()
    return pd.DataFrame({"time": soi.time.dt.strftime("%Y-%m-%d").values, "soi": soi.values.round(3)})


@sample("aeris/seattle_weather_daily.csv", kind="real")
def seattle_weather_daily(rng):
    """Real: NOAA daily weather at Seattle (Sea-Tac) 2012-2015, shipped by vega_datasets."""
    df = pd.read_csv(package_file("vega_datasets", "vega_datasets/_data/seattle-weather.csv"))
    return pd.DataFrame({"time": pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d"), "pr": df["precipitation"],
                         "tasmax": df["temp_max"], "tasmin": df["temp_min"], "wind": df["wind"], "weather": df["weather"]})


@sample("aeris/air_quality_paris_hourly.csv", seed=75)
def air_quality_paris_hourly(rng):
    """Urban background station: NO2 with rush hours and winter maxima, O3 with summer afternoons, PM."""
    time = pd.date_range("2019-01-01", "2022-12-31 23:00", freq="h")
    hour = time.hour.to_numpy()
    weekend = time.dayofweek.to_numpy() >= 5
    winter = annual(time, 15)
    rush = np.exp(-0.5 * ((hour - 8) / 1.5) ** 2) + 0.9 * np.exp(-0.5 * ((hour - 19) / 2.0) ** 2)
    lockdown = np.asarray((time >= "2020-03-17") & (time < "2020-05-11"))  # traffic fell, NO2 with it
    no2 = (28 + 8 * winter + 22 * rush * np.where(weekend, 0.5, 1.0)) * np.where(lockdown, 0.55, 1.0)
    no2 = np.clip(no2 * np.exp(ar1(rng, time.size, 0.95, 0.08)), 1, None)
    sun = np.clip(np.sin(np.pi * (hour - 6) / 14), 0, None)
    o3 = np.clip(35 - 10 * winter + 45 * sun * (1 - 0.5 * winter) - 0.3 * (no2 - 28) + ar1(rng, time.size, 0.95, 2.5), 0, None)
    pm10 = np.clip((18 + 6 * winter) * np.exp(ar1(rng, time.size, 0.98, 0.06)), 2, None)
    pm25 = np.clip(pm10 * (0.62 + 0.05 * winter) + rng.normal(0, 1.0, time.size), 1, None)
    return pd.DataFrame({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "no2": no2.round(1), "o3": o3.round(1),
                         "pm10": pm10.round(1), "pm25": pm25.round(1)})


@sample("aeris/aerosol_optical_depth_palaiseau.csv", seed=91)
def aerosol_optical_depth_palaiseau(rng):
    """Daily AOD at 500 nm and Angstrom exponent; cloudy days are missing, as in AERONET."""
    time = pd.date_range("2010-01-01", "2022-12-31", freq="D")
    log_aod = np.log(0.11) + 0.35 * annual(time, 170) + ar1(rng, time.size, 0.7, 0.35)
    dust = rng.random(time.size) < 0.02  # Saharan dust days: high AOD, low Angstrom
    aod = np.exp(log_aod) + np.where(dust, rng.uniform(0.3, 0.9, time.size), 0)
    angstrom = np.clip(1.45 - np.where(dust, 1.1, 0) + 0.15 * rng.standard_normal(time.size), -0.1, 2.4)
    clear = rng.random(time.size) < 0.45 + 0.25 * annual(time, 190)
    return pd.DataFrame({"time": time[clear].strftime("%Y-%m-%d"), "aod_500": aod[clear].round(4),
                         "angstrom_440_870": angstrom[clear].round(3)})


@sample("aeris/surface_meteorology_essonne_daily.csv", seed=91000)
def surface_meteorology_essonne_daily(rng):
    """Daily Tn/Tx, precipitation and mean wind at a station in Essonne (SIRTA area)."""
    time = pd.date_range("1990-01-01", "2022-12-31", freq="D")
    years = (time.year - 1990).to_numpy()
    base = 11.6 + 7.5 * annual(time, 200) + 0.045 * years + ar1(rng, time.size, 0.8, 1.7)
    tx = base + 5.0 + 1.5 * annual(time, 190) + rng.normal(0, 1.2, time.size)
    tn = base - 4.5 + rng.normal(0, 1.2, time.size)
    wet = rng.random(time.size) < 0.45 + 0.08 * annual(time, 330)
    rr = np.where(wet, rng.gamma(0.8, 4.0, time.size), 0.0)
    ffm = np.clip(3.4 + 0.7 * annual(time, 20) + rng.gamma(2.0, 0.5, time.size) - 1.0, 0.3, None)
    return pd.DataFrame({"time": time.strftime("%Y-%m-%d"), "tn": tn.round(1), "tx": tx.round(1),
                         "rr": rr.round(1), "ffm": ffm.round(1)})


def _global_monthly(rng, start, end, level, growth, accel, amp, peak_month, noise):
    time = pd.date_range(start, end, freq="MS") + pd.Timedelta(days=14)
    years = (time.year - time.year[0] + (time.month - 0.5) / 12).to_numpy()
    value = level + growth * years + accel * years**2 + amp * np.cos(2 * np.pi * (time.month.to_numpy() - peak_month) / 12)
    return time, value + ar1(rng, time.size, 0.6, noise)


@sample("aeris/methane_global_monthly.csv", seed=1983)
def methane_global_monthly(rng):
    time, ch4 = _global_monthly(rng, "1983-07-01", "2022-12-01", 1626, 9.0, -0.05, 8, 11, 1.5)
    ch4 += np.where(time.year >= 2007, 5.0 * (time.year - 2007 + time.month / 12), 0)  # the post-2007 renewed growth
    return pd.DataFrame({"time": time.strftime("%Y-%m-%d"), "ch4": ch4.round(2)})


@sample("aeris/n2o_global_monthly.csv", seed=2001)
def n2o_global_monthly(rng):
    time, n2o = _global_monthly(rng, "2001-01-01", "2022-12-01", 316.3, 0.8, 0.006, 0.3, 8, 0.1)
    return pd.DataFrame({"time": time.strftime("%Y-%m-%d"), "n2o": n2o.round(2)})


@sample("aeris/global_temperature_anomaly.csv", seed=1880)
def global_temperature_anomaly(rng):
    time = pd.date_range("1880-01-01", "2022-12-01", freq="MS") + pd.Timedelta(days=14)
    years = (time.year + (time.month - 0.5) / 12).to_numpy()
    forced = -0.25 + 0.0 * years + np.where(years > 1970, 0.019 * (years - 1970), 0.0) + 0.12 * np.tanh((years - 1930) / 15)
    anomaly = forced + ar1(rng, time.size, 0.85, 0.07)
    return pd.DataFrame({"time": time.strftime("%Y-%m-%d"), "tas_anomaly": anomaly.round(3)})


@sample("aeris/cmip6_ipsl_tas_monthly.nc", seed=6)
def cmip6_ipsl_tas_monthly(rng):
    """Monthly near-surface air temperature over Europe on a 2.5 degree grid, 1950-2014."""
    lon = np.arange(-10.0, 40.1, 2.5)
    lat = np.arange(35.0, 70.1, 2.5)
    time = pd.date_range("1950-01-01", "2014-12-01", freq="MS") + pd.Timedelta(days=14)
    lon2d, lat2d = np.meshgrid(lon, lat)
    month = time.month.to_numpy()[:, None, None]
    years = (time.year - 1950).to_numpy()[:, None, None]
    continental = np.clip((lon2d + 10) / 50, 0, 1)  # larger seasonal cycle inland
    tas = (288.5 - 0.55 * (lat2d - 35) + (6 + 8 * continental + 0.1 * (lat2d - 35)) * np.cos(2 * np.pi * (month - 7.2) / 12)
           + np.where(years > 25, 0.025 * (years - 25), 0) + ar1(rng, time.size, 0.5, 0.6)[:, None, None]
           + 0.8 * rng.standard_normal((time.size,) + lon2d.shape))
    ds = xr.Dataset({"tas": (("time", "latitude", "longitude"), tas.astype("float32"))},
                    coords={"time": time, "latitude": lat, "longitude": lon})
    ds["tas"].attrs = {"standard_name": "air_temperature", "units": "K", "long_name": "Near-surface air temperature"}
    coord_attrs(ds)
    ds.attrs = synthetic_attrs("Synthetic monthly near-surface air temperature, Europe, 1950-2014",
                               "vre_catalog.generators.aeris:cmip6_ipsl_tas_monthly", 6)
    return ds
