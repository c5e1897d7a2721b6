"""Attacks on the jobs service (issue 12, findings 3 and 6), run for real.

- Stored XSS: a user's own notebook plants a malicious ``status.json`` in its results
  folder and kills its runner, so the service reads the planted file; an admin then opens
  the jobs page in Chromium (logged in through the hub's login form, "show all users").
- A disabled account (``vre users disable``, an admin un-authorizing it as /hub/authorize
  does, or the end of its workshop) keeps its old API token and its old jobs-page cookie:
  neither may submit, list or cancel any more.
- One user cannot book the whole queue (per-user quota) nor starve the others (the next
  free slot goes to the user with the fewest running jobs, round robin).

The hub, its managed jobs service, Docker, the user image and papermill are all real. The
quota and fairness test starts a second instance of the service (``python -m vre_jobs``)
with its own small limits and database, authenticating users with the same real hub.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time

import docker
import pytest
import requests
from jobs.conftest import NOTEBOOKS, JobsUser, backend, jobs_url, make_user, wait_for_service  # noqa: F401 (fixtures)
from vre_hub import accounts, naming
from vre_hub import cli as vre_cli
from vre_workshop import cli as workshop_cli
from vre_workshop.registry import Registry
from vre_jobs.containers import LABEL_USER
from vre_testing import free_port, need

pytestmark = [pytest.mark.docker]

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]

# Would mark the page if it ever ran: a global, the title and a request we can see.
PAYLOAD = "<img src=x onerror=\"window.__xss=1;document.title='pwned';fetch('/xss-beacon')\">"


def notebook(*sources: str) -> bytes:
    cells = [
        {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [], "source": s}
        for i, s in enumerate(sources)
    ]
    meta = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    return json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}).encode()


def planting_notebook(status: dict) -> bytes:
    """A notebook that writes ``status`` as its own job's status.json, then kills the runner
    (the kernel's parent) so that the runner's final status.json never replaces it."""
    return notebook(
        "import json, os, signal\n"
        "folder = os.path.join(os.path.expanduser('~'), 'jobs', os.environ['VRE_JOB_ID'])\n"
        f"status = json.loads({json.dumps(json.dumps(status))})\n"
        "with open(os.path.join(folder, 'status.json'), 'w') as f:\n"
        "    json.dump(status, f)\n"
        "os.kill(os.getppid(), signal.SIGKILL)\n"
    )


def one_line_error(response: requests.Response) -> str:
    error = response.json()["error"]
    assert error and "\n" not in error, response.text
    return error


def hub_login(hub_url: str, name: str, password: str) -> tuple[requests.Session, bool]:
    """Log in through the hub's login form; (the session, whether the hub let us in)."""
    s = requests.Session()
    login = s.get(f"{hub_url}/hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login.text).group(1)
    r = s.post(f"{hub_url}/hub/login", data={"username": name, "password": password, "_xsrf": xsrf}, timeout=30)
    return s, r.status_code == 200 and "/hub/login" not in r.url


def hub_session(hub_url: str, name: str, password: str) -> tuple[requests.Session, str]:
    """Log in through the hub's login form, then open the jobs page (OAuth): a browser's
    cookies in a requests session, and the page's XSRF token."""
    s, ok = hub_login(hub_url, name, password)
    assert ok, f"login of {name} failed"
    page = s.get(f"{hub_url}/services/jobs/", timeout=30)
    assert page.status_code == 200 and "Signed in as" in page.text, page.url
    token = re.search(r'<meta name="xsrf-token" content="([^"]+)"', page.text)
    assert token, "the jobs page carries no XSRF token"
    return s, token.group(1)


def cookie_api(session: requests.Session, xsrf: str, url: str, method: str, path: str, **kw) -> requests.Response:
    return session.request(method, f"{url}api/{path}", headers={"X-XSRFToken": xsrf}, timeout=60, **kw)


# --- (a) stored XSS from a job's folder to the admin's browser ------------------------------


def test_planted_status_json_runs_no_script_in_the_admins_browser(hub, backend, make_user, jobs_url, output_dir):
    need(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    attacker = make_user()
    volume = naming.home_volume_name(attacker.name)
    # Wrong types (error_cell must be a whole number) and well-typed strings full of HTML.
    backend.write_files(volume, "work", {
        "typed.ipynb": planting_notebook(
            {"state": "failed", "error_cell": PAYLOAD, "error_name": PAYLOAD, "error": PAYLOAD, "extra": PAYLOAD}
        ),
        "strings.ipynb": planting_notebook(
            {"state": "failed", "error_cell": 1, "error_name": PAYLOAD, "error": PAYLOAD, "execution_count": 3}
        ),
    })
    (typed,) = attacker.submit(notebook="work/typed.ipynb", timeout=120)
    (strings,) = attacker.submit(notebook="work/strings.ipynb", timeout=120)
    done = attacker.wait([typed["id"], strings["id"]], timeout=180)
    assert done[typed["id"]]["state"] == "failed" and done[strings["id"]]["state"] == "failed", done

    password = secrets.token_urlsafe(12)
    admin_name, _ = hub.new_user(password=password, admin=True)
    beacons = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(60_000)
        page.on("request", lambda req: beacons.append(req.url) if "xss-beacon" in req.url else None)
        try:
            page.goto(f"{hub.url}/hub/login?next=/services/jobs/")
            page.fill("input[name=username]", admin_name)
            page.fill("input[name=password]", password)
            with page.expect_response(lambda r: r.url.endswith("/services/jobs/") and r.status == 200) as landing:
                page.click("input[type=submit], button[type=submit]")
            csp = landing.value.headers.get("content-security-policy", "")
            page.wait_for_selector("text=Signed in as")
            page.check("#all")
            for job_id in (typed["id"], strings["id"]):
                page.wait_for_selector(f"#jobs tbody tr:has-text('{job_id}')")
            page.wait_for_timeout(1500)  # time for an injected image to fail and its handler to run
            shots = output_dir / "security"
            shots.mkdir(exist_ok=True)
            page.screenshot(path=shots / "jobs-xss-admin.png", full_page=True)

            assert page.evaluate("window.__xss") is None, "the planted script ran in the admin's page"
            assert page.title() != "pwned"
            assert beacons == []
            assert page.locator("#jobs img").count() == 0, "planted HTML became elements"
            assert "<img src=x" in page.inner_text(f"#jobs tbody tr:has-text('{strings['id']}')")  # shown as text
        finally:
            browser.close()

    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, csp
    for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'self'"):
        assert directive in csp, csp
    # What the API hands to the page is typed: a planted error_cell is never a string.
    for job in done.values():
        assert job["error_cell"] is None or isinstance(job["error_cell"], int), job
    assert "extra" not in attacker.file(typed["id"], "status.json").json()  # unknown keys dropped
    assert "unreadable" in done[typed["id"]]["error"], done[typed["id"]]


def test_result_files_are_served_inert(hub, make_user):
    """The results the service serves back keep their sandbox and are never sniffed as HTML."""
    user = make_user()
    (job,) = user.submit(notebook="work/params.ipynb", parameters={"alpha": 1.5}, timeout=120)
    assert user.wait([job["id"]], timeout=120)[job["id"]]["state"] == "completed"
    html = user.file(job["id"], "notebook.html")
    assert html.status_code == 200 and "sandbox" in html.headers["Content-Security-Policy"]
    for name in ("job.log", "status.json", "parameters.json", "notebook.ipynb"):
        r = user.file(job["id"], name)
        assert r.status_code == 200, (name, r.text)
        assert r.headers.get("X-Content-Type-Options") == "nosniff", name
        assert "sandbox" in r.headers.get("Content-Security-Policy", ""), name


# --- (b) disabled accounts keep no way in ---------------------------------------------------


def refused_within(check, seconds: float) -> requests.Response:
    """The first refused response of ``check()`` within ``seconds`` (caches may answer first)."""
    deadline = time.monotonic() + seconds
    while True:
        r = check()
        if r.status_code == 403 or time.monotonic() > deadline:
            return r
        time.sleep(1)


def logged_in_user(hub, backend, jobs_url, notebook: str):
    """A user with a password and ``notebook`` (from tests/jobs) in ~/work: their API token,
    and a logged-in session of the jobs page with its XSRF token."""
    password = secrets.token_urlsafe(12)
    name, token = hub.new_user(password=password)
    backend.write_files(naming.home_volume_name(name), "work", {notebook: (NOTEBOOKS / notebook).read_bytes()})
    user = JobsUser(name, token, jobs_url)
    wait_for_service(user)
    session, xsrf = hub_session(hub.url, name, password)
    return user, password, session, xsrf


def test_disabled_user_keeps_no_access_to_jobs(hub, backend, make_user, jobs_url):
    user, password, session, xsrf = logged_in_user(hub, backend, jobs_url, "sleep.ipynb")
    name = user.name

    # Before: both the token and the page's cookie work; a job runs and a schedule waits.
    r = cookie_api(session, xsrf, jobs_url, "POST", "jobs", json={"notebook": "work/sleep.ipynb", "timeout": 600})
    assert r.status_code == 201, r.text
    (running,) = r.json()["jobs"]
    schedule = user.api("POST", "schedules", json={"notebook": "work/sleep.ipynb", "cron": "0 0 1 1 *"}).json()
    user.wait([running["id"]], states={"running"}, timeout=90)

    assert vre_cli.main(["--state-dir", str(hub.state_dir), "users", "disable", name]) == 0

    body = {"notebook": "work/sleep.ipynb", "parameters": {"seconds": 1}}
    for r in (
        user.api("POST", "jobs", json=body),
        user.api("GET", "jobs"),
        user.api("DELETE", f"jobs/{running['id']}"),
        cookie_api(session, xsrf, jobs_url, "POST", "jobs", json=body),
        cookie_api(session, xsrf, jobs_url, "GET", "jobs"),
    ):
        assert r.status_code == 403, r.text
        assert "log in" in one_line_error(r)
    # The page sends the old cookie back through the hub, which no longer takes the hub's
    # login cookie either (VREAuthenticator.refresh_user, at most a second later).
    deadline = time.monotonic() + 10
    while "Signed in as" in session.get(jobs_url, timeout=30).text and time.monotonic() < deadline:
        time.sleep(1)
    page = session.get(jobs_url, timeout=30)
    assert "Signed in as" not in page.text and "/hub/login" in page.url, page.url

    admin = make_user(admin=True)
    done = admin.wait([running["id"]], timeout=90)[running["id"]]
    assert done["state"] == "cancelled" and done["error"] == "cancelled: account disabled", done
    assert admin.api("GET", f"schedules/{schedule['id']}").json()["paused"] is True
    assert [j for j in admin.api("GET", "jobs?all=1").json()["jobs"] if j["owner"] == name and j["id"] != running["id"]] == []
    # Login is refused too, and the account is back with `vre users enable`.
    assert not hub_login(hub.url, name, password)[1]
    assert vre_cli.main(["--state-dir", str(hub.state_dir), "users", "enable", name]) == 0
    hub_session(hub.url, name, password)


def test_disabling_an_unknown_user_is_one_line_and_changes_nothing(hub, capsys):
    for command in ("disable", "enable"):
        assert vre_cli.main(["--state-dir", str(hub.state_dir), "users", command, "nobody-here"]) == 1
        error = capsys.readouterr().err.strip()
        assert "nobody-here" in error and "\n" not in error and ";" in error, error
    assert hub.api("GET", "/users/nobody-here").status_code == 404


def test_account_unauthorized_by_an_admin_is_refused_on_its_next_requests(hub, backend, jobs_url):
    """What /hub/authorize's toggle does (is_authorized off, no token revoked): the hub itself
    refuses the account's old token and cookie within seconds, so the jobs service does too."""
    user, _, session, xsrf = logged_in_user(hub, backend, jobs_url, "params.ipynb")
    name, token = user.name, user.token
    assert user.api("GET", "jobs").status_code == 200
    assert cookie_api(session, xsrf, jobs_url, "GET", "jobs").status_code == 200

    assert accounts.set_authorized(name, False, hub.process.state.db_url)
    body = {"notebook": "work/params.ipynb"}
    r = refused_within(lambda: user.api("POST", "jobs", json=body), 30)
    assert r.status_code == 403, r.text
    one_line_error(r)
    r = refused_within(lambda: cookie_api(session, xsrf, jobs_url, "POST", "jobs", json=body), 30)
    assert r.status_code == 403, r.text
    assert user.api("GET", "jobs").status_code == 403
    assert hub.api("GET", "/user", token=token).status_code == 403  # the hub's own answer


def test_participant_of_an_ended_workshop_keeps_no_access_to_jobs(hub, backend, make_user, user_image, jobs_url):
    workshop = f"{hub.prefix}-jobsws"
    argv = ["--state-dir", str(hub.state_dir), "--url", hub.url, "--image", user_image]
    assert workshop_cli.main([*argv, "create", workshop, "--seats", "1", "--expires", "2099-01-01"]) == 0
    record = Registry(hub.state_dir).load(workshop)
    hub.users.extend([*record.participants, record.teacher])  # the fixture's clean-up
    (participant,) = record.participants
    volume = naming.home_volume_name(participant)
    backend.write_files(volume, "work", {"sleep.ipynb": (NOTEBOOKS / "sleep.ipynb").read_bytes()})
    backend.expire_scratch(volume=volume)  # this test's own hold on the home
    user = JobsUser(participant, hub.client.token_for(participant, note="tests"), jobs_url)
    wait_for_service(user)
    (job,) = user.submit(notebook="work/sleep.ipynb", timeout=600)
    user.wait([job["id"]], states={"running"}, timeout=90)
    removed = False
    try:
        assert workshop_cli.main([*argv, "end", workshop]) == 0
        r = user.api("POST", "jobs", json={"notebook": "work/sleep.ipynb"})
        assert r.status_code == 403, r.text
        one_line_error(r)
        assert user.api("GET", "jobs").status_code == 403
        done = make_user(admin=True).job(job["id"])
        assert done["state"] == "cancelled" and done["error"] == "cancelled: account disabled", done
        # The service let go of the home, so the workshop's removal can delete it.
        removed = workshop_cli.main([*argv, "end", workshop, "--remove"]) == 0
        assert removed
    finally:
        if not removed:
            workshop_cli.main([*argv, "end", workshop, "--remove"])


# --- (c) quotas and fair ordering --------------------------------------------------------------


@pytest.fixture(scope="module")
def small_service(hub, user_image, tmp_path_factory):
    """A second jobs service: 1 job at a time, at most 3 queued per user, its own database."""
    port = free_port()
    folder = tmp_path_factory.mktemp("small-jobs")
    env = {
        **{k: v for k, v in os.environ.items() if k.startswith(("DOCKER_", "PATH", "HOME", "VRE_"))},
        "JUPYTERHUB_API_URL": f"{hub.url}/hub/api",
        "JUPYTERHUB_SERVICE_NAME": "jobs",  # users' tokens carry access to the service 'jobs'
        "JUPYTERHUB_SERVICE_PREFIX": "/services/jobs/",
        "JUPYTERHUB_CLIENT_ID": "service-jobs-tests",
        "JUPYTERHUB_API_TOKEN": secrets.token_hex(16),  # unused: user tokens identify themselves
    }
    command = [
        sys.executable, "-m", "vre_jobs", f"--port={port}", f"--image={user_image}",
        f"--db-url=sqlite:///{folder / 'jobs.sqlite'}",
        "--JobsService.ip=127.0.0.1", "--JobsService.max_concurrent=1", "--JobsService.max_per_user=1",
        "--JobsService.max_queued_per_user=3", "--JobsService.tick=0.3",
    ]
    log = open(folder / "service.log", "w")
    process = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/services/jobs/"
    try:
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()
        print((folder / "service.log").read_text()[-3000:])


def test_queue_quota_and_fair_order(small_service, make_user):
    a, b = make_user(), make_user()
    a, b = JobsUser(a.name, a.token, small_service), JobsUser(b.name, b.token, small_service)
    wait_for_service(a)
    try:
        (a1,) = a.submit(notebook="work/sleep.ipynb", parameters={"seconds": 600}, timeout=600)
        a.wait([a1["id"]], states={"running"}, timeout=90)
        rest = a.submit(notebook="work/sleep.ipynb", sweep={"list": [{"seconds": 1}] * 3}, timeout=120)

        # Quota: a 5th job of A would be the 4th waiting; refused, nothing queued.
        before = a.api("GET", "jobs").json()["jobs"]
        r = a.api("POST", "jobs", json={"notebook": "work/sleep.ipynb", "parameters": {"seconds": 1}})
        assert r.status_code == 429, r.text
        assert "max_queued_per_user" in one_line_error(r) or "at most 3" in one_line_error(r)
        assert a.api("GET", "jobs").json()["jobs"] == before

        (b1,) = b.submit(notebook="work/sleep.ipynb", parameters={"seconds": 5}, timeout=120)
        a.api("DELETE", f"jobs/{a1['id']}")  # the slot frees up: B, who runs nothing, is next
        b.wait([b1["id"]], states={"starting", "running", "completed"}, timeout=90)
        states = {j["id"]: a.job(j["id"])["state"] for j in rest}
        assert states[rest[1]["id"]] == "queued" and states[rest[2]["id"]] == "queued", states
        done = b.wait([b1["id"]], timeout=120)[b1["id"]]
        assert done["state"] == "completed", done
        a2 = a.wait([rest[0]["id"]], states={"starting", "running", "completed"}, timeout=90)[rest[0]["id"]]
        assert a2["started"] >= done["started"]
    finally:
        for user in (a, b):
            for job in user.api("GET", "jobs").json().get("jobs", []):
                if job["state"] in ("queued", "starting", "running"):
                    user.api("DELETE", f"jobs/{job['id']}")
        time.sleep(3)
        client = docker.from_env()
        for user in (a, b):
            for c in client.containers.list(all=True, filters={"label": f"{LABEL_USER}={user.name}"}):
                c.remove(force=True)
