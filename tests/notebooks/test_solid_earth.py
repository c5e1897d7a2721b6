"""GNSS: velocities against a plain least-squares fit done here, and against the sample's known motion."""
import numpy as np
import pandas as pd
import pytest

from .conftest import PARAMETER_SETS

NAME = "solid_earth_gnss"
DEFAULTS = {"components": ["east", "north", "up"], "period": [2000, 2022], "offsets": ["2011-06-14"], "seasonal": True}


def lstsq_velocities(table: pd.DataFrame, p: dict) -> dict[str, float]:
    time = pd.to_datetime(table["time"])
    rows = table[(time.dt.year >= p["period"][0]) & (time.dt.year <= p["period"][1])]
    when = pd.to_datetime(rows["time"])
    t = (when - when.iloc[0]).dt.days.to_numpy() / 365.25
    columns = [np.ones_like(t), t]
    if p["seasonal"]:
        columns += [f(2 * np.pi * k * t) for k in (1, 2) for f in (np.sin, np.cos)]
    columns += [(when >= pd.Timestamp(d)).to_numpy(float) for d in p["offsets"]]
    design = np.column_stack(columns)
    return {c: np.linalg.lstsq(design, rows[c].to_numpy() * 1000, rcond=None)[0][1] for c in p["components"]}


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_velocities_match_least_squares(run_set, catalog, set_name):
    params = {**DEFAULTS, **PARAMETER_SETS[NAME][set_name]}
    results = run_set(NAME, set_name).results_file
    expected = lstsq_velocities(catalog.formater.gnss_displacement_daily.read(), params)
    for component, velocity in expected.items():
        assert results[f"velocity_{component}_mm_per_yr"] == pytest.approx(velocity, abs=1e-6)
        assert results[f"velocity_{component}_sigma_mm_per_yr"] > 0


@pytest.mark.docker
def test_default_run_recovers_the_known_motion(run_set, catalog):
    truth = catalog.formater.gnss_displacement_daily.metadata["sample"]["truth"]
    results = run_set(NAME, "default").results_file
    for component in ("east", "north"):
        assert abs(results[f"velocity_{component}_mm_per_yr"] - truth[f"velocity_{component}_mm_per_yr"]) < 0.3
    assert abs(results["velocity_up_mm_per_yr"] - truth["velocity_up_mm_per_yr"]) < 0.5
    assert abs(results[f"step_up_{truth['offset_date']}_mm"] - truth["offset_up_mm"]) < 1.0
    expected_azimuth = np.degrees(np.arctan2(truth["velocity_east_mm_per_yr"], truth["velocity_north_mm_per_yr"]))
    assert abs(results["azimuth_deg"] - expected_azimuth) < 1.0
