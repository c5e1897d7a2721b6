"""NEO flagship: the method must recover the virtual species' known niche, and the shifts must match the truth.

The truth is read from the catalogue metadata; the expected decadal and scenario shifts are computed here from the
true niche applied to the environment sample (no fitted model), with the same centroid definition.
"""
import numpy as np
import pytest

from .conftest import PARAMETER_SETS

NAME = "neo_ecological_niche"
AUC_MIN = 0.75  # cross-validated AUC the model must exceed on the virtual species
BOYCE_MIN = 0.8
OPTIMUM_TOLERANCE = {"glm": {"thetao": 0.5, "so": 0.15}, "gbm": {"thetao": 1.0, "so": 0.25}}


@pytest.fixture(scope="module")
def true_niche(catalog):
    return catalog.odatis.species_occurrences.metadata["sample"]["true_niche"]


@pytest.fixture(scope="module")
def environment(catalog):
    ds = catalog.odatis.ocean_environment_monthly.to_dask().load()
    return ds.rename(latitude="lat", longitude="lon")


def true_suitability(niche, thetao, so):
    return np.exp(-0.5 * ((thetao - niche["temperature_optimum_degC"]) / niche["temperature_breadth_degC"]) ** 2
                  - 0.5 * ((so - niche["salinity_optimum"]) / niche["salinity_breadth"]) ** 2)


def centroid(s):
    w = s.fillna(0) * np.cos(np.deg2rad(s["lat"]))
    return (w * s["lat"]).sum(["lat", "lon"]) / w.sum(["lat", "lon"])


def region(env, params):
    lon_min, lat_min, lon_max, lat_max = params.get("bbox", [-20.0, 30.0, 10.0, 65.0])
    first, last = params.get("period", [1993, 2022])
    return env.sel(lon=slice(lon_min, lon_max), lat=slice(lat_min, lat_max), time=slice(str(first), str(last))), last


def expected_decadal_shift(niche, env, params):
    env, _ = region(env, params)
    yearly = true_suitability(niche, env.thetao, env.so).groupby("time.year").mean()
    lat = centroid(yearly)
    return 10 * np.polyfit(lat["year"], lat, 1)[0]


def expected_scenario_shift(niche, env, params):
    env, last = region(env, params)
    recent = env.sel(time=slice(str(last - 9), str(last))).groupby("time.month").mean()
    delta = params.get("scenario", {"thetao": 1.0, "so": -1.0})
    now = true_suitability(niche, recent.thetao, recent.so).mean("month")
    future = true_suitability(niche, recent.thetao + delta.get("thetao", 0),
                              recent.so + delta.get("so", 0)).mean("month")
    return float(centroid(future) - centroid(now))


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_recovers_the_virtual_species_niche(run_set, true_niche, set_name):
    run = run_set(NAME, set_name)
    results = run.results_file
    model = results["model"]
    assert results["true_optimum"] == {"thetao": true_niche["temperature_optimum_degC"],
                                       "so": true_niche["salinity_optimum"]}
    got = results["recovered_optimum"]
    assert abs(got["thetao"] - true_niche["temperature_optimum_degC"]) <= OPTIMUM_TOLERANCE[model]["thetao"], got
    assert abs(got["so"] - true_niche["salinity_optimum"]) <= OPTIMUM_TOLERANCE[model]["so"], got
    assert results["auc_cv_mean"] > AUC_MIN
    assert results["boyce_cv_mean"] > BOYCE_MIN
    # Oxygen follows temperature (solubility): the collinearity filter must keep it out of the model.
    if "o2" in results["predictors"]:
        assert "o2" not in results["model_predictors"]


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_habitat_shifts_match_the_true_niche(run_set, true_niche, environment, set_name):
    run = run_set(NAME, set_name)
    results, params = run.results_file, PARAMETER_SETS[NAME][set_name]
    decadal = expected_decadal_shift(true_niche, environment, params)
    assert decadal > 0  # the sample warms: the true habitat moves poleward
    got = results["centroid_shift_deg_per_decade"]
    assert abs(got - decadal) <= 0.1, (got, decadal)
    scenario = expected_scenario_shift(true_niche, environment, params)
    assert np.sign(results["scenario_centroid_shift_deg"]) == np.sign(scenario)
    got = results["scenario_centroid_shift_deg"]
    assert abs(got - scenario) <= 1.0, (got, scenario)
    first, last = params.get("period", [1993, 2022])
    assert set(results["centroid_lat_by_decade"]) == {str(y // 10 * 10) for y in range(first, last + 1)}


@pytest.mark.docker
def test_results_are_recorded_in_the_notebook_and_the_json_file(run_set):
    run = run_set(NAME, "default")
    assert run.displayed_results == run.results_file
    niche = run.results_file["niche"]
    assert niche["OMI"] > 0 and niche["tolerance"] > 0 and 0 < niche["OMI_percent"] < 100


@pytest.mark.docker
@pytest.mark.parametrize("set_name", list(PARAMETER_SETS[NAME]))
def test_real_species_exercise_on_bradypus(run_set, catalog, set_name):
    """Exercise 4 (teacher version) runs the same method on REAL presence/background data (Phillips et al. 2006)."""
    run = run_set(NAME, set_name)
    printed = "".join(o.get("text", "") for c in run.notebook.cells if "solution" in c.metadata.get("tags", [])
                      for o in c.get("outputs", []) if "bradypus:" in o.get("text", ""))
    numbers = dict(pair.split("=") for pair in printed.split("bradypus:")[1].split())
    sloth = catalog.theia.bradypus_presence_background.read()
    occupied, available = sloth[sloth.presence == 1], sloth[sloth.presence == 0]
    assert int(numbers["presences"]) == len(occupied) == 116 and int(numbers["background"]) == len(available) == 1000
    # A lowland tropical mammal: presences warmer and lower than the background of the Americas.
    assert float(numbers["median_temperature_presence"]) == pytest.approx(occupied.tmp6190_ann.median() / 10, abs=0.05)
    assert float(numbers["median_temperature_presence"]) > float(numbers["median_temperature_background"]) + 1
    assert float(numbers["median_elevation_presence"]) < float(numbers["median_elevation_background"])
    # Climate separates the sloth from the background well (Maxent paper: test AUC ~0.87 with more predictors).
    assert 0.75 < float(numbers["auc"]) < 0.98
