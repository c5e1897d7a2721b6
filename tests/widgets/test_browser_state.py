"""DatasetBrowser driven through its state, as a notebook or a participant's clicks would.

Every expectation is computed independently from the same CatalogIndex (the one search
engine) or from the records, never copied from the widget.
"""

from __future__ import annotations

import datetime as dt

import pytest

from vre_widgets import DatasetBrowser

from .conftest import SMALL_RECORDS


def option_counts(widget) -> dict:
    """{'odatis': 2, ...} from a facet widget's '<value> (<count>)' labels."""
    return {value: int(label.rsplit("(", 1)[1].rstrip(")")) for label, value in widget.options}


def ids(browser):
    return [e.id for e in browser.results]


def test_opens_on_the_whole_catalogue_with_facet_counts(small_index):
    browser = DatasetBrowser(index=small_index, namespace={})
    assert ids(browser) == small_index.ids
    assert option_counts(browser.facet_widgets["pole"]) == {"odatis": 2, "aeris": 2, "theia": 1,
                                                            "formater": 1}
    assert option_counts(browser.facet_widgets["provider"]) == small_index.facet_counts()["provider"]
    assert "6</b> datasets" in browser.count_label.value
    assert browser.status.kind == "info" and browser.status.text == ""


def test_text_query_filters_results_and_counts(small_index):
    browser = DatasetBrowser(index=small_index, namespace={})
    browser.search_box.value = "temperature"  # what typing + Enter does
    assert browser.query == "temperature"
    expected = [r["id"] for r in SMALL_RECORDS if "temperature" in r["title"].lower()]
    assert sorted(ids(browser)) == sorted(expected)
    assert option_counts(browser.facet_widgets["pole"]) == {"odatis": 2, "aeris": 1}
    assert browser.search_kwargs["text"] == "temperature"


def test_facet_click_filters_and_keeps_other_values_to_widen(small_index):
    browser = DatasetBrowser(index=small_index, namespace={})
    browser.facet_widgets["pole"].value = ("odatis",)  # a click in the list
    assert browser.facets == {"pole": ["odatis"]}
    assert ids(browser) == ["odatis.sst_brest", "odatis.argo_atlantic"]
    # The pole list still offers the other poles with what they would add.
    assert option_counts(browser.facet_widgets["pole"])["aeris"] == 2
    # Other facets count within the filtered results only.
    assert option_counts(browser.facet_widgets["platform"]) == {"mooring": 1, "profiling float": 1}
    browser.facet_widgets["pole"].value = ("odatis", "aeris")
    assert len(browser.results) == 4
    # Setting the state from code shows in the widget too.
    browser.facets = {"provider": ["Centre B"]}
    assert browser.facet_widgets["pole"].value == ()
    assert browser.facet_widgets["provider"].value == ("Centre B",)
    assert sorted(ids(browser)) == ["aeris.aerosol_global", "odatis.argo_atlantic"]


