"""Marine heatwaves: the notebook's events must equal an independent, loop-by-loop Hobday et al. (2016) detection."""
import numpy as np
import pandas as pd
import pytest

from .conftest import PARAMETER_SETS

NAME = "ocean_marine_heatwaves"
DEFAULTS = {"baseline": [1983, 2012], "period": [1982, 2022], "percentile": 90, "window_half_width": 5,
            "smooth_days": 31, "min_duration": 5, "max_gap": 2}


def doy366(day: pd.Timestamp) -> int:
    """29 February is day 60 and 1 March always day 61."""
    n = day.day_of_year
    return n + 1 if (not day.is_leap_year and n >= 60) else n


def reference_events(sst: pd.Series, p: dict) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    values, days = sst.to_numpy(), list(sst.index)
    doys = np.array([doy366(d) for d in days])
    years = np.array([d.year for d in days])
    pools = {d: [] for d in range(1, 367)}
    for i in np.flatnonzero((years >= p["baseline"][0]) & (years <= p["baseline"][1])):
        for k in range(-p["window_half_width"], p["window_half_width"] + 1):
            if 0 <= i + k < len(values) and not np.isnan(values[i + k]):
                pools[doys[i]].append(values[i + k])
    raw = np.array([np.percentile(pools[d], p["percentile"]) for d in range(1, 367)])
    half = p["smooth_days"] // 2
    threshold = np.array([np.mean([raw[(d + k) % 366] for k in range(-half, half + 1)]) for d in range(366)])

    in_period = [i for i, d in enumerate(days) if p["period"][0] <= d.year <= p["period"][1]]
    hot = [values[i] > threshold[doys[i] - 1] for i in in_period]
    events, run_start = [], None
    for j, is_hot in enumerate(hot + [False]):  # a cold sentinel closes a run at the end
        if is_hot and run_start is None:
            run_start = j
        elif not is_hot and run_start is not None:
            if j - run_start >= p["min_duration"]:
                events.append([in_period[run_start], in_period[j - 1]])
            run_start = None
    merged = []
    for s, e in events:
        if merged and s - merged[-1][1] - 1 <= p["max_gap"]:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(days[s], days[e]) for s, e in merged]


@pytest.fixture(scope="module")
def sst(catalog):
    table = catalog.odatis.sst_coastal_daily.read()
    return table.assign(time=pd.to_datetime(table["time"])).set_index("time")["sst"].asfreq("D")


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_heatwave_count_equals_independent_detection(run_set, sst, set_name):
    run = run_set(NAME, set_name)
    params = {**DEFAULTS, **PARAMETER_SETS[NAME][set_name]}
    expected = reference_events(sst, params)
    results = run.results_file
    assert results["mhw_count"] == len(expected)
    assert results["event_starts"] == [str(s.date()) for s, _ in expected]
    assert results["mhw_days"] == sum((e - s).days + 1 for s, e in expected)
    assert run.displayed_results == results


@pytest.mark.docker
def test_injected_heatwaves_are_detected(run_set, catalog):
    run = run_set(NAME, "default")
    injected = catalog.odatis.sst_coastal_daily.metadata["sample"]["injected_heatwaves"]
    assert run.results_file["injected_total"] == len(injected)
    assert run.results_file["injected_detected"] == len(injected)
    assert run.results_file["events_trend_per_decade"] > 0  # the sample warms by 0.035 degC/yr
