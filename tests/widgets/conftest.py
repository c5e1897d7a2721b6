"""Fixtures of the widget tests: the repository catalogue (samples generated once) and small indexes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vre_catalog import CatalogIndex
from vre_catalog.layout import REPO_CATALOG
from vre_catalog.samples import generate, load_registry

CATALOG_DIR = REPO_CATALOG.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(condition: bool, why: str):
    """Skip (saying why) when a requirement is missing; in CI fail instead."""
    if not condition:
        (pytest.fail if IN_CI else pytest.skip)(f"required: {why}" if IN_CI else why)


@pytest.fixture(scope="session")
def catalog_path() -> Path:
    """The repository's root catalogue, with its samples generated into catalogs/samples if missing."""
    samples = CATALOG_DIR / "samples"
    if not all((samples / rel).exists() for rel in load_registry()):
        generate(samples, log=lambda *_: None)
    return REPO_CATALOG


@pytest.fixture(scope="session")
def index(catalog_path):
    return CatalogIndex.from_catalog(catalog_path)


def record(ident, title, variables, bbox, time, platform="buoy", provider="Centre A", **extra):
    """A catalogue metadata dict as CatalogIndex.from_entries takes it."""
    west, south, east, north = bbox
    return {
        "id": ident, "pole": ident.split(".")[0], "title": title, "description": f"{title}.",
        "variables": [{"name": n, "standard_name": n, "units": u, "long_name": n.replace("_", " ")}
                      for n, u in variables],
        "platform": [platform], "publisher_name": provider,
        "geospatial_lon_min": west, "geospatial_lat_min": south,
        "geospatial_lon_max": east, "geospatial_lat_max": north,
        "time_coverage_start": time[0], "time_coverage_end": time[1],
        "access": {"protocol": "erddap", "url": "https://example.org/erddap"}, **extra,
    }


SMALL_RECORDS = [
    record("odatis.sst_brest", "Sea surface temperature at Brest", [("sst", "degC")],
           (-5, 48, -4, 49), ("2000-01-01", "2020-12-31"), platform="mooring"),
    record("odatis.argo_atlantic", "Argo temperature profiles, North Atlantic",
           [("temp", "degC"), ("psal", "1")], (-40, 20, -10, 60), ("2010-01-01", None),
           platform="profiling float", provider="Centre B"),
    record("aeris.air_temperature_paris", "Air temperature at Paris", [("tas", "K")],
           (2, 48.5, 3, 49), ("1990-01-01", "2010-12-31"), platform="ground station"),
    record("aeris.aerosol_global", "Aerosol optical depth, global", [("aod", "1")],
           (-180, -90, 180, 90), ("2003-01-01", "2019-12-31"), platform="satellite",
           provider="Centre B"),
    record("theia.snow_alps", "Snow cover of the Alps", [("snow_cover", "1")],
           (5, 44, 16, 48), ("2015-01-01", "2023-12-31"), platform="satellite"),
    record("formater.gnss_france", "GNSS displacement, France", [("east", "m"), ("north", "m")],
           (-5, 42, 8, 51), ("2008-01-01", None), platform="GNSS permanent station",
           provider="Centre C"),
]


@pytest.fixture
def small_index():
    return CatalogIndex.from_entries(SMALL_RECORDS)
