"""A workshop run end to end against the real hub, the real user image and Docker volumes.

One workshop of 2 seats goes through create -> (hub restart: roles load at start) ->
prewarm -> teacher and participant permissions -> status -> edit + second distribution ->
collect -> end. The tests run in file order and share that workshop.
"""

import html
import io
import json
import re
import stat
import subprocess
import tarfile

import pytest

from vre_hub.naming import escape_name
from vre_workshop import homes
from vre_workshop.registry import Registry
from vre_workshop.roster import read_roster

pytestmark = [pytest.mark.docker]

NOTEBOOK = {
    "cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Ecological niche: intro"]}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    folder = tmp_path_factory.mktemp("material")
    (folder / "01-intro.ipynb").write_text(json.dumps(NOTEBOOK))
    (folder / "data").mkdir()
    (folder / "data" / "stations.csv").write_text("station,lat,lon\nA,43.3,5.4\n")  # synthetic
    return folder


@pytest.fixture(scope="module")
def workshop(ws_hub, material):
    name = f"{ws_hub.prefix}-class"
    code = ws_hub.vre("create", name, "--seats", "2", "--notebooks", str(material), "--expires", "2099-01-01")
    assert code == 0
    ws_hub.restart()  # JupyterHub creates roles from config at start only
    return Registry(ws_hub.state_dir).load(name)


@pytest.fixture(scope="module")
def tokens(ws_hub, workshop):
    """API tokens (default 'inherit' scopes) of the teacher and both participants."""
    client = ws_hub.client
    return {user: client.token_for(user, note="workshop tests") for user in [workshop.teacher, *workshop.participants]}


@pytest.fixture(scope="module")
def outsider(ws_hub):
    """A hub user outside the workshop, with a running server."""
    name = f"{ws_hub.prefix}-outsider"
    ws_hub.client.ensure_user(name)
    _start(ws_hub, name)
    return name


def _start(ws_hub, name):
    """Start a server, once more if the first start timed out (a busy 2-core CI host can
    exceed the spawner's 60 s HTTP timeout); a second failure fails the test."""
    from vre_hub.client import HubAPIError

    try:
        ws_hub.client.start_server(name, wait=180)
    except HubAPIError:
        ws_hub.client.wait_server(name, ready=False, timeout=120)
        ws_hub.client.start_server(name, wait=180)


def test_create_made_accounts_group_roster_and_role(ws_hub, workshop):
    group = ws_hub.api("GET", f"/groups/{workshop.name}").json()
    assert sorted(group["users"]) == sorted(workshop.participants) and len(workshop.participants) == 2
    roster = Registry(ws_hub.state_dir).roster_file(workshop.name)
    assert stat.S_IMODE(roster.stat().st_mode) == 0o600
    rows = read_roster(roster)
    assert {r["username"] for r in rows} == {workshop.teacher, *workshop.participants}
    assert len({r["password"] for r in rows}) == 3  # one password each
    teacher = ws_hub.api("GET", f"/users/{workshop.teacher}").json()
    assert workshop.teacher_role in teacher["roles"]


def _login(ws_hub, username, password):
    """Log in through the hub's login form; the session if it worked, else None."""
    import requests

    session = requests.Session()
    session.get(f"{ws_hub.url}/hub/login", timeout=10)
    response = session.post(
        f"{ws_hub.url}/hub/login",
        data={"username": username, "password": password, "_xsrf": session.cookies.get("_xsrf")},
        allow_redirects=False,
        timeout=10,
    )
    return session if response.status_code == 302 else None


def _roster(ws_hub, workshop) -> dict:
    rows = read_roster(Registry(ws_hub.state_dir).roster_file(workshop.name))
    return {r["username"]: r["password"] for r in rows}


def test_participant_can_log_in_with_roster_password(ws_hub, workshop):
    user = workshop.participants[0]
    session = _login(ws_hub, user, _roster(ws_hub, workshop)[user])
    assert session is not None
    assert session.get(f"{ws_hub.url}/hub/api/user", timeout=10).json()["name"] == user
    assert _login(ws_hub, user, "wrong-password-123") is None


def test_notebooks_in_every_home(ws_hub, workshop):
    client = homes.docker_client()
    for user in workshop.participants:
        files = _home_files(client, ws_hub.image, user)
        assert files[f"workshops/{workshop.name}/01-intro.ipynb"]["uid"] == 1000
        assert f"workshops/{workshop.name}/data/stations.csv" in files


