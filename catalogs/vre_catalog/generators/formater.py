"""ForM@Ter (solid earth) samples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from ..samples import sample
from ._common import annual, ar1, coord_attrs, package_file, synthetic_attrs

# Truth of the GNSS sample, recorded in the catalogue metadata as well.
GNSS_TRUTH = {"velocity_east_mm_per_yr": 19.8, "velocity_north_mm_per_yr": 15.9, "velocity_up_mm_per_yr": -0.4,
              "offset_date": "2011-06-14", "offset_up_mm": 6.0, "annual_up_amplitude_mm": 3.5}

# Earthquake-prone areas of metropolitan France: (lon, lat, spread degrees, share of events).
SEISMIC_ZONES = [(6.6, 45.2, 0.9, 0.34), (0.2, 42.9, 1.0, 0.28), (7.6, 48.2, 0.5, 0.10), (-2.5, 47.5, 1.2, 0.12),
                 (-0.5, 46.3, 0.8, 0.10), (2.8, 45.3, 0.6, 0.06)]


def _iers_eop_c04() -> pd.DataFrame:
    """IERS EOP 20 C04 daily series 1962-now, as shipped by astropy-iers-data (data/eopc04.1962-now)."""
    columns = ["year", "month", "day", "hour", "mjd", "x", "y", "ut1_utc", "dx", "dy", "xrt", "yrt", "lod",
               "x_err", "y_err", "ut1_utc_err", "dx_err", "dy_err", "xrt_err", "yrt_err", "lod_err"]
    path = package_file("astropy-iers-data", "astropy_iers_data/data/eopc04.1962-now")
    df = pd.read_csv(path, comment="#", sep=r"\s+", header=None, names=columns)
    df["time"] = pd.to_datetime(df[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    return df


@sample("formater/polar_motion_daily.csv", kind="real")
def polar_motion_daily(rng):
    """Real: daily pole coordinates x, y (arcsec) of IERS EOP 20 C04, 1962-now."""
    return _iers_eop_c04()[["time", "x", "y", "x_err", "y_err"]]


@sample("formater/length_of_day_daily.csv", kind="real")
def length_of_day_daily(rng):
    """Real: daily UT1-UTC and excess length of day (s) of IERS EOP 20 C04, 1962-now."""
    return _iers_eop_c04()[["time", "ut1_utc", "lod", "lod_err"]]


@sample("formater/igrf14_gauss_coefficients.csv", kind="real")
def igrf14_gauss_coefficients(rng):
    """Real: the IGRF-14 Gauss coefficients g, h (nT) of every epoch 1900-2025 (+ secular variation to 2030), shipped by ppigrf."""
    lines = package_file("ppigrf", "ppigrf/IGRF14.shc").read_text().splitlines()
    body = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    epochs = [float(e) for e in body[1]]  # body[0]: the SHC header (degrees, number of epochs...)
    rows = []
    for n, m, *values in body[2:]:
        n, m = int(n), int(m)
        for epoch, value in zip(epochs, values):
            rows.append((int(epoch), n, abs(m), "g" if m >= 0 else "h", float(value)))
    df = pd.DataFrame(rows, columns=["epoch", "n", "m", "kind", "value"])
    wide = df.pivot_table(index=["epoch", "n", "m"], columns="kind", values="value").reset_index()
    wide["h"] = wide["h"].fillna(0.0)  # h_n0 does not exist
    return wide[["epoch", "n", "m", "g", "h"]]


@sample("formater/gnss_displacement_daily.csv", seed=2000)
def gnss_displacement_daily(rng):
    """Daily east/north/up positions of a permanent GNSS station: plate motion, an antenna change, seasons."""
    time = pd.date_range("2000-01-01", "2022-12-31", freq="D")
    years = ((time - time[0]).days / 365.25).to_numpy()
    t = GNSS_TRUTH
    east = t["velocity_east_mm_per_yr"] * years + ar1(rng, time.size, 0.9, 0.5) + rng.normal(0, 1.2, time.size)
    north = t["velocity_north_mm_per_yr"] * years + ar1(rng, time.size, 0.9, 0.5) + rng.normal(0, 1.0, time.size)
    up = (t["velocity_up_mm_per_yr"] * years + t["annual_up_amplitude_mm"] * annual(time, 200)
          + np.where(time >= t["offset_date"], t["offset_up_mm"], 0.0) + ar1(rng, time.size, 0.9, 1.0)
          + rng.normal(0, 3.5, time.size))
    keep = rng.random(time.size) > 0.03  # missing days
    to_m = lambda mm: (mm[keep] / 1000).round(5)  # noqa: E731
    return pd.DataFrame({"time": time[keep].strftime("%Y-%m-%d"), "east": to_m(east), "north": to_m(north), "up": to_m(up)})


@sample("formater/gnss_velocity_field.csv", seed=4)
def gnss_velocity_field(rng):
    """Station velocities in a Eurasia-fixed frame: near zero in France, a little Alpine uplift."""
    n = 160
    lon = rng.uniform(-4.8, 8.0, n)
    lat = rng.uniform(42.5, 51.0, n)
    alps = np.exp(-(((lon - 6.8) / 0.8) ** 2 + ((lat - 45.5) / 1.0) ** 2))
    df = pd.DataFrame({
        "station": [f"S{i:03d}" for i in range(n)],
        "lon": lon.round(4), "lat": lat.round(4),
        "ve": rng.normal(0, 0.3, n).round(2), "vn": (rng.normal(0, 0.3, n) + 0.3 * alps).round(2),
        "vu": (rng.normal(-0.2, 0.6, n) + 1.8 * alps).round(2),
        "sigma_ve": rng.uniform(0.1, 0.4, n).round(2), "sigma_vn": rng.uniform(0.1, 0.4, n).round(2),
        "sigma_vu": rng.uniform(0.3, 1.0, n).round(2),
    })
    return df


@sample("formater/seismic_waveform.nc", seed=35)
def seismic_waveform(rng):
    """Three-component ground velocity of a local M3.5 earthquake at 100 Hz: noise, P, S and coda."""
    fs, duration, p_arrival, s_arrival = 100.0, 180.0, 30.0, 38.5
    t = np.arange(0, duration, 1 / fs)
    components = {}
    for ch, (p_amp, s_amp) in {"HHZ": (3.0, 4.0), "HHN": (1.0, 8.0), "HHE": (1.2, 7.0)}.items():
        noise = np.convolve(rng.standard_normal(t.size), np.ones(5) / 5, mode="same") * 2e-8
        sig = np.zeros_like(t)
        for onset, amp, freq, decay in ((p_arrival, p_amp, 8.0, 3.0), (s_arrival, s_amp, 4.0, 12.0)):
            after = t >= onset
            tau = t[after] - onset
            envelope = amp * 1e-6 * (1 - np.exp(-tau / 0.3)) * np.exp(-tau / decay)
            sig[after] += envelope * np.sin(2 * np.pi * freq * tau + rng.uniform(0, 2 * np.pi)) * (1 + 0.3 * rng.standard_normal(tau.size))
        components[ch] = (sig + noise).astype("float32")
    time = pd.Timestamp("2019-11-11T10:52:15") + pd.to_timedelta(t, unit="s")
    ds = xr.Dataset({"velocity": (("channel", "time"), np.stack(list(components.values())))},
                    coords={"channel": list(components), "time": time})
    ds["velocity"].attrs = {"units": "m s-1", "long_name": "Ground velocity (instrument response removed)",
                            "sampling_rate_hz": fs}
    ds["time"].attrs = {"standard_name": "time", "long_name": "Time (UTC)"}
    ds.attrs = synthetic_attrs("Synthetic 3-component local earthquake record, 100 Hz",
                               "vre_catalog.generators.formater:seismic_waveform", 35)
    ds.attrs.update(network="FR", station="CIEL", location="00", p_arrival_s=p_arrival, s_arrival_s=s_arrival)
    return ds


def _catalogue(rng, n, zones, start, end, mc, b_value):
    share = np.array([z[3] for z in zones])
    zone = rng.choice(len(zones), size=n, p=share / share.sum())
    centres = np.array([(z[0], z[1], z[2]) for z in zones])[zone]
    lon = centres[:, 0] + centres[:, 2] * rng.standard_normal(n) * 0.6
    lat = centres[:, 1] + centres[:, 2] * rng.standard_normal(n) * 0.4
    mag = mc + rng.exponential(1 / (b_value * np.log(10)), n)  # Gutenberg-Richter above completeness
    seconds = rng.uniform(0, (pd.Timestamp(end) - pd.Timestamp(start)).total_seconds(), n)
    time = (pd.Timestamp(start) + pd.to_timedelta(np.sort(seconds), unit="s")).strftime("%Y-%m-%dT%H:%M:%S")
    return lon, lat, mag, time


@sample("formater/earthquake_catalogue_france.csv", seed=1962)
def earthquake_catalogue_france(rng):
    """Gutenberg-Richter (b = 1, Mc = 1.5) events in the seismic zones of metropolitan France, 2000-2022."""
    n = 6000
    lon, lat, mag, time = _catalogue(rng, n, SEISMIC_ZONES, "2000-01-01", "2022-12-31", 1.5, 1.0)
    return pd.DataFrame({"event_id": [f"syn{i:05d}" for i in range(n)], "time": time, "latitude": lat.round(3),
                         "longitude": lon.round(3), "depth": np.clip(rng.gamma(3.0, 3.0, n), 0.5, 40).round(1),
                         "magnitude": mag.round(1), "mag_type": "ML"})


@sample("formater/earthquake_catalogue_euromed.csv", seed=2004)
def earthquake_catalogue_euromed(rng):
    """M >= 3 events along the Mediterranean plate boundary (Hellenic arc, Apennines, Maghreb, Anatolia)."""
    zones = [(22.5, 37.5, 2.0, 0.35), (13.5, 42.5, 1.5, 0.2), (3.0, 36.0, 2.0, 0.1), (32.0, 39.0, 3.0, 0.3), (-9.0, 36.5, 2.0, 0.05)]
    n = 4000
    lon, lat, mag, time = _catalogue(rng, n, zones, "2004-01-01", "2022-12-31", 3.0, 1.0)
    return pd.DataFrame({"event_id": [f"syn{i:05d}" for i in range(n)], "time": time, "latitude": lat.round(3),
                         "longitude": lon.round(3), "depth": np.clip(rng.gamma(2.0, 8.0, n), 1, 150).round(1),
                         "magnitude": mag.round(1), "mag_type": "mb"})


@sample("formater/seismic_stations_fr.csv", seed=3)
def seismic_stations_fr(rng):
    n = 90
    return pd.DataFrame({
        "network": "FR", "station": [f"SY{i:02d}" for i in range(n)],
        "latitude": rng.uniform(42.4, 51.0, n).round(4), "longitude": rng.uniform(-4.7, 8.2, n).round(4),
        "elevation": rng.gamma(2.0, 250.0, n).round(0),
        "start_time": pd.to_datetime(rng.integers(1995, 2020, n).astype(str) + "-01-01").strftime("%Y-%m-%d"),
    })


@sample("formater/geomagnetic_field_clf.csv", seed=1883)
def geomagnetic_field_clf(rng):
    """Three days of one-minute X, Y, Z at a mid-latitude observatory, with daily variation and a storm."""
    time = pd.date_range("2015-03-16", "2015-03-18 23:59", freq="min")
    hours = (time.hour + time.minute / 60).to_numpy()
    days = ((time - time[0]).total_seconds() / 86400).to_numpy()
    sq = np.where((hours > 6) & (hours < 18), np.sin(np.pi * (hours - 6) / 12), 0)
    storm = np.where(days > 1.3, -180 * (1 - np.exp(-(days - 1.3) / 0.05)) * np.exp(-(days - 1.3) / 0.6), 0)
    x = 21020 - 25 * sq + storm + ar1(rng, time.size, 0.99, 0.4)
    y = -180 + 15 * np.sin(2 * np.pi * hours / 24) + ar1(rng, time.size, 0.99, 0.3)
    z = 42500 + 10 * sq + 0.2 * storm + ar1(rng, time.size, 0.99, 0.2)
    f = np.sqrt(x**2 + y**2 + z**2)
    return pd.DataFrame({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "x": x.round(2), "y": y.round(2), "z": z.round(2), "f": f.round(2)})


@sample("formater/global_relief_france.nc", seed=2022)
def global_relief_france(rng):
    """Land and sea-floor relief around France at 0.05 degree: Alps, Pyrenees, Massif central, shelf."""
    lat = np.round(np.arange(41.0, 51.5, 0.05), 3)
    lon = np.round(np.arange(-6.0, 10.0, 0.05), 3)
    lon2d, lat2d = np.meshgrid(lon, lat)
    from ._geo import land_mask

    land = land_mask(lon2d, lat2d)
    height = 150 + 60 * rng.standard_normal(lon2d.shape)
    for x, y, sx, sy, h in [(7.0, 45.7, 0.8, 1.2, 2600), (0.5, 42.7, 2.0, 0.3, 2000), (2.9, 45.3, 0.7, 0.8, 900),
                            (7.2, 48.3, 0.3, 0.6, 700), (6.0, 46.8, 0.8, 0.5, 800)]:
        height += h * np.exp(-(((lon2d - x) / sx) ** 2 + ((lat2d - y) / sy) ** 2))
    sea = -np.clip(80 + 4000 * np.clip((-5 - lon2d) / 3, 0, 1) + 2500 * ((lat2d < 43.2) & (lon2d > 3.5)), 0, 4800)
    elev = np.where(land, height, sea + 20 * rng.standard_normal(lon2d.shape))
    ds = xr.Dataset({"z": (("latitude", "longitude"), elev.round(0).astype("float32"))}, coords={"latitude": lat, "longitude": lon})
    ds["z"].attrs = {"standard_name": "height_above_mean_sea_level", "units": "m", "long_name": "Surface elevation (negative below sea level)"}
    coord_attrs(ds)
    ds.attrs = synthetic_attrs("Synthetic surface relief around France", "vre_catalog.generators.formater:global_relief_france", 2022)
    return ds