def test_bbox_from_code_drawing_dragging_and_keyboard(small_index):
    browser = DatasetBrowser(index=small_index, namespace={})
    browser.bbox = (0.0, 45.0, 10.0, 50.0)  # central France and the Alps
    assert browser.map.bbox == browser.bbox
    expected = small_index.search(bbox=(0.0, 45.0, 10.0, 50.0)).ids
    assert ids(browser) == expected and "odatis.sst_brest" not in expected
    # A rectangle drawn with the map's draw tool (the GeoJSON leaflet-draw sends).
    ring = [[-6, 47], [-3, 47], [-3, 50], [-6, 50], [-6, 47]]
    browser.map._on_draw(browser.map.draw, action="created",
                         geo_json={"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}})
    assert browser.bbox == (-6.0, 47.0, -3.0, 50.0)
    assert "odatis.sst_brest" in ids(browser)
    # The red box dragged on the map: leaflet sends its new corners.
    browser.map._box.locations = [[{"lat": 40, "lng": 0}, {"lat": 52, "lng": 0},
                                   {"lat": 52, "lng": 4}, {"lat": 40, "lng": 4}]]
    assert browser.bbox == (0.0, 40.0, 4.0, 52.0)
    assert "aeris.air_temperature_paris" in ids(browser)
    # Keyboard: type W/S/E/N and press "Use box".
    fields = browser.map._fields
    fields["west"].value, fields["south"].value, fields["east"].value, fields["north"].value = 5, 43, 17, 49
    browser.map.apply_button.click()
    assert browser.bbox == (5.0, 43.0, 17.0, 49.0)
    assert "theia.snow_alps" in ids(browser)
    browser.map.clear_button.click()
    assert browser.bbox is None and len(browser.results) == len(SMALL_RECORDS)


def test_bad_box_typed_is_explained_in_the_widget(small_index):
    browser = DatasetBrowser(index=small_index, namespace={})
    fields = browser.map._fields
    fields["south"].value, fields["north"].value = 50, 40
    browser.map.apply_button.click()
    assert browser.map.status.kind == "error"
    assert "south" in browser.map.status.text and "Traceback" not in browser.map.status.text
    assert browser.bbox is None


def test_time_range_pickers(small_index):
    browser = DatasetBrowser(index=small_index, namespace={})
    browser.start_picker.value = dt.date(2021, 1, 1)
    assert browser.time_range == ("2021-01-01", None)
    expected = small_index.search(time=("2021-01-01", None)).ids
    assert ids(browser) == expected
    assert "aeris.air_temperature_paris" not in expected and "theia.snow_alps" in expected
    browser.time_range = ("1995-01-01", "1996-12-31")  # from code: the pickers follow
    assert browser.start_picker.value == dt.date(1995, 1, 1)
    assert ids(browser) == ["aeris.air_temperature_paris"]
    browser.any_time_button.click()
    assert browser.time_range is None and len(browser.results) == len(SMALL_RECORDS)


def test_nothing_found_is_said_and_reset_recovers(small_index):
    browser = DatasetBrowser(index=small_index, namespace={})
    browser.query = "temperature"
    browser.facets = {"pole": ["theia"]}
    assert browser.results == []
    assert browser.status.kind == "warning" and "Nothing found" in browser.status.text
    browser.reset_button.click()
    assert len(browser.results) == len(SMALL_RECORDS) and browser.status.text == ""
    assert browser.search_box.value == "" and browser.facets == {}


def test_long_result_lists_are_capped_but_counted():
    from vre_catalog import CatalogIndex

    from .conftest import record

    records = [record(f"odatis.d{i:03d}", f"Dataset {i}", [("v", "1")], (0, 0, 1, 1),
                      ("2000-01-01", None)) for i in range(30)]
    browser = DatasetBrowser(index=CatalogIndex.from_entries(records), namespace={}, max_listed=10)
    assert len(browser.results) == 30
    assert len(browser.results_list.options) == 10
    assert "30</b> datasets" in browser.count_label.value and "first 10" in browser.count_label.value


def test_broken_catalogue_is_reported_in_the_widget(tmp_path):
    browser = DatasetBrowser(catalog_path=tmp_path / "missing.yaml", namespace={})
    assert browser.index is None
    assert browser.status.kind == "error"
    assert "catalogue" in browser.status.text and "vre catalog check" in browser.status.text


@pytest.mark.parametrize("name", ["1ds", "class", "my ds", ""])
def test_invalid_variable_name_is_refused(index, name):
    namespace = {}
    browser = DatasetBrowser(index=index, namespace=namespace, auto_preview=False)
    browser.selected = "odatis.sst_coastal_daily"
    browser.var_name.value = name
    browser.open_button.click()
    assert namespace == {}
    assert browser.open_status.kind == "error" and "valid Python variable name" in browser.open_status.text


def test_unknown_selection_is_explained(small_index):
    browser = DatasetBrowser(index=small_index, namespace={})
    browser.selected = "odatis.sst_brst"
    assert browser.status.kind == "error"
    assert browser.status.text.startswith("unknown catalogue entry 'odatis.sst_brst'; did you mean odatis.sst_brest")
