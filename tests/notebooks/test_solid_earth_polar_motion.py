"""Chandler wobble in real IERS polar motion: the notebook's lines against a computation done here, and against
the literature (Chandler period 430-435 days, annual 365.25 days, beat ~6.4 years; Gross 2000, Hoepfner 2004)."""
import numpy as np
import pandas as pd
import pytest

from .conftest import PARAMETER_SETS

NAME = "solid_earth_polar_motion"


def prograde_peak(table: pd.DataFrame, years, band) -> float:
    """Period (days) of the largest prograde circle in the band: plain least squares on a 0.25-day grid."""
    part = table.set_index(pd.to_datetime(table["time"])).loc[str(years[0]):str(years[1])]
    t = (part.index - part.index[0]).days.to_numpy(float)
    p = (part["x"] - 1j * part["y"]).to_numpy() * 1000
    p = p - np.polyval(np.polyfit(t, p.real, 1), t) - 1j * np.polyval(np.polyfit(t, p.imag, 1), t)
    periods = np.arange(band[0], band[1] + 0.25, 0.25)
    amplitude = np.abs(np.exp(-2j * np.pi * t[None, :] / periods[:, None]) @ p)
    return float(periods[np.argmax(amplitude)])


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_chandler_and_annual_lines_of_real_polar_motion(run_set, catalog, set_name):
    params = {"period": [1980, 2020], **PARAMETER_SETS[NAME][set_name]}
    results = run_set(NAME, set_name).results_file
    # What a geodesist would check: the Chandler line at 420-445 days, the annual one at 360-370, beat 5.5-7.5 yr.
    assert 420 <= results["chandler_period_days"] <= 445
    assert 360 <= results["annual_period_days"] <= 370
    assert 5.5 <= results["beat_period_years"] <= 7.5
    assert 60 <= results["chandler_amplitude_mas"] <= 250 and 50 <= results["annual_amplitude_mas"] <= 130
    table = catalog.formater.polar_motion_daily.read()
    # The grid step is 0.25 day; the two computations must agree to it.
    assert results["chandler_period_days"] == pytest.approx(prograde_peak(table, params["period"], (400, 470)), abs=0.3)
    assert results["annual_period_days"] == pytest.approx(prograde_peak(table, params["period"], (340, 390)), abs=0.3)
    assert catalog.formater.polar_motion_daily.metadata["sample"]["kind"] == "real"
