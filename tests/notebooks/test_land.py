"""Snow cover: per-year snow days and the Theil-Sen trend against a plain-Python recomputation."""
import itertools

import numpy as np
import pandas as pd
import pytest

from .conftest import PARAMETER_SETS

NAME = "land_snow_cover"
DEFAULTS = {"period": [2001, 2022], "snow_threshold": 0.5, "max_gap_days": 10}


def reference_snow_days(table: pd.DataFrame, p: dict) -> dict[int, float]:
    observed = dict(zip(pd.to_datetime(table["time"]), table["snow_cover_fraction"]))
    days = list(pd.date_range(f"{p['period'][0] - 1}-09-01", f"{p['period'][1]}-08-31", freq="D"))
    values = [observed.get(d, np.nan) for d in days]
    filled = list(values)
    known = [i for i, v in enumerate(values) if not np.isnan(v)]
    for a, b in zip(known, known[1:]):  # interpolate inside gaps no longer than max_gap_days
        if 1 < b - a <= p["max_gap_days"] + 1:
            for i in range(a + 1, b):
                filled[i] = values[a] + (values[b] - values[a]) * (i - a) / (b - a)
    result = {}
    for year in range(p["period"][0], p["period"][1] + 1):
        season = [v for d, v in zip(days, filled) if (d.year + (d.month >= 9)) == year]
        valid = [v for v in season if not np.isnan(v)]
        result[year] = sum(v >= p["snow_threshold"] for v in valid) / len(valid) * len(season)
    return result


def theil_sen_per_decade(series: dict[int, float]) -> float:
    slopes = [(series[b] - series[a]) / (b - a) for a, b in itertools.combinations(sorted(series), 2)]
    return 10 * float(np.median(slopes))


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_snow_days_and_trend_match_independent_computation(run_set, catalog, set_name):
    params = {**DEFAULTS, **PARAMETER_SETS[NAME][set_name]}
    results = run_set(NAME, set_name).results_file
    expected = reference_snow_days(catalog.theia.snow_cover_pyrenees_daily.read(), params)
    got = {int(k): v for k, v in results["snow_days_by_year"].items()}
    assert got.keys() == expected.keys()
    assert np.allclose([got[y] for y in expected], list(expected.values()), atol=1e-6)
    assert results["snow_days_trend_per_decade"] == pytest.approx(theil_sen_per_decade(expected), abs=1e-6)
    assert results["snow_days_trend_per_decade"] < 0  # the sample's snow cover declines


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_land_cover_shares_of_the_region(run_set, catalog, set_name):
    params = {"bbox": [1.2, 43.4, 1.7, 43.8], **PARAMETER_SETS[NAME][set_name]}
    results = run_set(NAME, set_name).results_file
    cover = catalog.theia.land_cover_oso.to_dask()["land_cover"].load()
    lon_min, lat_min, lon_max, lat_max = params["bbox"]
    codes = cover.where((cover.longitude >= lon_min) & (cover.longitude <= lon_max)
                        & (cover.latitude >= lat_min) & (cover.latitude <= lat_max)).values
    codes = codes[~np.isnan(codes)].astype(int)
    assert results["land_cover_pixels"] == codes.size
    assert results["land_cover_top_share"] == pytest.approx(np.bincount(codes).max() / codes.size)
