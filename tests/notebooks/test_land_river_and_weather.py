"""REAL land series: the Nile change point (Cobb 1978: ~1100 -> ~850 x 1e8 m3/yr after 1898) and Wageningen
1976-1999 weather (mean ~9.5 degC, warming of a few tenths of a degree per decade), checked against computations here."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from .conftest import PARAMETER_SETS

NAME = "land_river_and_weather"
DEFAULTS = {"min_segment": 10, "base_temperature": 5.0}


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_nile_change_point_and_wageningen_climate(run_set, catalog, set_name):
    params = {**DEFAULTS, **PARAMETER_SETS[NAME][set_name]}
    results = run_set(NAME, set_name).results_file
    assert results["nile_first_year_after_change"] in (1898, 1899, 1900)
    flow = catalog.theia.nile_flow_aswan_annual.read().set_index("time")["volume"]
    split = results["nile_first_year_after_change"]
    assert results["nile_mean_before"] == pytest.approx(flow[flow.index.year < split].mean())
    assert 1050 < results["nile_mean_before"] < 1150 and 800 < results["nile_mean_after"] < 900
    assert results["nile_welch_p"] < 1e-6

    daily = catalog.theia.wageningen_weather_daily.read().set_index("time")
    tmean = (daily.tasmin + daily.tasmax) / 2
    sizes = tmean.groupby(tmean.index.year).size()
    complete = sizes[sizes >= 360].index
    annual = tmean[tmean.index.year.isin(complete)].groupby(lambda t: t.year).mean()
    assert results["wageningen_complete_years"] == len(annual) == 23  # 1991 is incomplete in the files
    assert results["wageningen_tmean_degC"] == pytest.approx(annual.mean(), abs=1e-9)
    assert 9.0 < results["wageningen_tmean_degC"] < 10.0
    assert results["wageningen_warming_degC_per_decade"] == pytest.approx(10 * stats.theilslopes(annual, annual.index)[0])
    assert 0.0 < results["wageningen_warming_degC_per_decade"] < 1.2
    gdd = tmean[tmean.index.year.isin(complete)].sub(params["base_temperature"]).clip(lower=0)
    assert results["wageningen_gdd"] == pytest.approx(gdd.groupby(gdd.index.year).sum().mean())
    assert 650 < results["wageningen_rain_mm_per_year"] < 900
