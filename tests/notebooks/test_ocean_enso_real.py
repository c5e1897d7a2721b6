"""El Nino in REAL SST (ERSST Nino 1+2, statsmodels copy) and the Darwin SOI: events and correlation against a
computation done here and against what oceanographers know (1982-83 and 1997-98 are the strongest events)."""
import pandas as pd
import pytest

from .conftest import PARAMETER_SETS

NAME = "ocean_enso_real"
DEFAULTS = {"baseline": [1971, 2000], "threshold": 1.0, "min_months": 4}


def anomalies(catalog, baseline):
    sst = catalog.odatis.enso_sst_nino12.read().set_index("time")["sst"]
    clim = sst.loc[str(baseline[0]):str(baseline[1])].groupby(sst.loc[str(baseline[0]):str(baseline[1])].index.month).mean()
    return sst - clim.loc[sst.index.month].to_numpy()


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_enso_events_and_soi_correlation(run_set, catalog, set_name):
    params = {**DEFAULTS, **PARAMETER_SETS[NAME][set_name]}
    results = run_set(NAME, set_name).results_file
    peaks = [e["peak_month"][:4] for e in results["events"][:2]]
    # The two strongest events of the record, in either order: 1982-83 and 1997-98.
    assert sorted(peaks)[0] in ("1982", "1983") and sorted(peaks)[1] in ("1997", "1998")
    assert all(e["peak_degC"] > 3.0 for e in results["events"][:2])
    # Same anomalies computed here: every event month really is above the threshold.
    anomaly = anomalies(catalog, params["baseline"])
    for event in results["events"]:
        months = anomaly[event["start"]:pd.Timestamp(event["end"]) + pd.offsets.MonthEnd(0)]
        assert len(months) == event["months"] >= params["min_months"]
        assert (months > params["threshold"]).all()
        assert event["peak_degC"] == pytest.approx(months.max(), abs=1e-9)
    # The atmosphere follows: the SOI falls when the eastern Pacific warms (r ~ -0.6 for 3-month means).
    assert -0.8 < results["correlation_lag0"] < -0.4 and abs(results["most_negative_lead_months"]) <= 2
    # OSTIA: the 2009-10 El Nino against the 2007-08 La Nina in the Nino 3.4 box, a few degrees warmer.
    assert 1.5 < results["ostia_nino34_dec2009_minus_dec2007_degC"] < 4.5
