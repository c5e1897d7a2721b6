"""A person's path, in a real browser: log in, choose a profile, land in JupyterLab, run a cell."""

import secrets
import shutil

import pytest

from vre_testing import need
from widgets.lab import cell_output, run_cell, wait_kernel_idle

pytestmark = [pytest.mark.docker, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    need(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_login_spawn_and_run_a_cell(hub, browser, output_dir):
    password = secrets.token_urlsafe(12)
    name, _ = hub.new_user(password=password)
    shots = output_dir / "hub"
    shots.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(90_000)
    try:
        page.goto(f"{hub.url}/hub/login")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", password)
        page.screenshot(path=shots / "1-login.png")
        page.click("input[type=submit], button[type=submit]")

        # The spawn form offers the profiles.
        page.wait_for_selector("select[name=profile]")
        options = page.locator("select[name=profile] option").all_inner_texts()
        assert any("Standard" in o for o in options) and any("Large memory" in o for o in options)
        page.screenshot(path=shots / "2-spawn-form.png")
        page.select_option("select[name=profile]", "standard")
        page.click("form input[type=submit], form button[type=submit]")

        # JupyterLab, with the shipped notebooks folder in the file browser.
        page.wait_for_url(f"**/user/**/lab**", timeout=120_000)
        page.wait_for_selector(".jp-Launcher", timeout=120_000)
        page.wait_for_selector(".jp-DirListing-item[title*='notebooks'], .jp-DirListing-itemName:has-text('notebooks')")
        page.screenshot(path=shots / "3-lab.png")

        # New notebook from the launcher, run a cell, read its output.
        page.locator(".jp-LauncherCard[title*='Python 3']").first.click()
        page.locator(".jp-Notebook .jp-CodeCell").first.wait_for()
        wait_kernel_idle(page)
        cell = run_cell(page, "import getpass; print('hello from', getpass.getuser(), 6 * 7)")
        page.screenshot(path=shots / "4-cell-output.png")
        assert cell_output(cell) == "hello from jovyan 42"
    finally:
        page.close()
        hub.client.stop_server(name)
