"""The jobs page in a real browser: hub login (OAuth), submit a job from the form, see it complete."""

import os
import secrets
import shutil

import pytest
from vre_hub import naming

from .conftest import NOTEBOOKS, JobsUser, wait_for_service

pytestmark = [pytest.mark.docker, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]


def test_submit_and_browse_from_the_page(hub, backend, jobs_url, output_dir):
    if shutil.which("chromium") is None:
        why = "Debian chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"required in CI: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    password = secrets.token_urlsafe(12)
    name, token = hub.new_user(password=password)
    backend.write_files(naming.home_volume_name(name), "work", {"params.ipynb": (NOTEBOOKS / "params.ipynb").read_bytes()})
    wait_for_service(JobsUser(name, token, jobs_url))
    shots = output_dir / "jobs"
    shots.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(60_000)
        try:
            page.goto(f"{hub.url}/hub/login?next=/services/jobs/")
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", password)
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url("**/services/jobs/")  # through the hub's OAuth to the service
            page.wait_for_selector("text=Signed in as")
            assert name in page.inner_text(".who")

            page.fill("#notebook", "work/params.ipynb")
            page.click("#inspect")
            page.wait_for_selector("#params code")
            assert "alpha" in page.inner_text("#params") and "float" in page.inner_text("#params")

            page.fill("#parameters", '{"alpha": "oops"}')
            page.click("button[type=submit]")
            page.wait_for_selector("#message.error")
            assert "expects float" in page.inner_text("#message")

            page.fill("#parameters", '{"alpha": 2.5}')
            page.click("button[type=submit]")
            page.wait_for_selector("#message.ok")
            assert "Submitted 1 job(s)" in page.inner_text("#message")
            page.wait_for_selector("#jobs .state.completed", timeout=120_000)
            row = page.inner_text("#jobs tbody tr")
            assert '"alpha":2.5' in row.replace(" ", "")
            assert page.inner_text("#jobs tbody tr td.backend") == "docker"  # which backend ran it
            page.screenshot(path=shots / "jobs-page.png", full_page=True)

            with page.expect_popup() as popup:
                page.click("#jobs tbody tr a:has-text('html')")
            html = popup.value
            html.wait_for_load_state()
            assert "RESULT alpha=2.5" in html.content()
        finally:
            browser.close()
