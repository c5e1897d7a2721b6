"""A participant finds REAL data on a readable map, in a real JupyterLab with Chromium (issue 14).

Filter on the Data facet ("real"), pick IERS polar motion: the badge reads real and the leaflet map draws the
Natural Earth coastlines and borders (a GeoJSON layer, as SVG paths in the DOM) with no tile server, and so does
the record card's small extent map; the OSTIA quick-look has its coastlines too. Requests leaving 127.0.0.0/8
are blocked and must be none.
Screenshots: tests/output/widgets/7-real-map.png, 8-real-quicklook.png.
"""

from __future__ import annotations

import pytest

from . import lab
from .test_lab_browser import WIDGET, lab_server, page, painted_pixels, shots  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser

COUNTRY_FILL = "#e8e4d8"  # vre_widgets.basemap.COUNTRY_STYLE: tells the country polygons from other layers


def test_select_a_real_dataset_see_coastlines_and_the_real_badge(lab_server, page, shots):  # noqa: F811
    lab_server.write_notebook("real.ipynb")
    lab.open_notebook(page, lab_server.url, "real.ipynb", lab_server.token)
    lab.run_cell(page, "import os\nos.environ.pop('VRE_BASEMAP_URL', None)\n"
                       "from vre_widgets import DatasetBrowser\nbrowser = DatasetBrowser()\nbrowser")
    widget = page.locator(WIDGET)
    widget.wait_for()
    # The map shows the countries before any search: offline, from the pyogrio wheel's Natural Earth.
    countries = widget.locator(f".leaflet-overlay-pane path[fill='{COUNTRY_FILL}']")
    page.wait_for_function("(n) => document.querySelectorAll(n).length > 100",
                           arg=f"{WIDGET} .leaflet-overlay-pane path[fill='{COUNTRY_FILL}']")
    assert countries.count() >= 150
    assert widget.locator(".leaflet-tile-pane img").count() == 0  # no tile layer without VRE_BASEMAP_URL

    data = widget.locator(".widget-select-multiple", has_text="Data").locator("select")
    data.locator("option", has_text="real").click()
    results = widget.locator(".widget-select:not(.widget-select-multiple) select")
    page.wait_for_function("(s) => s.options.length > 0 && [...s.options].every(o => o.text.includes('[real]'))",
                           arg=results.element_handle())
    options = [o.replace("\xa0", " ") for o in results.locator("option").all_inner_texts()]
    assert len(options) >= 12 and all("[real]" in o for o in options)

    results.locator("option", has_text="Polar motion").click()
    badge = widget.locator(".vre-sample-badge")
    badge.wait_for()
    assert badge.inner_text().strip() == "real"
    widget.locator(".vre-card h4", has_text="Polar motion").wait_for()
    # The card's small extent map has the same Natural Earth outlines (an SVG path of many rings).
    coast = widget.locator(".vre-card svg.vre-card-extent path.vre-card-coastlines")
    assert coast.count() == 1 and coast.get_attribute("d").count("M") > 150
    page.screenshot(path=shots / "7-real-map.png", full_page=True)

    # A gridded real dataset: its quick-look draws the coastlines over the data.
    results.locator("option", has_text="OSTIA").click()
    widget.locator(".vre-card h4", has_text="OSTIA").wait_for()
    widget.locator(".widget-html", has_text="Quick-look: gridded").wait_for(timeout=120_000)
    canvas = widget.locator("canvas").first
    canvas.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)  # let Bokeh paint
    assert painted_pixels(canvas) > 5000
    cell = lab.run_cell(page, "print(browser.quicklook.kind, browser.quicklook.coastlines > 20, "
                              "browser.selected_entry.sample_kind)")
    assert lab.cell_output(cell) == "gridded True real"
    widget.screenshot(path=shots / "8-real-quicklook.png")
    assert page.blocked == [], f"requests left loopback: {page.blocked[:5]}"
    assert page.js_errors == [], page.js_errors