def test_prewarm_starts_every_server(ws_hub, workshop):
    assert ws_hub.vre("prewarm", workshop.name, "--concurrency", "2", "--rate", "5") == 0
    for user in workshop.participants:
        assert ws_hub.api("GET", f"/users/{user}").json()["servers"][""]["ready"]


def _server_token(ws_hub, workshop, tokens, user):
    """What a teacher's client does to reach a server: ask the hub, with the teacher's own
    token, for a token limited to that one server. (The single-user server cannot resolve
    ``!group=`` filters itself, so an 'inherit' token is not enough there; the hub can.)"""
    return ws_hub.api(
        "POST",
        f"/users/{workshop.teacher}/tokens",
        token=tokens[workshop.teacher],
        json={"note": f"help {user}", "scopes": [f"access:servers!server={user}/"], "expires_in": 600},
    )


def test_teacher_can_start_and_access_member_server(ws_hub, workshop, tokens):
    member, teacher_token = workshop.participants[0], tokens[workshop.teacher]
    # stop it as admin, start it as the teacher
    ws_hub.client.stop_server(member)
    response = ws_hub.api("POST", f"/users/{member}/server", token=teacher_token)
    assert response.status_code in (201, 202), response.text
    ws_hub.client.wait_server(member, ready=True, timeout=120)

    issued = _server_token(ws_hub, workshop, tokens, member)
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    assert ws_hub.server_get(member, "api/status", token).status_code == 200
    contents = ws_hub.server_get(member, f"api/contents/workshops/{workshop.name}", token)
    assert "01-intro.ipynb" in [item["name"] for item in contents.json()["content"]]


def _accept_consent(session, response):
    """Click "Authorize" on the hub's page asking to confirm access to someone else's server."""
    if "/oauth2/authorize" not in response.url or 'name="scopes"' not in response.text:
        return response
    fields = re.findall(r'<input type="hidden" name="(_xsrf|scopes)" value="([^"]*)"', response.text)
    return session.post(response.url, data=[(k, html.unescape(v)) for k, v in fields], timeout=60)


def test_teacher_opens_member_lab_in_browser(ws_hub, workshop):
    """The browser way: log in with the roster password, open the participant's JupyterLab."""
    teacher = workshop.teacher
    session = _login(ws_hub, teacher, _roster(ws_hub, workshop)[teacher])
    assert session is not None
    lab = _accept_consent(session, session.get(f"{ws_hub.url}/user/{workshop.participants[0]}/lab", timeout=60))
    assert lab.status_code == 200 and "JupyterLab" in lab.text, (lab.status_code, lab.url)


def test_teacher_is_refused_outside_the_group(ws_hub, workshop, tokens, outsider):
    teacher_token = tokens[workshop.teacher]
    # The hub API answers 404 "No access to resources or resources not found" rather than
    # 403 when the caller may not even see the user (it does not reveal who exists).
    assert ws_hub.api("DELETE", f"/users/{outsider}/server", token=teacher_token).status_code in (403, 404)
    assert ws_hub.api("POST", f"/users/{outsider}/server", token=teacher_token).status_code in (403, 404)
    assert ws_hub.api("GET", f"/users/{outsider}").json()["servers"][""]["ready"]  # untouched
    assert ws_hub.server_get(outsider, "api/status", teacher_token).status_code == 403
    issued = _server_token(ws_hub, workshop, tokens, outsider)
    assert issued.status_code == 400 and "not held" in issued.text, issued.text  # nothing beyond the role
    session = _login(ws_hub, workshop.teacher, _roster(ws_hub, workshop)[workshop.teacher])
    lab = session.get(f"{ws_hub.url}/user/{outsider}/lab", timeout=60)
    assert lab.status_code == 403, (lab.status_code, lab.url)


def test_participant_cannot_reach_another_participant(ws_hub, workshop, tokens):
    first, second = workshop.participants
    assert ws_hub.server_get(second, "api/status", tokens[first]).status_code == 403
    assert ws_hub.api("POST", f"/users/{second}/server", token=tokens[first]).status_code in (403, 404)
    assert ws_hub.server_get(first, "api/status", tokens[first]).status_code == 200  # own server works


def test_status_lists_every_member(ws_hub, workshop, capsys):
    assert ws_hub.vre("status", workshop.name) == 0
    out = capsys.readouterr().out
    for user in workshop.participants:
        line = next(line for line in out.splitlines() if line.strip().startswith(user))
        assert "running" in line


