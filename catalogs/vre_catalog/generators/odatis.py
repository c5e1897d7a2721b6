"""ODATIS (ocean) samples."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import xarray as xr

from ..samples import sample
from ._common import package_file, real_attrs, synthetic_attrs
from ._geo import distance_to_land_km, land_mask, mediterranean

# The NE Atlantic / European shelf grid shared by the environment, bathymetry and species samples.
LON = np.round(np.arange(-20.0, 10.0 + 1e-9, 0.5), 2)
LAT = np.round(np.arange(30.0, 65.0 + 1e-9, 0.5), 2)
YEARS = (1993, 2022)
ENV_SEED = 20231
SPECIES_SEED = 42
# The virtual species' niche: the truth a niche model should recover.
TRUE_NICHE = {
    "response": "gaussian product of temperature and salinity suitabilities",
    "temperature_optimum_degC": 12.0,
    "temperature_breadth_degC": 2.5,
    "salinity_optimum": 35.4,
    "salinity_breadth": 0.5,
    "prevalence_scale": 0.9,
}


def _cf(name, standard_name, units, long_name, **extra):
    return {"standard_name": standard_name, "units": units, "long_name": long_name, **extra} if standard_name else {
        "units": units, "long_name": long_name, **extra}


@lru_cache(maxsize=1)
def _geography():
    lon2d, lat2d = np.meshgrid(LON, LAT)
    land = land_mask(lon2d, lat2d)
    dist = distance_to_land_km(lon2d, lat2d, land)
    med = mediterranean(lon2d, lat2d) & ~land
    return lon2d, lat2d, land, dist, med


@lru_cache(maxsize=1)
def _depth() -> np.ndarray:
    """Shelf (< 200 m) within ~100-300 km of the coast, a steep slope, then an abyssal plain."""
    lon2d, lat2d, land, dist, med = _geography()
    rng = np.random.default_rng(ENV_SEED + 1)
    # Wider shelves in the Celtic Sea / North Sea, narrow off Iberia and in the Mediterranean.
    shelf_width = np.where(lat2d > 47.5, 320.0, 90.0)
    shelf_width = np.where((lat2d > 51) & (lon2d > -3), 800.0, shelf_width)  # North Sea
    shelf_width = np.where(med, 50.0, shelf_width)
    on_shelf = dist < shelf_width
    shelf_depth = 20 + 160 * (dist / shelf_width)
    abyss = np.where(med, 2800.0, 4800.0 - 25.0 * (lat2d - 30.0))
    slope = shelf_depth.clip(max=200) + (abyss - 200) * (1 - np.exp(-(dist - shelf_width) / 120.0))
    depth = np.where(on_shelf, shelf_depth, slope)
    depth = depth * np.exp(0.05 * rng.standard_normal(depth.shape))
    return np.where(land, np.nan, np.round(depth, 1)).astype("float32")


@lru_cache(maxsize=1)
def _environment() -> xr.Dataset:
    lon2d, lat2d, land, dist, med = _geography()
    depth = _depth()
    rng = np.random.default_rng(ENV_SEED)
    time = pd.date_range(f"{YEARS[0]}-01-01", f"{YEARS[1]}-12-01", freq="MS") + pd.Timedelta(days=14)
    nt = time.size
    years = (time.year + (time.month - 0.5) / 12.0 - YEARS[0]).to_numpy()[:, None, None]
    month = time.month.to_numpy()[:, None, None]
    shelf = np.nan_to_num(depth, nan=0) < 200
    coastal = np.exp(-dist / 150.0)

    # Temperature: latitudinal gradient, seasonal cycle peaking in late August (bigger on shelves
    # and in the Mediterranean), a warming trend and red interannual noise.
    t_mean = 21.0 - 0.40 * (lat2d - 30.0) + 0.025 * (lon2d + 20.0) + np.where(med, 1.5, 0.0)
    t_amp = 2.0 + 0.05 * (lat2d - 30.0) + 2.0 * shelf + np.where(med, 3.5, 0.0)
    season = np.cos(2 * np.pi * (month - 8.5) / 12.0)
    trend = 0.028 * years  # degC per year: about +0.8 degC over 30 years
    anomaly = np.zeros((nt, 1, 1))
    for i in range(1, nt):  # AR(1) monthly basin-scale anomaly
        anomaly[i] = 0.8 * anomaly[i - 1] + 0.18 * rng.standard_normal()
    noise = 0.25 * rng.standard_normal((nt,) + lon2d.shape)
    thetao = t_mean + t_amp * season + trend + anomaly + noise

    # Salinity: fresher to the north and at the coast (runoff), saltier Mediterranean.
    so = 36.3 - 0.035 * (lat2d - 30.0) - 1.4 * coastal * (lat2d > 43) + np.where(med, 1.9, 0.0)
    so = so - 0.12 * np.cos(2 * np.pi * (month - 4.0) / 12.0) * coastal + 0.05 * rng.standard_normal((nt,) + lon2d.shape)

    # Oxygen near saturation: solubility falls with temperature (close to Garcia & Gordon 1992).
    o2 = 1.025 * (350.0 - 8.4 * thetao + 0.08 * thetao**2) * (1 - 0.004 * (so - 35.0))
    o2 = o2 + 6.0 * rng.standard_normal(o2.shape)

    # Chlorophyll: richer at high latitude and near the coast, spring bloom earlier in the south.
    bloom_month = 3.0 + 0.06 * (lat2d - 30.0)
    bloom = np.exp(-0.5 * ((month - bloom_month) / 1.0) ** 2)
    log_chl = np.log(0.12) + 0.035 * (lat2d - 30.0) + 1.3 * coastal + 1.1 * bloom - np.where(med, 0.6, 0.0)
    chl = np.exp(log_chl + 0.25 * rng.standard_normal(o2.shape))

    def field(values, digits):
        return (("time", "latitude", "longitude"), np.where(land, np.nan, np.round(values, digits)).astype("float32"))

    ds = xr.Dataset(
        {
            "thetao": field(thetao, 3),
            "so": field(so, 3),
            "o2": field(o2, 2),
            "chl": field(chl, 4),
        },
        coords={"time": time, "latitude": LAT, "longitude": LON},
    )
    ds["thetao"].attrs = _cf("thetao", "sea_water_potential_temperature", "degC", "Sea water potential temperature (surface layer)")
    ds["so"].attrs = _cf("so", "sea_water_salinity", "1e-3", "Sea water salinity (surface layer)")
    ds["o2"].attrs = _cf("o2", "mole_concentration_of_dissolved_molecular_oxygen_in_sea_water", "mmol m-3", "Dissolved oxygen (surface layer)")
    ds["chl"].attrs = _cf("chl", "mass_concentration_of_chlorophyll_a_in_sea_water", "mg m-3", "Chlorophyll-a (surface layer)")
    _coord_attrs(ds)
    return ds


def _coord_attrs(ds):
    ds["latitude"].attrs = {"standard_name": "latitude", "units": "degrees_north", "long_name": "Latitude"}
    ds["longitude"].attrs = {"standard_name": "longitude", "units": "degrees_east", "long_name": "Longitude"}
    if "time" in ds.coords:
        ds["time"].attrs = {"standard_name": "time", "long_name": "Time"}


@sample("odatis/ocean_environment_monthly.nc", seed=ENV_SEED)
def ocean_environment_monthly(rng):
    ds = _environment().copy()
    ds.attrs = synthetic_attrs(
        "Synthetic monthly ocean environment, NE Atlantic and European shelf, 1993-2022",
        "vre_catalog.generators.odatis:ocean_environment_monthly", ENV_SEED,
        warming_trend_degC_per_year=0.028,
    )
    return ds


@sample("odatis/bathymetry.nc", seed=ENV_SEED + 1)
def bathymetry(rng):
    ds = xr.Dataset(
        {"depth": (("latitude", "longitude"), _depth())},
        coords={"latitude": LAT, "longitude": LON},
    )
    ds["depth"].attrs = {"standard_name": "sea_floor_depth_below_geoid", "units": "m", "positive": "down",
                         "long_name": "Sea floor depth (NaN on land)"}
    _coord_attrs(ds)
    ds.attrs = synthetic_attrs("Synthetic bathymetry on the ocean environment grid",
                                "vre_catalog.generators.odatis:bathymetry", ENV_SEED + 1)
    return ds


def _suitability(t, s):
    n = TRUE_NICHE
    return n["prevalence_scale"] * np.exp(
        -0.5 * ((t - n["temperature_optimum_degC"]) / n["temperature_breadth_degC"]) ** 2
        - 0.5 * ((s - n["salinity_optimum"]) / n["salinity_breadth"]) ** 2
    )


@sample("odatis/species_occurrences.csv", seed=SPECIES_SEED)
def species_occurrences(rng):
    """A virtual species drawn from the environment sample with a known niche.

    Presences: sea cell-months drawn at random, kept with probability = suitability.
    Background: sea cell-months drawn uniformly (presence = 0), the usual pseudo-absences.
    """
    env = _environment()
    t = env["thetao"].to_numpy()
    s = env["so"].to_numpy()
    sea = np.isfinite(t)
    idx = np.flatnonzero(sea)
    # Presences: thin a large uniform draw by the suitability.
    draw = rng.choice(idx, size=60_000, replace=False)
    keep = rng.random(draw.size) < _suitability(t.flat[draw], s.flat[draw])
    presences = draw[keep][:2000]
    background = rng.choice(idx, size=4000, replace=False)
    rows = np.concatenate([presences, background])
    it, ilat, ilon = np.unravel_index(rows, t.shape)
    jitter = lambda n: rng.uniform(-0.25, 0.25, n)  # noqa: E731 - positions within the 0.5 degree cell
    times = env["time"].to_numpy()[it] + (rng.integers(-13, 14, rows.size)).astype("timedelta64[D]")
    df = pd.DataFrame({
        "scientificName": "Virtualis atlanticus (virtual species)",
        "occurrenceStatus": np.where(np.arange(rows.size) < presences.size, "present", "absent"),
        "presence": (np.arange(rows.size) < presences.size).astype(int),
        "time": pd.to_datetime(times).strftime("%Y-%m-%d"),
        "lon": np.round(LON[ilon] + jitter(rows.size), 4),
        "lat": np.round(LAT[ilat] + jitter(rows.size), 4),
    })
    return df


# Injected marine heatwaves of the coastal SST sample: the truth a detection should find.
COASTAL_SITE = {"name": "Banyuls-sur-Mer (SOLA), Gulf of Lion", "lat": 42.49, "lon": 3.15}
INJECTED_HEATWAVES = [
    {"start": "1994-07-20", "days": 18, "peak_anomaly_degC": 2.5},
    {"start": "2003-06-10", "days": 45, "peak_anomaly_degC": 4.0},
    {"start": "2015-07-05", "days": 25, "peak_anomaly_degC": 3.0},
    {"start": "2018-08-01", "days": 20, "peak_anomaly_degC": 3.0},
    {"start": "2022-06-15", "days": 60, "peak_anomaly_degC": 4.5},
]


@sample("odatis/sst_coastal_daily.csv", seed=7)
def sst_coastal_daily(rng):
    time = pd.date_range("1982-01-01", "2022-12-31", freq="D")
    doy = time.day_of_year.to_numpy()
    years = (time.year - 1982 + doy / 365.25).to_numpy()
    clim = 17.5 - 4.5 * np.cos(2 * np.pi * (doy - 45) / 365.25)  # ~13 degC in Feb, ~22 degC in Aug
    anomaly = np.zeros(time.size)
    eps = 0.32 * rng.standard_normal(time.size)
    for i in range(1, time.size):
        anomaly[i] = 0.94 * anomaly[i - 1] + eps[i]
    sst = clim + 0.035 * years + anomaly
    for event in INJECTED_HEATWAVES:
        start = np.searchsorted(time, np.datetime64(event["start"]))
        shape = np.sin(np.linspace(0, np.pi, event["days"]))
        sst[start:start + event["days"]] += event["peak_anomaly_degC"] * shape
    return pd.DataFrame({"time": time.strftime("%Y-%m-%d"), "sst": np.round(sst, 2)})


@sample("odatis/argo_profiles.csv", seed=11)
def argo_profiles(rng):
    """Profiles shaped like the Ifremer ERDDAP ArgoFloats table (same column names)."""
    n_floats, n_cycles = 8, 20
    pres = np.array([5, 10, 20, 30, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 600, 700,
                     800, 900, 1000, 1200, 1400, 1600, 1800, 2000], dtype=float)
    rows = []
    for f in range(n_floats):
        wmo = 6902700 + 7 * f + int(rng.integers(0, 7))
        lat, lon = rng.uniform(38, 58), rng.uniform(-25, -10)
        t0 = pd.Timestamp("2019-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)))
        for c in range(1, n_cycles + 1):
            lat += 0.08 * rng.standard_normal()
            lon += 0.08 * rng.standard_normal()
            when = t0 + pd.Timedelta(days=10 * c)
            month = when.month
            sst = 21.0 - 0.40 * (lat - 30) + (2.0 + 0.05 * (lat - 30)) * np.cos(2 * np.pi * (month - 8.5) / 12)
            mld = 30 + 120 * (month in (1, 2, 3, 12))
            deep = 3.5 + 0.06 * (60 - lat)
            temp = np.where(pres <= mld, sst, deep + (sst - deep) * np.exp(-(pres - mld) / 350.0))
            sal_surface = 36.3 - 0.035 * (lat - 30)
            psal = np.where(pres <= mld, sal_surface, 35.0 + (sal_surface - 35.0) * np.exp(-(pres - mld) / 500.0))
            psal = psal + 0.08 * np.exp(-((pres - 1000) / 250.0) ** 2)  # Mediterranean outflow water
            for p, t, s in zip(pres, temp + 0.03 * rng.standard_normal(pres.size), psal + 0.005 * rng.standard_normal(pres.size)):
                rows.append((str(wmo), c, when.strftime("%Y-%m-%dT%H:%M:%SZ"), round(lat, 4), round(lon, 4), p, round(t, 3), round(s, 4)))
    return pd.DataFrame(rows, columns=["platform_number", "cycle_number", "time", "latitude", "longitude", "pres", "temp", "psal"])


@sample("odatis/sea_level_brest_monthly.csv", seed=1807)
def sea_level_brest_monthly(rng):
    """Monthly mean sea level shaped like a PSMSL RLR record (mm above the RLR datum)."""
    time = pd.date_range("1900-01-01", "2022-12-01", freq="MS") + pd.Timedelta(days=14)
    years = (time.year - 1900 + (time.month - 0.5) / 12).to_numpy()
    level = 6900 + 1.4 * years + 0.006 * years**2 + 45 * np.cos(2 * np.pi * (time.month.to_numpy() - 11) / 12)
    anomaly = np.zeros(time.size)
    for i in range(1, time.size):
        anomaly[i] = 0.5 * anomaly[i - 1] + 35 * rng.standard_normal()
    return pd.DataFrame({"time": time.strftime("%Y-%m-%d"), "sea_level": np.round(level + anomaly).astype(int)})


@sample("odatis/enso_sst_nino12.csv", kind="real")
def enso_sst_nino12(rng):
    """Real: statsmodels ships the NOAA ERSST v3b Nino 1+2 monthly SST (statsmodels/datasets/elnino/elnino.csv)."""
    from statsmodels.datasets import elnino

    wide = elnino.load_pandas().data
    long = wide.melt(id_vars="YEAR", var_name="month", value_name="sst")
    months = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
    long["time"] = pd.to_datetime({"year": long["YEAR"].astype(int), "month": long["month"].map(months), "day": 15})
    long = long.sort_values("time")
    return pd.DataFrame({"time": long["time"].dt.strftime("%Y-%m-%d"), "sst": long["sst"].to_numpy()})


@sample("odatis/ostia_sst_tropics_monthly.nc", kind="real")
def ostia_sst_tropics_monthly(rng):
    """Real: the OSTIA monthly SST of the equatorial band (5S-5N) shipped by iris-sample-data."""
    file = "iris_sample_data/sample_data/ostia_monthly.nc"
    with xr.open_dataset(package_file("iris-sample-data", file)) as src:
        sst = src["surface_temperature"].load()
    sst = sst.assign_coords(longitude=((sst.longitude + 180) % 360) - 180).sortby("longitude")
    sst = sst.drop_vars([c for c in sst.coords if c not in ("time", "latitude", "longitude")])
    ds = xr.Dataset({"sst": sst.astype("float32")})
    ds["sst"].attrs = _cf("sst", "sea_surface_temperature", "K", "Sea surface temperature, monthly mean (OSTIA)")
    _coord_attrs(ds)
    ds.attrs = real_attrs("OSTIA monthly sea surface temperature, equatorial band 5S-5N, 2006-04 to 2010-09",
                          "iris-sample-data", file,
                          "Donlon et al. (2012), The Operational Sea Surface Temperature and Sea Ice Analysis (OSTIA) "
                          "system, Remote Sens. Environ. 116, 140-158, doi:10.1016/j.rse.2010.10.017",
                          "Open Government Licence v3 (Crown copyright, Met Office)")
    return ds


@sample("odatis/buoy_temperature_gulf_of_maine.csv", kind="real")
def buoy_temperature_gulf_of_maine(rng):
    """Real: 30-minute water temperature (1 m) at NERACOOS buoy B01, Gulf of Maine, 2016-02..2017-03 (bokeh_sampledata)."""
    df = pd.read_csv(package_file("bokeh_sampledata", "bokeh_sampledata/_data/sea_surface_temperature.csv.gz"))
    time = pd.to_datetime(df["time (UTC)"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S")
    return pd.DataFrame({"time": time, "temperature": df["temperature (celsius)"].to_numpy()})


@sample("odatis/chlorophyll_biscay_8day.nc", seed=5)
def chlorophyll_biscay_8day(rng):
    lon = np.round(np.arange(-10.0, -0.95, 0.1), 2)
    lat = np.round(np.arange(43.0, 49.05, 0.1), 2)
    time = pd.date_range("2020-01-01", "2020-12-31", freq="8D")
    lon2d, lat2d = np.meshgrid(lon, lat)
    land = land_mask(lon2d, lat2d)
    dist = distance_to_land_km(lon2d, lat2d, land)
    doy = time.day_of_year.to_numpy()[:, None, None]
    bloom = np.exp(-0.5 * ((doy - 100) / 18.0) ** 2) + 0.35 * np.exp(-0.5 * ((doy - 270) / 20.0) ** 2)
    log_chl = np.log(0.15) + 1.8 * np.exp(-dist / 60.0) + 1.2 * bloom + 0.3 * rng.standard_normal((time.size,) + lon2d.shape)
    cloud = rng.random((time.size,) + lon2d.shape) < 0.15  # gaps like a real L3 composite
    chl = np.where(land | cloud, np.nan, np.round(np.exp(log_chl), 4)).astype("float32")
    ds = xr.Dataset({"chlor_a": (("time", "latitude", "longitude"), chl)},
                    coords={"time": time, "latitude": lat, "longitude": lon})
    ds["chlor_a"].attrs = _cf("chlor_a", "mass_concentration_of_chlorophyll_a_in_sea_water", "mg m-3", "Chlorophyll-a, 8-day composite")
    _coord_attrs(ds)
    ds.attrs = synthetic_attrs("Synthetic 8-day ocean-colour chlorophyll, Bay of Biscay, 2020",
                                "vre_catalog.generators.odatis:chlorophyll_biscay_8day", 5)
    return ds
