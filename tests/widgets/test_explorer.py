"""DatasetExplorer on a real catalogue sample: variable and dimension selectors, map, series at a point."""

from __future__ import annotations

import pytest
from bokeh.events import Tap

from vre_widgets import DatasetExplorer


@pytest.fixture(scope="module")
def ocean(index):
    return index["odatis.ocean_environment_monthly"].open()


def label(da):
    return f"{da.attrs['long_name']} [{da.attrs['units']}]"


def test_explorer_links_selectors_map_and_series(ocean):
    explorer = DatasetExplorer(ocean)
    first = explorer.variable
    assert first in ocean.data_vars and explorer.status.kind == "info"
    assert set(explorer.sliders) == {d for d in ocean[first].dims if d not in ("latitude", "longitude", "lat", "lon")}
    # Map: the CF long names and units on the axes and on the colour bar.
    figure = explorer.map_view.figure
    lon, lat = explorer.map_view.xlabel, explorer.map_view.ylabel
    assert figure.xaxis[0].axis_label == lon and "degrees_east" in lon
    assert figure.yaxis[0].axis_label == lat and "degrees_north" in lat
    assert figure.right[0].title == label(ocean[first])
    # A time step chosen with the slider (keyboard arrows move it too).
    explorer.sliders["time"].index = 5
    assert explorer.isel["time"] == 5
    assert explorer.map_view.selection["time"] == str(ocean.time.values[5])[:19]
    # A point: the series is the nearest grid column, along time.
    explorer.point = (-10.2, 45.3)
    series = explorer.series_view
    assert series.kind == "station" and series.ylabel == label(ocean[first])
    nearest = ocean[first].sel(longitude=-10.2, latitude=45.3, method="nearest")
    assert series.selection["lon"] == f"{float(nearest.longitude):.3g}"
    assert series.selection["lat"] == f"{float(nearest.latitude):.3g}"
    assert (explorer.lon_box.value, explorer.lat_box.value) == (-10.2, 45.3)
    # The series marks the time step the map shows.
    (span,) = [m for m in series.figure.center if type(m).__name__ == "Span"]
    assert span.location == ocean.time.values[5].astype("datetime64[ms]").astype("int64")


def test_click_on_the_map_picks_the_point(ocean):
    explorer = DatasetExplorer(ocean)
    figure = explorer.map_view.figure
    figure._trigger_event(Tap(model=figure, x=0.4, y=50.2))  # what jupyter_bokeh relays from a click
    assert explorer.point == (0.4, 50.2)
    assert explorer.series_view.selection["lat"] == f"{float(ocean.latitude.sel(latitude=50.2, method='nearest')):.3g}"


def test_typed_point_and_variable_switch(ocean):
    explorer = DatasetExplorer(ocean)
    explorer.lon_box.value, explorer.lat_box.value = 5.0, 60.0
    explorer.point_button.click()
    assert explorer.point == (5.0, 60.0)
    other = [v for v in explorer.variable_choice.options if v != explorer.variable][0]
    explorer.variable_choice.value = other
    assert explorer.variable == other
    assert explorer.map_view.variable == other and explorer.series_view.variable == other
    assert explorer.series_view.ylabel == label(ocean[other])


def test_too_large_map_is_explained(ocean):
    explorer = DatasetExplorer(ocean, max_values=10)
    assert explorer.status.kind == "error" and explorer.status.text.startswith("preview too large")


def test_series_only_dataset(index):
    waveform = index["formater.seismic_waveform"].open()
    explorer = DatasetExplorer(waveform)
    assert explorer.map_view is None and "no latitude/longitude grid" in explorer.status.text
    assert explorer.series_view.kind == "station"
    assert "[m s-1]" in explorer.series_view.ylabel


def test_a_table_is_refused_in_the_widget(index):
    quakes = index["formater.earthquake_catalogue_france"].open()
    explorer = DatasetExplorer(quakes)
    assert explorer.status.kind == "error" and "needs an xarray Dataset, not a DataFrame" in explorer.status.text


def test_a_data_array_is_explored(ocean):
    explorer = DatasetExplorer(ocean["thetao"])
    assert explorer.variable == "thetao" and explorer.map_view.kind == "gridded"