def test_edit_survives_second_distribution(ws_hub, workshop, tokens, material):
    first = workshop.participants[0]
    path = f"api/contents/workshops/{workshop.name}/01-intro.ipynb"
    edited = json.loads(json.dumps(NOTEBOOK))
    edited["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["my answer: 42"]})
    import requests

    put = requests.put(
        f"{ws_hub.url}/user/{first}/{path}",
        headers={"Authorization": f"token {tokens[first]}"},
        json={"type": "notebook", "content": edited},
        timeout=30,
    )
    assert put.status_code in (200, 201), put.text[:200]
    (material / "02-niche-model.ipynb").write_text(json.dumps(NOTEBOOK))
    (material / "01-intro.ipynb").write_text(json.dumps({**NOTEBOOK, "metadata": {"v": 2}}))  # teacher's update
    # this time the material comes as a git repository (a local one: tests stay on loopback)
    git = ["git", "-C", str(material), "-c", "user.name=teacher", "-c", "user.email=teacher@localhost"]
    subprocess.run(["git", "init", "-q", str(material)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "day 2"], check=True)

    assert ws_hub.vre("distribute", workshop.name, "--notebooks", f"file://{material}") == 0

    back = ws_hub.server_get(first, path, tokens[first]).json()
    assert back["content"]["cells"][-1]["source"] == "my answer: 42"  # the participant's edit is kept
    for user in workshop.participants:
        listing = ws_hub.server_get(user, f"api/contents/workshops/{workshop.name}", tokens[user]).json()
        assert {"01-intro.ipynb", "02-niche-model.ipynb"} <= {i["name"] for i in listing["content"]}


def test_collect_into_teacher_home(ws_hub, workshop):
    assert ws_hub.vre("collect", workshop.name) == 0
    files = _home_files(homes.docker_client(), ws_hub.image, workshop.teacher)
    collected = [p for p in files if p.startswith(f"collected/{workshop.name}/")]
    for user in workshop.participants:
        assert any(p.endswith(f"/{user}/workshops/{workshop.name}/01-intro.ipynb") for p in collected), collected
    assert not any(p.endswith(".csv") for p in collected)  # notebooks only
    assert all(files[p]["uid"] == 1000 for p in collected)


def test_end_archives_then_disables(ws_hub, workshop, tmp_path):
    archive = tmp_path / "class.tar.gz"
    assert ws_hub.vre("end", workshop.name, "--archive", str(archive)) == 0
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        first = workshop.participants[0]
        edited = json.load(tar.extractfile(f"{first}/workshops/{workshop.name}/01-intro.ipynb"))
    for user in workshop.participants:
        assert f"{user}/workshops/{workshop.name}/02-niche-model.ipynb" in names
    assert edited["cells"][-1]["source"] == ["my answer: 42"]
    for user in workshop.participants:
        assert ws_hub.api("GET", f"/users/{user}").json()["servers"] == {}
        # disabled, not removed (expiry is in the future): the account stays, login does not
        assert ws_hub.api("GET", f"/users/{user}").status_code == 200
        assert _login(ws_hub, user, _roster(ws_hub, workshop)[user]) is None
        assert ws_hub.api("POST", f"/users/{user}/server").status_code == 403  # spawn guard for ended workshops
    assert Registry(ws_hub.state_dir).load(workshop.name).ended


def test_end_remove_deletes_accounts_and_homes(ws_hub, workshop):
    assert ws_hub.vre("end", workshop.name, "--remove") == 0
    for user in workshop.participants:
        assert ws_hub.api("GET", f"/users/{user}").status_code == 404
        assert not homes.volume_exists(homes.docker_client(), user)
    assert ws_hub.api("GET", f"/groups/{workshop.name}").status_code == 404
    assert not [v for v in ws_hub.names("volume") if v == f"vre-work-{escape_name(workshop.name)}"]
    archives = list(Registry(ws_hub.state_dir).folder(workshop.name).glob("*.tar.gz"))
    assert archives  # the second `end` archived again before removing anything


def _home_files(client, image, user) -> dict:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        homes.copy_home(client, image, user, tar, "")
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        return {m.name.lstrip("/"): {"uid": m.uid} for m in tar.getmembers() if m.isfile()}


def test_idle_culler_runs_with_the_workshop_hook(ws_hub, workshop):
    """The hub's culler service was started with the per-workshop hook and is alive (it
    loads the hook's config file at start-up and would have exited on an error)."""
    import os

    from vre_workshop.hubconfig import CULLER_CONFIG

    service = ws_hub.api("GET", "/services/idle-culler").json()
    assert f"--config={CULLER_CONFIG}" in service["command"]
    pid = service["pid"]
    os.kill(pid, 0)  # alive
    environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
    assert f"VRE_STATE_DIR={ws_hub.state_dir}".encode() in environ
