"""Attack: open another user's Dask dashboard through the hub's proxy (issue 16).

A cluster's dashboard link (``cluster.dashboard_link``, also shown in JupyterLab) is
``/services/dask-gateway/clusters/<name>/status`` on the hub. dask-gateway routes it to the
dashboard with no authentication (the random name was the only protection): anyone who
learns a link (a shared screenshot, a notebook output, the browser history of a shared
machine) watched the cluster and its task names. Here, with a real hub, a real gateway
(local backend) and a real cluster, over HTTP through the hub's proxy as a browser:
the owner, logged in to the hub, gets the dashboard (HTTP 200, Bokeh's page); another
logged-in user and another user's token get 404; nobody logged in gets 403, or the hub's
login page for a browser page.
"""

from __future__ import annotations

import time

import pytest
import requests
from gateway.conftest import _close_gateways, local_gateway, python_for_all  # noqa: F401 (fixtures)
from slurm_cluster import unix_user  # noqa: F401 (fixture)
from vre_testing import login

# A gateway client may block in a read (tests/gateway/conftest.py): fail instead of hanging.
pytestmark = pytest.mark.timeout(600, method="thread")

PASSWORD = "dashboard-test-password-1"
HTML = {"Accept": "text/html,application/xhtml+xml"}


def _running(gateway, name: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = gateway.get_cluster(name)
        if report.status.name == "RUNNING" and report.dashboard_link:
            return report
        time.sleep(1)
    raise TimeoutError(f"cluster {name} not running after {timeout} s")


def _is_dashboard(response) -> bool:
    return response.status_code == 200 and "Dask" in response.text and "bokeh" in response.text.lower()


def test_a_dashboard_opens_for_its_owner_only(local_gateway):  # noqa: F811
    hub = local_gateway
    owner, token = hub.new_user(password=PASSWORD)
    other, other_token = hub.new_user(password=PASSWORD)
    gateway = hub.gateway(token)
    name = gateway.submit()  # the request alone (no client connection, see test_gateway.py)
    try:
        link = _running(gateway, name).dashboard_link
        assert link == f"{hub.url}/clusters/{name}/status"  # through the hub's proxy

        # Another user, logged in to the hub, with the link: 404, as for a cluster that does not exist.
        as_other = login(hub.process.url, other, PASSWORD)
        stolen = as_other.get(link, headers=HTML, timeout=60)
        assert stolen.status_code == 404 and "bokeh" not in stolen.text.lower()
        assert as_other.get(f"{hub.url}/clusters/{name}/json/counts.json", timeout=60).status_code == 404
        assert requests.get(link, headers={"Authorization": f"jupyterhub {other_token}"}, timeout=60).status_code == 404
        # A forged session cookie is no session.
        forged = requests.get(link, cookies={"vre-dask-dashboard": "forged-token"}, timeout=60)
        assert forged.status_code == 403

        # Nobody logged in: 403; a browser page is sent to the hub's login instead.
        anonymous = requests.get(link, timeout=60)
        assert anonymous.status_code == 403 and "bokeh" not in anonymous.text.lower()
        assert requests.get(f"{hub.url}/clusters/{name}/json/counts.json", timeout=60).status_code == 403
        browser = requests.get(link, headers=HTML, timeout=60)
        assert browser.url.startswith(f"{hub.process.url}/hub/login") and not _is_dashboard(browser)

        # The owner, logged in to the hub: sent through the hub's OAuth and back, then the page.
        as_owner = login(hub.process.url, owner, PASSWORD)
        page = as_owner.get(link, headers=HTML, timeout=60)
        assert _is_dashboard(page), (page.status_code, page.url, page.text[:300])
        assert any("/hub/api/oauth2/authorize" in r.headers.get("Location", "") for r in page.history)
        # ... and the dashboard's data (what its plots fetch) with the same cookie.
        counts = as_owner.get(f"{hub.url}/clusters/{name}/json/counts.json", timeout=60)
        assert counts.status_code == 200 and "workers" in counts.json()
        # The owner's gateway token works too (API clients, scripts).
        with_token = requests.get(link, headers={"Authorization": f"jupyterhub {token}"}, timeout=60)
        assert _is_dashboard(with_token)
    finally:
        gateway.stop_cluster(name)


def test_the_owners_browser_gets_a_live_dashboard(local_gateway):  # noqa: F811
    """In Chromium: the owner logs in to the hub, opens the dashboard link, and the page's
    Bokeh websocket (proxied by the gateway after the owner check) brings the plots' data."""
    import shutil

    from playwright.sync_api import sync_playwright
    from vre_testing import need

    need(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install chromium)")
    hub = local_gateway
    owner, token = hub.new_user(password=PASSWORD)
    gateway = hub.gateway(token)
    name = gateway.submit()
    try:
        link = _running(gateway, name).dashboard_link
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"])
            try:
                page = browser.new_page()
                page.goto(f"{hub.process.url}/hub/login")
                page.fill("input[name=username]", owner)
                page.fill("input[name=password]", PASSWORD)
                page.click("[type=submit]")
                page.wait_for_url("**/hub/**")
                frames = []
                page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(ws.url)))
                with page.expect_websocket(timeout=60_000) as opened:
                    response = page.goto(link)
                assert response.status == 200 and page.url == link
                assert f"/services/dask-gateway/clusters/{name}/" in opened.value.url
                page.wait_for_function("() => document.title.includes('Dask')", timeout=60_000)
                deadline = time.monotonic() + 60
                while not frames and time.monotonic() < deadline:
                    page.wait_for_timeout(500)
                assert frames, "the dashboard's websocket received nothing"
            finally:
                browser.close()
    finally:
        gateway.stop_cluster(name)
