"""Maps people can read offline (Natural Earth coastlines and borders from an installed package, tiles only when
VRE_BASEMAP_URL is set) and the real / synthetic / staged badge and facet of the DatasetBrowser (issue 14)."""

from __future__ import annotations

import ipyleaflet as L

from vre_catalog import CatalogIndex
from vre_widgets import DatasetBrowser, preview
from vre_widgets.basemap import countries
from vre_widgets.bbox_map import BBoxMap


def test_map_has_natural_earth_outlines_and_no_tile_layer_by_default(monkeypatch):
    monkeypatch.delenv("VRE_BASEMAP_URL", raising=False)
    m = BBoxMap()
    assert not any(isinstance(layer, L.TileLayer) for layer in m.map.layers)  # nothing to fetch
    assert m.coastlines in m.map.layers and isinstance(m.coastlines, L.GeoJSON)
    features = m.coastlines.data["features"]
    names = {f["properties"]["name"] for f in features}
    assert len(features) == 177 and {"France", "Brazil", "Australia", "Antarctica"} <= names
    france = next(f for f in features if f["properties"]["name"] == "France")
    lons = [p[0] for poly in france["geometry"]["coordinates"] for ring in poly for p in ring]
    assert min(lons) < -4 and max(lons) > 7  # Brittany to Alsace, in degrees east


def test_tile_layer_only_when_a_basemap_url_is_configured(monkeypatch):
    """The URL is only handed to the browser's leaflet; no request is made here (none leaves loopback anyway)."""
    monkeypatch.setenv("VRE_BASEMAP_URL", "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png")
    tiles = [layer for layer in BBoxMap().map.layers if isinstance(layer, L.TileLayer)]
    assert [t.url for t in tiles] == ["http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"]


def test_map_quicklooks_draw_the_coastlines_of_their_extent(index):
    gridded = preview.quicklook(index["odatis.ostia_sst_tropics_monthly"].open())
    assert gridded.kind == "gridded" and gridded.coastlines > 20  # Africa, the Americas, Indonesia...
    glyphs = {type(r.glyph).__name__ for r in gridded.figure.renderers}
    assert "MultiLine" in glyphs, glyphs
    x, y = gridded.figure.x_range, gridded.figure.y_range  # still the data's extent (+3 %), not the world
    assert -192 < x.start < -180 and 180 < x.end < 192 and -6 < y.start < -4.5 and 4 < y.end < 6
    points = preview.quicklook(index["formater.earthquake_catalogue_france"].open())
    assert points.kind == "points" and points.coastlines > 0
    series = preview.quicklook(index["aeris.co2_mauna_loa_weekly"].open())
    assert series.coastlines == 0


def test_sample_facet_filters_and_each_result_carries_its_badge(index):
    browser = DatasetBrowser(index=index, namespace={}, auto_preview=False)
    counts = browser.facet_counts["sample"]
    assert counts["real"] >= 12 and counts["synthetic"] >= 1
    browser.facets = {"sample": ["real"]}
    assert len(browser.results) == counts["real"]
    assert all(e.sample_kind == "real" for e in browser.results)
    labels = [label for label, _ in browser.results_list.options]
    assert all(" [real] · " in label for label in labels), labels
    browser.selected = "formater.polar_motion_daily"
    assert ">real</span>" in browser.badge.value and "astropy-iers-data" in browser.badge.value
    browser.facets = {"sample": ["synthetic"]}
    browser.selected = browser.results[0].id
    assert ">synthetic</span>" in browser.badge.value


def test_harvested_record_without_a_sample_has_no_badge():
    idx = CatalogIndex.from_entries([{"id": "sextant.x", "pole": "odatis", "title": "A harvested record",
                                      "harvest": {"source": "sextant", "identifier": "x"}}])
    browser = DatasetBrowser(index=idx, namespace={}, auto_preview=False)
    assert browser.facet_counts["sample"] == {}
    browser.selected = "sextant.x"
    assert browser.badge.value == "" and countries() is not None
