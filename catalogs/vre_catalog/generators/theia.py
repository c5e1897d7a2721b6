"""THEIA (land surfaces) samples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..samples import sample
from ._common import annual, ar1, coord_attrs, package_file, synthetic_attrs

# OSO nomenclature since 2018 (CESBIO), codes 1-23.
OSO_CLASSES = [
    "continuous urban fabric", "discontinuous urban fabric", "industrial and commercial units", "road surfaces",
    "rapeseed", "straw cereals", "protein crops", "soy", "sunflower", "maize", "rice", "tubers and roots",
    "meadows", "orchards", "vineyards", "broad-leaved forest", "coniferous forest", "natural grasslands",
    "woody moorlands", "natural mineral surfaces", "beaches and dunes", "glaciers and eternal snow", "water",
]


def _smooth_field(rng, shape, scale):
    """Gaussian-blurred white noise (separable box blur x3), for plausible patches."""
    field = rng.standard_normal(shape)
    for axis in (0, 1):
        for _ in range(3):
            kernel = np.ones(scale) / scale
            field = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, field)
    return (field - field.mean()) / field.std()


@sample("theia/nile_flow_aswan_annual.csv", kind="real")
def nile_flow_aswan_annual(rng):
    """Real: annual Nile flow at Aswan 1871-1970 (Cobb 1978), shipped by statsmodels (datasets/nile/nile.csv)."""
    from statsmodels.datasets import nile

    df = nile.load_pandas().data
    return pd.DataFrame({"time": df["year"].astype(int).astype(str) + "-07-01", "volume": df["volume"].astype(float)})


@sample("theia/wageningen_weather_daily.csv", kind="real")
def wageningen_weather_daily(rng):
    """Real: daily weather at Wageningen (Haarweg) 1976-1999 in CABO format, shipped by pcse."""
    frames = []
    for year in range(1976, 2000):
        path = package_file("pcse", f"pcse/tests/test_data/NL1.{year % 1000:03d}")
        rows = [line.split() for line in path.read_text(encoding="latin-1").splitlines()
                if line.strip() and not line.lstrip().startswith("*")][1:]  # first line: lon lat alt A B
        frames.append(pd.DataFrame([r[:9] for r in rows], dtype=float,
                                   columns=["station", "year", "doy", "rsds", "tasmin", "tasmax", "vap", "wind", "pr"]))
    df = pd.concat(frames)
    # A quality-flag record (station -999, or all 1s in 1989) precedes some days: keep the measured record.
    df = df[df["station"] > 0].drop_duplicates(["year", "doy"], keep="last").replace(-99.0, np.nan)
    time = pd.to_datetime(df["year"].astype(int).astype(str), format="%Y") + pd.to_timedelta(df["doy"] - 1, unit="D")
    return pd.DataFrame({"time": time.dt.strftime("%Y-%m-%d").to_numpy(), "rsds": df["rsds"].to_numpy(),
                         "tasmin": df["tasmin"].to_numpy(), "tasmax": df["tasmax"].to_numpy(),
                         "vap": df["vap"].to_numpy(), "wind": df["wind"].to_numpy(), "pr": df["pr"].to_numpy()})


@sample("theia/bradypus_presence_background.csv", kind="real")
def bradypus_presence_background(rng):
    """Real: brown-throated sloth presences and background points with 14 climate/terrain covariates
    (Phillips et al. 2006), shipped by elapid (elapid/data/bradypus.csv.gz)."""
    df = pd.read_csv(package_file("elapid", "elapid/data/bradypus.csv.gz"))
    df["presence"] = df["presence"].astype(int)
    return df


@sample("theia/snow_cover_pyrenees_daily.csv", seed=2000)
def snow_cover_pyrenees_daily(rng):
    """Daily snow-covered fraction of a Pyrenean catchment; cloudy days missing as in optical products."""
    time = pd.date_range("2000-02-24", "2022-12-31", freq="D")
    years = (time.year - 2000).to_numpy()
    winter = annual(time, 45)
    fsc = 0.45 + 0.55 * winter - 0.004 * years + ar1(rng, time.size, 0.97, 0.03)
    fsc = np.clip(fsc, 0.0, 1.0)
    clear = rng.random(time.size) > 0.35 + 0.15 * winter
    return pd.DataFrame({"time": time[clear].strftime("%Y-%m-%d"), "snow_cover_fraction": fsc[clear].round(3)})


@sample("theia/land_cover_oso.zarr", seed=31)
def land_cover_oso(rng):
    """A 23-class OSO-like land cover map around Toulouse at 0.01 degree."""
    lat = np.round(np.arange(43.2, 44.0, 0.01), 3)
    lon = np.round(np.arange(0.9, 2.0, 0.01), 3)
    lon2d, lat2d = np.meshgrid(lon, lat)
    town = np.exp(-(((lon2d - 1.44) / 0.08) ** 2 + ((lat2d - 43.6) / 0.06) ** 2))
    crops = np.argmax(np.stack([_smooth_field(rng, lon2d.shape, 6) for _ in range(8)]), axis=0) + 5  # classes 5..12
    natural = _smooth_field(rng, lon2d.shape, 12)
    cover = crops.copy()
    cover = np.where(natural > 0.9, 16, cover)
    cover = np.where(natural > 1.6, 17, cover)
    cover = np.where((natural < -1.2) & (natural > -1.5), 13, cover)
    cover = np.where(town > 0.2, 2, cover)
    cover = np.where(town > 0.6, 1, cover)
    cover = np.where((town > 0.35) & (rng.random(lon2d.shape) < 0.2), 3, cover)
    river = np.abs(lat2d - (43.6 + 0.35 * (lon2d - 1.44) - 0.1 * np.sin(8 * lon2d))) < 0.006  # a Garonne-like river
    cover = np.where(river, 23, cover).astype("uint8")
    ds = xr.Dataset({"land_cover": (("latitude", "longitude"), cover)}, coords={"latitude": lat, "longitude": lon})
    ds["land_cover"].attrs = {
        "units": "1", "long_name": "OSO land cover class",
        "flag_values": list(range(1, 24)), "flag_meanings": " ".join(c.replace(" ", "_") for c in OSO_CLASSES),
    }
    coord_attrs(ds)
    ds.attrs = synthetic_attrs("Synthetic OSO-like land cover around Toulouse", "vre_catalog.generators.theia:land_cover_oso", 31)
    return ds


@sample("theia/soil_moisture_daily.nc", seed=2020)
def soil_moisture_daily(rng):
    """Daily surface soil moisture over France at 0.25 degree for 2020, wetter in winter and in the west."""
    lat = np.arange(41.5, 51.5, 0.25)
    lon = np.arange(-5.0, 9.9, 0.25)
    time = pd.date_range("2020-01-01", "2020-12-31", freq="D")
    lon2d, lat2d = np.meshgrid(lon, lat)
    season = annual(time, 30)[:, None, None]
    oceanic = np.clip((5 - lon2d) / 10, 0, 1)
    rain = ar1(rng, time.size, 0.85, 0.02)[:, None, None]
    sm = 0.22 + 0.08 * season + 0.05 * oceanic - 0.04 * np.clip((45 - lat2d) / 4, 0, 1) + rain
    sm = np.clip(sm + 0.02 * rng.standard_normal((time.size,) + lon2d.shape), 0.02, 0.5)
    gaps = rng.random(sm.shape) < 0.2
    ds = xr.Dataset({"sm": (("time", "latitude", "longitude"), np.where(gaps, np.nan, sm.round(4)).astype("float32"))},
                    coords={"time": time, "latitude": lat, "longitude": lon})
    ds["sm"].attrs = {"standard_name": "volume_fraction_of_condensed_water_in_soil", "units": "m3 m-3",
                      "long_name": "Volumetric surface soil moisture"}
    coord_attrs(ds)
    ds.attrs = synthetic_attrs("Synthetic daily surface soil moisture, France, 2020", "vre_catalog.generators.theia:soil_moisture_daily", 2020)
    return ds


@sample("theia/ndvi_crop_field.csv", seed=17)
def ndvi_crop_field(rng):
    """Sentinel-2 NDVI of a winter-wheat / maize rotation field, 5-day revisit with cloudy dates removed."""
    time = pd.date_range("2017-01-02", "2022-12-31", freq="5D")
    doy = time.day_of_year.to_numpy()
    wheat = time.year.to_numpy() % 2 == 0
    green_wheat = 0.15 + 0.7 * np.exp(-0.5 * ((doy - 120) / 35) ** 2)
    green_maize = 0.15 + 0.72 * np.exp(-0.5 * ((doy - 215) / 28) ** 2)
    ndvi = np.where(wheat, green_wheat, green_maize) + 0.03 * rng.standard_normal(time.size)
    clear = rng.random(time.size) > 0.45
    return pd.DataFrame({"time": time[clear].strftime("%Y-%m-%d"), "ndvi": np.clip(ndvi[clear], -0.1, 0.95).round(3)})


@sample("theia/lake_water_level.csv", seed=1992)
def lake_water_level(rng):
    """Altimetric water level of a large high-altitude lake (Titicaca-like), ~10-day sampling."""
    time = pd.date_range("1992-10-01", "2022-12-31", freq="10D")
    years = (time.year - 1992).to_numpy()
    level = 3809.3 + 0.35 * annual(time, 90) + 0.6 * np.sin(2 * np.pi * years / 11.0) + ar1(rng, time.size, 0.95, 0.05)
    level += 0.04 * rng.standard_normal(time.size)
    return pd.DataFrame({"time": time.strftime("%Y-%m-%d"), "water_level": level.round(3),
                         "water_level_uncertainty": np.round(rng.uniform(0.03, 0.12, time.size), 3)})


@sample("theia/river_discharge_daily.csv", seed=447)
def river_discharge_daily(rng):
    """Daily mean discharge of a mid-size river: winter high flows, summer low flows, floods."""
    time = pd.date_range("1990-01-01", "2022-12-31", freq="D")
    log_q = np.log(55) + 0.8 * annual(time, 40) + ar1(rng, time.size, 0.97, 0.09)
    floods = (rng.random(time.size) < 0.004) * rng.uniform(0.8, 2.0, time.size)
    q = np.exp(log_q) * (1 + np.convolve(floods, np.exp(-np.arange(20) / 4.0))[: time.size])
    return pd.DataFrame({"time": time.strftime("%Y-%m-%d"), "discharge": q.round(2)})


@sample("theia/aboveground_biomass.nc", seed=404)
def aboveground_biomass(rng):
    """Above-ground biomass over France at 0.1 degree, forests in the Landes, Vosges, Massif central."""
    lat = np.round(np.arange(42.0, 51.1, 0.1), 2)
    lon = np.round(np.arange(-5.0, 8.1, 0.1), 2)
    lon2d, lat2d = np.meshgrid(lon, lat)
    forest = np.zeros(lon2d.shape)
    for x, y, r, a in [(-0.9, 44.2, 0.6, 160), (6.9, 48.3, 0.5, 200), (3.0, 45.5, 0.9, 120), (6.5, 45.5, 0.7, 150), (0.5, 47.5, 1.2, 90)]:
        forest += a * np.exp(-(((lon2d - x) / r) ** 2 + ((lat2d - y) / r) ** 2))
    agb = np.clip(25 + forest + 15 * _smooth_field(rng, lon2d.shape, 5), 0, None)
    ds = xr.Dataset({"agb": (("latitude", "longitude"), agb.round(1).astype("float32"))},
                    coords={"latitude": lat, "longitude": lon})
    ds["agb"].attrs = {"standard_name": None, "units": "Mg ha-1", "long_name": "Above-ground biomass"}
    del ds["agb"].attrs["standard_name"]
    coord_attrs(ds)
    ds.attrs = synthetic_attrs("Synthetic above-ground biomass, France", "vre_catalog.generators.theia:aboveground_biomass", 404)
    return ds


@sample("theia/landsat_surface_reflectance.nc", seed=8)
def landsat_surface_reflectance(rng):
    """A small red / near-infrared surface reflectance chip, 12 cloud-free dates."""
    y = np.arange(60)
    x = np.arange(60)
    time = pd.date_range("2021-01-15", periods=12, freq="MS")
    veg = np.clip(0.5 + 0.5 * _smooth_field(rng, (60, 60), 8), 0, 1)
    green = (0.5 + 0.5 * np.cos(2 * np.pi * (time.month.to_numpy() - 6) / 12))[:, None, None]
    red = np.clip(0.12 - 0.08 * veg * green + 0.01 * rng.standard_normal((12, 60, 60)), 0.01, 0.4)
    nir = np.clip(0.2 + 0.25 * veg * green + 0.015 * rng.standard_normal((12, 60, 60)), 0.05, 0.6)
    ds = xr.Dataset({"red": (("time", "y", "x"), red.astype("float32")), "nir": (("time", "y", "x"), nir.astype("float32"))},
                    coords={"time": time, "y": y * 30.0, "x": x * 30.0})
    for name, band in (("red", "B4 (0.64-0.67 um)"), ("nir", "B5 (0.85-0.88 um)")):
        ds[name].attrs = {"standard_name": "surface_bidirectional_reflectance", "units": "1", "long_name": f"Surface reflectance {band}"}
    ds["x"].attrs = {"units": "m", "long_name": "Easting from chip origin"}
    ds["y"].attrs = {"units": "m", "long_name": "Northing from chip origin"}
    ds.attrs = synthetic_attrs("Synthetic Landsat 8 surface reflectance chip", "vre_catalog.generators.theia:landsat_surface_reflectance", 8)
    return ds
