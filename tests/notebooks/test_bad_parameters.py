"""Bad parameters stop the notebook at the first code cell after the parameters, with a one-line message."""
import pytest

CASES = [
    ("neo_ecological_niche", {"species": "Nonexistus imaginarius"}, "unknown species 'Nonexistus imaginarius'"),
    ("neo_ecological_niche", {"predictors": ["thetao", "salinity"]}, "unknown predictor(s) ['salinity']"),
    ("neo_ecological_niche", {"bbox": [5.0, 40.0, -5.0, 50.0]}, "empty region"),
    ("neo_ecological_niche", {"bbox": [100.0, 0.0, 120.0, 10.0]}, "holds no grid cells"),
    ("neo_ecological_niche", {"period": [1950, 1960]}, "is outside the data (1993-2022)"),
    ("neo_ecological_niche", {"compute": "cloud"}, "unknown compute 'cloud'; use 'local' or 'gateway'"),
    ("ocean_marine_heatwaves", {"variable": "temperature"}, "unknown variable 'temperature'"),
    ("atmosphere_co2_trend", {"period": [1900, 1950]}, "is outside the data (1958-2001)"),
    ("land_snow_cover", {"bbox": [5.0, 45.0, 6.0, 46.0]}, "holds no land-cover pixels"),
    ("solid_earth_gnss", {"components": ["vertical"]}, "unknown component(s) ['vertical']"),
    ("solid_earth_polar_motion", {"period": [2000, 2005]}, "is under 13 years"),
    ("ocean_enso_real", {"baseline": [1900, 1930]}, "is outside the SST data (1950-2010)"),
    ("land_river_and_weather", {"flow_series": "theia.nile"}, "no catalogue entry 'theia.nile'"),
]


@pytest.mark.docker
@pytest.mark.parametrize("name,params,message", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_parameter_stops_at_first_cell_with_one_line(notebook_runner, name, params, message):
    run = notebook_runner(name, params)
    assert not run.ok
    assert run.notebook is not None, run.log[-2000:]
    assert run.error["ename"] == "ParameterError"
    assert message in run.error["evalue"]
    assert "\n" not in run.error["evalue"].strip()
    assert "; " in run.error["evalue"]  # what is wrong; how to fix it
    assert run.error_cell == run.first_code_cell_after_parameters
    assert run.results_file is None  # nothing written for a rejected run
