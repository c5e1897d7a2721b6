"""Selecting a real catalogue entry: card, quick-look, Open, and the code that does the same."""

from __future__ import annotations

import socket
import textwrap

import intake
import pandas as pd
import pytest
import xarray as xr

from vre_catalog import CatalogIndex
from vre_widgets import DatasetBrowser


@pytest.fixture(scope="module")
def browser_and_ns(index):
    namespace = {}
    return DatasetBrowser(index=index, namespace=namespace), namespace


def test_card_shows_what_a_participant_needs(browser_and_ns, index):
    browser, _ = browser_and_ns
    browser.results_list.value = "odatis.ocean_environment_monthly"  # a click in the list
    assert browser.selected == "odatis.ocean_environment_monthly"
    entry = index["odatis.ocean_environment_monthly"]
    card = browser.card.value
    assert entry.title in card and "ODATIS" in card
    for variable in entry.variables:
        assert variable["name"] in card and variable["units"] in card
    assert entry.metadata["license"] in card
    assert f"https://doi.org/{entry.metadata['doi']}" in card
    assert entry.metadata["landing_page"] in card
    assert "remote service + embedded sample" in card
    assert "W -20 · S 30 · E 10 · N 65" in card and "1993-01-01" in card


@pytest.mark.parametrize("entry_id, kind, xlabel, ylabel", [
    ("odatis.ocean_environment_monthly", "gridded", "Longitude [degrees_east]", "Latitude [degrees_north]"),
    ("odatis.sst_coastal_daily", "station", "time", "Daily sea surface temperature [degC]"),
    ("odatis.argo_profiles", "profile", "Sea temperature in-situ ITS-90 scale [degC]", "Sea water pressure [dbar]"),
    ("formater.earthquake_catalogue_france", "points", "Epicentre longitude [degrees_east]",
     "Epicentre latitude [degrees_north]"),
])
def test_quicklook_matches_the_data_shape(browser_and_ns, entry_id, kind, xlabel, ylabel):
    from jupyter_bokeh import BokehModel

    browser, _ = browser_and_ns
    browser.selected = entry_id
    look = browser.quicklook
    assert browser.preview_status.kind == "info", browser.preview_status.text
    assert look.kind == kind
    # What the participant sees: a Bokeh plot whose axes carry the CF long names and units.
    (plot,) = browser.preview_area.children
    assert isinstance(plot, BokehModel)
    assert look.figure.xaxis[0].axis_label == xlabel
    assert look.figure.yaxis[0].axis_label == ylabel
    if kind == "profile":
        assert look.figure.y_range.start > look.figure.y_range.end  # pressure grows downwards


def test_choosing_another_variable_redraws(browser_and_ns, index):
    browser, _ = browser_and_ns
    browser.selected = "odatis.ocean_environment_monthly"
    browser.preview_variable.value = "so"
    assert browser.quicklook.variable == "so"
    attrs = index["odatis.ocean_environment_monthly"].open()["so"].attrs  # the file's CF attributes
    assert browser.quicklook.figure.right[0].title == f"{attrs['long_name']} [{attrs['units']}]"


def test_open_puts_the_dataset_in_the_namespace_and_the_code_reopens_it(browser_and_ns, index):
    browser, namespace = browser_and_ns
    browser.selected = "odatis.ocean_environment_monthly"
    browser.var_name.value = "ocean"
    browser.open_button.click()
    assert browser.open_status.kind == "info", browser.open_status.text
    opened = namespace["ocean"]
    assert isinstance(opened, xr.Dataset)
    # The generated code is plain intake: run it in a fresh namespace, compare.
    code = browser.code
    assert code.startswith("ocean = intake.open_catalog(") and "\n" not in code
    assert code in browser.code_box.value.replace("&#x27;", "'")
    fresh = {"intake": intake}
    exec(code, fresh)
    xr.testing.assert_identical(fresh["ocean"], opened)


def test_open_a_table_entry(browser_and_ns):
    browser, namespace = browser_and_ns
    browser.selected = "formater.earthquake_catalogue_france"
    browser.open_dataset(var="quakes")
    fresh = {"intake": intake}
    exec(browser.code, fresh)
    assert isinstance(namespace["quakes"], pd.DataFrame)
    pd.testing.assert_frame_equal(fresh["quakes"], namespace["quakes"])


def test_preview_too_large_is_explained(index):
    browser = DatasetBrowser(index=index, namespace={}, max_preview_values=1000)
    browser.selected = "odatis.ocean_environment_monthly"
    assert browser.preview_status.kind == "error"
    assert browser.preview_status.text.startswith("preview too large:")
    assert browser.preview_area.children == ()
    assert browser.card.value  # the card still shows


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # released on exit: nothing listens there


def test_unreachable_remote_is_explained_and_sample_still_opens(tmp_path, catalog_path):
    """A catalogue whose remote points at a closed loopback port (no traffic leaves the host)."""
    sample = catalog_path.parent / "samples" / "odatis" / "bathymetry.nc"
    (tmp_path / "catalog.yaml").write_text(textwrap.dedent("""\
        sources:
          odatis:
            driver: yaml_file_cat
            args: {path: "{{ CATALOG_DIR }}/odatis.yaml"}
        """))
    port = _closed_port()
    (tmp_path / "odatis.yaml").write_text(textwrap.dedent(f"""\
        sources:
          depth:
            driver: netcdf
            args: {{urlpath: "{sample}", xarray_kwargs: {{engine: h5netcdf}}}}
            metadata: {{title: Sea floor depth, pole: odatis}}
          depth_remote:
            driver: netcdf
            args: {{urlpath: "http://127.0.0.1:{port}/depth.nc", xarray_kwargs: {{engine: h5netcdf}}}}
            metadata: {{title: Sea floor depth, pole: odatis}}
        """))
    namespace = {}
    browser = DatasetBrowser(index=CatalogIndex.from_catalog(tmp_path / "catalog.yaml"),
                             namespace=namespace)
    browser.selected = "odatis.depth"
    assert browser.source_choice.options == ("remote", "sample")
    browser.source_choice.value = "remote"
    browser.open_button.click()
    assert namespace == {}
    assert browser.open_status.kind == "error"
    assert browser.open_status.text.startswith("dataset unreachable"), browser.open_status.text
    assert "sample" in browser.open_status.text
    browser.source_choice.value = "sample"
    browser.open_button.click()
    assert isinstance(namespace["ds"], xr.Dataset)
