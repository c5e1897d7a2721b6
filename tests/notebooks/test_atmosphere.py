"""CO2: trend and seasonal cycle against an independent computation on statsmodels' own copy of the record."""
import numpy as np
import pandas as pd
import pytest

from .conftest import PARAMETER_SETS

NAME = "atmosphere_co2_trend"


def independent(period):
    """Monthly means straight from statsmodels (the sample's cited source), OLS slope, classical decomposition."""
    import statsmodels.api as sm

    weekly = sm.datasets.co2.load_pandas().data["co2"]
    monthly = weekly.loc[str(period[0]):str(period[1])].resample("MS").mean().interpolate(limit_direction="both")
    t = monthly.index.year + (monthly.index.month - 0.5) / 12
    slope = np.polyfit(t, monthly.to_numpy(), 1)[0]
    weights = np.r_[0.5, np.ones(11), 0.5] / 12  # the centred 2x12 moving average removes a 12-month cycle
    trend = pd.Series(np.convolve(monthly.to_numpy(), weights, mode="same"), monthly.index).iloc[6:-6]
    detrended = (monthly - trend).dropna()
    cycle = detrended.groupby(detrended.index.month).mean()
    return slope, float(cycle.max() - cycle.min()), int(cycle.idxmax()), int(cycle.idxmin())


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_trend_and_seasonal_cycle(run_set, set_name):
    params = {"period": [1960, 2000], **PARAMETER_SETS[NAME][set_name]}
    results = run_set(NAME, set_name).results_file
    slope, amplitude, max_month, min_month = independent(params["period"])
    assert abs(results["trend_ppm_per_year"] - slope) < 0.01, (results["trend_ppm_per_year"], slope)
    low, high = results["trend_ci95"]
    assert low < slope < high
    assert 0.5 < slope < 2.5  # ppm/yr over 1958-2001: a sanity range for Mauna Loa
    assert abs(results["seasonal_amplitude_ppm"] - amplitude) < 0.6, (results["seasonal_amplitude_ppm"], amplitude)
    assert abs(results["seasonal_max_month"] - max_month) <= 1 and abs(results["seasonal_min_month"] - min_month) <= 1


@pytest.mark.docker
def test_growth_accelerates_between_the_1960s_and_1990s(run_set):
    growth = run_set(NAME, "default").results_file["growth_by_decade_ppm_per_year"]
    assert growth["1990"] > growth["1960"]
