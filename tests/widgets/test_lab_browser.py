"""The participant's path in a real JupyterLab (real server, kernel and Chromium).

Open a notebook, run ``DatasetBrowser()``, type a query, click a facet and a result, see
the quick-look render, click Open, then check from a cell that the variable exists.
Screenshots go to tests/output/widgets/. Requests leaving 127.0.0.0/8 are blocked and
listed: the map must work without any tile server.
"""

from __future__ import annotations

import shutil
import sys
import textwrap

import pytest

from . import lab
from .conftest import need

pytestmark = pytest.mark.browser

WIDGET = ".vre-dataset-browser"


@pytest.fixture(scope="module")
def shots(output_dir):
    folder = output_dir / "widgets"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory, catalog_path):
    need(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install chromium)")
    root = tmp_path_factory.mktemp("lab")
    server = lab.LabServer(root, env={"VRE_CATALOG": str(catalog_path)}, python=sys.executable)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def page(lab_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = lab.launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1500, "height": 1300})
        page.set_default_timeout(60_000)
        page.blocked = lab.loopback_only(page)
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        yield page
        browser.close()


def wait_count_changes(page, count, old: int):
    """Wait until the result count label shows another number than ``old``."""
    page.wait_for_function(
        "([el, n]) => el.textContent.trim().split(' ')[0].replace(/,/g, '') !== String(n)",
        arg=[count.element_handle(), old])


def painted_pixels(canvas) -> int:
    """How many pixels of a canvas are not blank: a rendered plot has thousands."""
    return canvas.evaluate("""(c) => {
        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) {
            if (data[i + 3] > 0 && (data[i] < 245 || data[i + 1] < 245 || data[i + 2] < 245)) n++;
        }
        return n;
    }""")


def test_find_preview_and_open_a_dataset(lab_server, page, shots):
    lab_server.write_notebook("discover.ipynb")
    lab.open_notebook(page, lab_server.url, "discover.ipynb", lab_server.token)

    lab.run_cell(page, "from vre_widgets import DatasetBrowser\nbrowser = DatasetBrowser()\nbrowser")
    widget = page.locator(WIDGET)
    widget.wait_for()
    count = widget.locator(".widget-html", has_text="datasets").first
    count.wait_for()
    total = int(count.inner_text().split()[0].replace(",", ""))
    assert total >= 8
    page.screenshot(path=shots / "1-browser.png", full_page=True)

    # Type a query and press Enter.
    box = widget.locator("input[placeholder^='Search datasets']")
    box.click()
    page.keyboard.type("temperature")
    page.keyboard.press("Enter")
    wait_count_changes(page, count, total)
    after_query = int(count.inner_text().split()[0].replace(",", ""))
    assert 0 < after_query < total

    # Click a facet value: ODATIS in the Pole list.
    pole = widget.locator(".widget-select-multiple", has_text="Pole").locator("select")
    pole.locator("option", has_text="odatis").click()
    wait_count_changes(page, count, after_query)
    results = widget.locator(".widget-select:not(.widget-select-multiple) select")
    options = [o.replace("\xa0", " ") for o in results.locator("option").all_inner_texts()]
    assert options and all(o.endswith("· odatis") for o in options)
    page.screenshot(path=shots / "2-query-and-facet.png", full_page=True)

    # Keyboard: focus the result list, arrow down selects the first result (card appears).
    box = results.bounding_box()  # click the empty part of the list: focus, no selection
    results.click(position={"x": 20, "y": box["height"] - 8})
    page.keyboard.press("ArrowDown")
    first_title = options[0].rsplit(" · ", 1)[0]
    widget.locator(".vre-card h4", has_text=first_title[:30]).wait_for()

    # Click the gridded ocean dataset: card and quick-look map.
    results.locator("option", has_text="monthly ocean environment").click()
    widget.locator(".vre-card h4", has_text="monthly ocean environment").wait_for()
    assert "Sea water potential temperature" in widget.locator(".vre-card").inner_text()
    widget.locator(".widget-html", has_text="Quick-look: gridded").wait_for(timeout=120_000)
    canvas = widget.locator("canvas").first
    canvas.wait_for(timeout=120_000)
    page.wait_for_function("(c) => c.width > 100 && c.height > 100", arg=canvas.element_handle())
    page.wait_for_timeout(1500)  # let Bokeh paint
    assert painted_pixels(canvas) > 5000, "the quick-look canvas stayed blank"
    widget.screenshot(path=shots / "3-preview.png")

    # Open into a named variable; the one-line code appears.
    name_box = widget.locator(".widget-text", has_text="Variable").locator("input")
    name_box.fill("ocean")
    name_box.press("Enter")
    widget.get_by_role("button", name="Open").click()
    code = widget.locator("pre.vre-code")
    code.wait_for(timeout=120_000)
    assert code.inner_text().startswith("import intake\nocean = intake.open_catalog(")
    code.scroll_into_view_if_needed()
    page.screenshot(path=shots / "4-opened.png")

    # The variable exists in the kernel and is the dataset.
    cell = lab.run_cell(page, "print(type(ocean).__name__, sorted(ocean.data_vars))")
    output = lab.cell_output(cell)
    page.screenshot(path=shots / "5-variable-checked.png", full_page=True)
    assert output.startswith("Dataset ["), output
    assert "thetao" in output

    assert page.blocked == [], f"requests left loopback: {page.blocked[:5]}"
    assert page.js_errors == [], page.js_errors


