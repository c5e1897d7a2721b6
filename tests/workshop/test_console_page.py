"""The teacher's whole path in the console page (``/services/workshop/``), in Chromium, without a shell.

An admin makes an account a teacher (hub group ``teachers``, through the hub API: no restart).
The teacher logs in to the hub in Chromium, creates a 5-seat workshop in the page (with a shipped
notebook), downloads
the seat list and opens the cards, prewarms (progress shown), then a participant logs in with
a card's password and runs a cell; the teacher sees them logged in with their notebook open,
opens their JupyterLab in one click, pushes a notebook, collects (zip downloaded, with the
participant's notebook) and ends. The ended participant can no longer log in, get a server or
submit a job. Real hub, proxy, Docker, user image, kernels and browser.
"""

import csv
import io
import json
import os
import re
import secrets
import shutil
import time
import zipfile

import pytest
import requests

from hub.kernel_client import KernelSession
from vre_core import accounts
from vre_testing import CHROMIUM_ARGS, browser_login, login
from vre_workshop.service import TEACHERS_GROUP

pytestmark = [pytest.mark.docker]
NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _chromium():
    if shutil.which("chromium") is None:
        why = "Debian chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"required in CI: {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def _row_text(page, user) -> str:
    return page.locator(f"#status tr[data-user='{user}']").inner_text()


def _wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(1)


def test_teacher_runs_a_workshop_from_the_browser(ws_hub, tmp_path, output_dir):
    client, url = ws_hub.client, ws_hub.url
    teacher, password = f"{ws_hub.prefix}-prof", secrets.token_urlsafe(12)
    client.ensure_user(teacher)
    accounts.set_password(teacher, password, ws_hub.process.state.db_url)
    # The admin gives the teacher role: membership of the hub group, no restart.
    if client.group(TEACHERS_GROUP) is None:
        client.create_group(TEACHERS_GROUP, [])
    client.request("POST", f"/groups/{TEACHERS_GROUP}/users", json={"users": [teacher]})
    name = f"{ws_hub.prefix}-web"

    with _chromium() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1300, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            browser_login(page, url, teacher, password, then="/services/workshop/")
            page.wait_for_selector("text=Signed in as")

            page.fill("#name", name)
            page.fill("#seats", "5")
            page.select_option("#shipped", ["neo_ecological_niche.ipynb"])
            page.click("#create-button")
            page.wait_for_selector("#message.ok, #message.error", timeout=180_000)
            assert f"workshop {name} created: 5 seats" in page.inner_text("#message")

            with page.expect_download() as download:
                page.click("#roster")
            rows = list(csv.DictReader(open(download.value.path()).read().splitlines()))
            seats = {r["username"]: r["password"] for r in rows if r["role"] == "participant"}
            assert len(seats) == 5
            participant = sorted(seats)[0]

            cards = context.new_page()
            cards.goto(url + page.locator("#cards").get_attribute("href"))
            assert cards.locator(".card").count() == 5
            assert seats[participant] in cards.locator(".card").first.inner_text()
            cards.close()

            page.click("#prewarm")
            page.wait_for_selector("#progress:text-matches('^(done|failed)')", timeout=600_000)
            assert "5/5 started" in page.inner_text("#progress")
            assert "failed" not in page.inner_text("#progress")

            # A participant logs in with the card's password and runs a cell in an open notebook.
            session = login(url, participant, seats[participant])
            assert "jupyterhub-hub-login" in session.cookies
            assert session.get(f"{url}/user/{participant}/lab", timeout=60).status_code == 200  # their JupyterLab
            token = client.token_for(participant, note="the participant's notebook")
            server = f"{url}/user/{participant}"
            headers = {"Authorization": f"token {token}"}
            saved = requests.put(f"{server}/api/contents/answer.ipynb", headers=headers, timeout=30,
                                 json={"type": "notebook", "content": {**NOTEBOOK, "cells": [
                                     {"cell_type": "markdown", "metadata": {}, "source": "my answer: 42"}]}})
            assert saved.status_code in (200, 201), saved.text
            opened = requests.post(f"{server}/api/sessions", headers=headers, timeout=60,
                                   json={"path": "answer.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
            assert opened.status_code == 201, opened.text
            kernel = KernelSession(server, token)
            assert kernel.execute("print(6 * 7)")["stdout"].strip() == "42"

            # The teacher sees it in the live table (refreshed every 5 s).
            _wait(lambda: "answer.ipynb" in _row_text(page, participant), 60, "the open notebook never showed")
            row = _row_text(page, participant)
            assert "yes" in row and "running" in row and "MiB" in row
            assert re.match(r"as of \d\d:\d\d:\d\d UTC \(\d+ s ago\)", page.inner_text("#fresh"))  # the snapshot's age
            # docs/screenshot-workshop-console.png is this one
            page.screenshot(path=str(output_dir / "workshop-console.png"), full_page=True)

            with context.expect_page() as lab:
                page.locator(f"#status tr[data-user='{participant}'] button").click()
            lab = lab.value
            lab.wait_for_url(re.compile(rf"/(hub/api/oauth2/authorize|user/{participant}/lab)"), timeout=120_000)
            if "/hub/api/oauth2/authorize" in lab.url:  # the hub asks once: access someone else's server
                lab.click("button:has-text('Authorize')")
            lab.wait_for_url(f"**/user/{participant}/lab**", timeout=120_000)
            lab.wait_for_selector("#jp-top-panel, #main", timeout=120_000)  # JupyterLab drew itself
            lab.close()

            pushed = tmp_path / "02-exercise.ipynb"
            pushed.write_text(json.dumps(NOTEBOOK))
            page.set_input_files("#push", str(pushed))
            page.wait_for_selector("#message.ok:has-text('02-exercise.ipynb pushed')", timeout=180_000)
            there = requests.get(f"{server}/api/contents/workshops/{name}/02-exercise.ipynb", headers=headers, timeout=30)
            assert there.status_code == 200

            with page.expect_download(timeout=180_000) as download:
                page.click("#collect")
            names = zipfile.ZipFile(io.BytesIO(open(download.value.path(), "rb").read())).namelist()
            assert f"{name}/{participant}/answer.ipynb" in names
            assert f"{name}/{participant}/workshops/{name}/02-exercise.ipynb" in names
            assert f"{name}/{participant}/workshops/{name}/neo_ecological_niche.ipynb" in names  # chosen at creation

            page.on("dialog", lambda dialog: dialog.accept())
            page.click("#end")
            page.wait_for_selector("#message.ok:has-text('ended')", timeout=300_000)
            page.screenshot(path=str(tmp_path / "console.png"))
        finally:
            browser.close()

    # The ended participant: no login, no server, no job.
    assert "jupyterhub-hub-login" not in login(url, participant, seats[participant]).cookies
    assert ws_hub.api("POST", f"/users/{participant}/server").status_code == 403
    job = requests.post(f"{url}/services/jobs/api/jobs", headers=headers, timeout=30, json={"notebook": "answer.ipynb"})
    assert job.status_code == 403, job.text
