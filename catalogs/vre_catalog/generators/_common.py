"""Small helpers shared by the pole sample modules."""
from __future__ import annotations

import numpy as np
import pandas as pd


def ar1(rng, n: int, phi: float, sigma: float) -> np.ndarray:
    """Red noise: x[i] = phi * x[i-1] + sigma * e[i]."""
    eps = sigma * rng.standard_normal(n)
    out = np.empty(n)
    acc = 0.0
    for i in range(n):
        acc = phi * acc + eps[i]
        out[i] = acc
    return out


def annual(times: pd.DatetimeIndex, peak_doy: float) -> np.ndarray:
    """cos() of the annual cycle, 1 on ``peak_doy``."""
    return np.cos(2 * np.pi * (times.day_of_year.to_numpy() - peak_doy) / 365.25)


def synthetic_attrs(title: str, generator: str, seed: int | None, **extra) -> dict:
    """Global attributes that label a dataset as synthetic, with its generator and seed."""
    return {
        "title": title,
        "Conventions": "CF-1.10, ACDD-1.3",
        "source": "synthetic",
        "comment": f"SYNTHETIC sample made by {generator} with seed {seed}; not an observation.",
        "sample_kind": "synthetic",
        "sample_generator": generator,
        "sample_seed": -1 if seed is None else seed,
        **extra,
    }


def coord_attrs(ds) -> None:
    if "latitude" in ds.coords:
        ds["latitude"].attrs = {"standard_name": "latitude", "units": "degrees_north", "long_name": "Latitude"}
    if "longitude" in ds.coords:
        ds["longitude"].attrs = {"standard_name": "longitude", "units": "degrees_east", "long_name": "Longitude"}
    if "time" in ds.coords:
        ds["time"].attrs = {"standard_name": "time", "long_name": "Time"}


def package_file(distribution: str, path: str):
    """A data file shipped inside an installed distribution, found without importing the package.

    Importing is avoided on purpose: some data packages do work at import time (pcse writes
    ~/.pcse, elapid imports rasterio and geopandas); the file is all a sample needs.
    """
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ImportError(f"{distribution} is not installed", name=distribution) from None
    located = dist.locate_file(path)
    if not located.exists():
        raise FileNotFoundError(f"{distribution} {dist.version} has no {path}")
    return located


def real_attrs(title: str, package: str, file: str, citation: str, license: str, **extra) -> dict:
    """Global attributes of a real sample: where it came from, how to cite it, its licence."""
    return {
        "title": title,
        "Conventions": "CF-1.10, ACDD-1.3",
        "source": f"{package}: {file}",
        "references": citation,
        "license": license,
        "sample_kind": "real",
        **extra,
    }