def test_explorer_click_and_keyboard(lab_server, page, shots):
    lab_server.write_notebook("explore.ipynb")
    lab.open_notebook(page, lab_server.url, "explore.ipynb", lab_server.token)
    lab.run_cell(page, "from vre_catalog import CatalogIndex\nfrom vre_widgets import DatasetExplorer\n"
                       "ds = CatalogIndex.from_catalog()['odatis.ocean_environment_monthly'].open()\n"
                       "explorer = DatasetExplorer(ds)\nexplorer")
    widget = page.locator(".vre-dataset-explorer")
    canvases = widget.locator("canvas")
    try:
        canvases.nth(1).wait_for(timeout=120_000)  # map and series
    finally:
        page.screenshot(path=shots / "6-explorer.png", full_page=True)
    page.wait_for_timeout(1500)
    # Bokeh stacks a few canvases per plot; the map and the series each paint one fully.
    painted = sorted((painted_pixels(canvases.nth(i)) for i in range(canvases.count())), reverse=True)
    assert len(painted) >= 2 and painted[1] > 1000, painted

    # A click on the map picks the series point (Bokeh Tap event back to Python).
    lon = widget.locator(".widget-text", has_text="lon").locator("input")
    before = lon.input_value()
    box = canvases.nth(0).bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.4)
    page.wait_for_function("([el, old]) => el.value !== old", arg=[lon.element_handle(), before])

    # Keyboard: the time slider handle moves with the arrow keys.
    handle = widget.locator(".widget-hslider .noUi-handle, .widget-hslider [role=slider]").first
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(1500)
    cell = lab.run_cell(page, "print(explorer.point is not None, explorer.isel['time'], "
                              "explorer.series_view.kind)")
    page.screenshot(path=shots / "6-explorer.png", full_page=True)
    assert lab.cell_output(cell) == "True 1 station"
    assert page.blocked == [], f"requests left loopback: {page.blocked[:5]}"


def test_record_card_tabs_show_hostile_metadata_as_text(lab_server, page, shots):
    """Overview and Full metadata tabs in a real browser, on an entry whose metadata carries markup (as a
    careless or hostile catalogue record would): shown as text, nothing runs, no element is injected."""
    dialogs = []

    def on_dialog(dialog):
        if dialog.type == "beforeunload":  # leaving the previous test's unsaved notebook
            dialog.accept()  # (dismissing it cancels the navigation: net::ERR_ABORTED)
        else:
            dialogs.append(dialog.message)
            dialog.dismiss()

    page.on("dialog", on_dialog)
    lab_server.write_notebook("card.ipynb")
    lab.open_notebook(page, lab_server.url, "card.ipynb", lab_server.token)
    hostile = '<script>alert(1)</script><img src=x onerror=alert(2)>'
    lab.run_cell(page, textwrap.dedent(f"""\
        from vre_catalog import CatalogIndex
        from vre_widgets import DatasetBrowser
        h = {hostile!r}
        idx = CatalogIndex.from_entries([{{"id": "sextant.syn_hostile", "pole": "odatis", "title": "SYNTHETIC " + h,
            "description": "Abstract " + h, "keywords": [h], "geospatial_lon_min": -10, "geospatial_lon_max": 5,
            "geospatial_lat_min": 40, "geospatial_lat_max": 50, "time_coverage_start": "2001-01-01",
            "links": [{{"url": "javascript:alert(3)", "protocol": "api", "name": h}}],
            "harvest": {{"source": "sextant", "identifier": "syn-hostile", "datestamp": "2024",
                        "harvested": "2024", "readable": False, "note": h}}}}])
        browser = DatasetBrowser(index=idx, namespace={{}}, auto_preview=False)
        browser.selected = "sextant.syn_hostile"
        browser"""))
    widget = page.locator(WIDGET)
    card = widget.locator(".vre-card")
    card.locator("h4", has_text="SYNTHETIC <script>").wait_for()
    assert "Abstract <script>alert(1)</script>" in card.inner_text()
    assert card.locator("svg.vre-card-extent rect").count() == 1
    widget.get_by_text("Full metadata", exact=True).click()
    full = widget.locator(".vre-card-full")
    full.wait_for()
    text = full.inner_text()
    assert "readable" in text and "javascript:alert(3)" in text  # shown as text, not as a link
    page.screenshot(path=shots / "6-card-full-metadata.png", full_page=True)
    assert widget.locator(".vre-card img, .vre-card-full img, .vre-card script, .vre-card-full script").count() == 0
    assert widget.locator(".vre-card a[href^='javascript'], .vre-card-full a").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == [] and page.js_errors == []
