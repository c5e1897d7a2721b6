"""The teacher's console (``/services/workshop/``) over HTTP, against the real hub, Docker and image.

An admin puts two accounts in the hub group ``teachers``; each creates a workshop through
the console's REST API with its own hub token, WITHOUT any hub restart. Then the 403s: a
teacher on the other teacher's workshop, on a user outside the group, a participant and a
plain user calling the teacher API. Then the teacher's path: prewarm with progress, open a
participant's server (shared with the teacher at that moment: the teacher's token reaches
it, the other teacher's does not), push a notebook, collect, end (the participant's login
is refused afterwards). The tests run in file order and share the two workshops.
"""

import csv
import io
import json
import time
import zipfile

import docker
import pytest
import requests

from vre_testing import login
from vre_workshop.service import AUTH_CACHE_SECONDS, TEACHERS_GROUP

pytestmark = [pytest.mark.docker]


def console(ws_hub, method, path, token, **kw):
    return requests.request(
        method, f"{ws_hub.url}/services/workshop/api/{path}", headers={"Authorization": f"token {token}"}, timeout=120, **kw
    )


@pytest.fixture(scope="module")
def people(ws_hub):
    """Two teachers (made so by an admin: hub group membership, no restart) and a plain user."""
    client, p = ws_hub.client, ws_hub.prefix
    names = {"alice": f"{p}-alice", "bob": f"{p}-bob", "plain": f"{p}-plain"}
    for name in names.values():
        client.ensure_user(name)
    assert ws_hub.vre("teachers", "add", names["alice"], names["bob"]) == 0  # the admin, on the host
    return {key: (name, client.token_for(name, note="console tests")) for key, name in names.items()}


@pytest.fixture(scope="module")
def workshops(ws_hub, people):
    made = {}
    for who, seats, shipped in (("alice", 2, ["neo_ecological_niche.ipynb"]), ("bob", 1, [])):
        name = f"{ws_hub.prefix}-{who[0]}"
        body = {"name": name, "seats": seats, "shipped": shipped}
        response = console(ws_hub, "POST", "workshops", people[who][1], json=body)
        assert response.status_code == 201, response.text
        made[who] = response.json()
    return made


def test_teachers_command(ws_hub, people, capsys):
    assert ws_hub.vre("teachers", "add", "nobody-here") == 1
    assert "no hub user 'nobody-here'" in capsys.readouterr().err
    assert ws_hub.vre("teachers", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert people["alice"][0] in listed and people["plain"][0] not in listed
    assert ws_hub.vre("teachers", "add", people["plain"][0]) == 0
    assert ws_hub.vre("teachers", "remove", people["plain"][0]) == 0
    assert people["plain"][0] not in ws_hub.client.group(TEACHERS_GROUP)["users"]


def test_teacher_creates_without_restart(ws_hub, people, workshops):
    alice, token = people["alice"]
    assert workshops["alice"]["teacher"] == alice
    mine = console(ws_hub, "GET", "workshops", token).json()
    assert [w["name"] for w in mine] == [workshops["alice"]["name"]]  # not bob's
    table = console(ws_hub, "GET", f"workshops/{workshops['alice']['name']}/status", token)
    assert table.status_code == 200, table.text
    assert [row["user"] for row in table.json()["participants"]] == workshops["alice"]["participants"]
    assert {row["state"] for row in table.json()["participants"]} == {"stopped"}
    seats = console(ws_hub, "GET", f"workshops/{workshops['alice']['name']}/roster.csv", token)
    assert seats.status_code == 200 and seats.headers["Content-Type"].startswith("text/csv")
    assert all(user in seats.text for user in workshops["alice"]["participants"])


def test_live_table_snapshot_follows_servers(ws_hub, people, workshops):
    """The table is answered from a snapshot that the console refreshes every few seconds: a
    participant's server started, then stopped, behind the console's back (straight through
    the hub API) shows in the table within a few seconds, and the answer says how old it is."""
    token, name = people["alice"][1], workshops["alice"]["name"]
    user = workshops["alice"]["participants"][1]

    def look():
        answer = console(ws_hub, "GET", f"workshops/{name}/status", token).json()
        return next(row for row in answer["participants"] if row["user"] == user), answer["snapshot"]

    def within(seconds, state):
        since = time.monotonic()
        while (row := look()[0])["state"] != state:
            assert time.monotonic() - since < seconds, f"{user} still {row['state']} after {seconds} s"
            time.sleep(0.5)
        return row, time.monotonic() - since

    row, first = look()
    assert row["state"] == "stopped" and first["taken"] and 0 <= first["age_seconds"] < 30, first
    ws_hub.client.start_server(user)
    row, delay = within(15, "running")
    assert row["memory_mib"] > 0 and row["notebooks"] == [] and row["kernel"] == "", row
    ws_hub.client.stop_server(user)
    row, delay_stop = within(15, "stopped")
    assert "memory_mib" not in row
    assert look()[1]["taken"] > first["taken"]
    print(f"running shown {delay:.1f} s after ready, stopped {delay_stop:.1f} s after stop")

    # Requests take the caller's groups from the snapshot while it is recent: a teacher added
    # to the group, or removed from it, is seen as such within that age all the same.
    plain, plain_token = people["plain"]
    for command, status in (("add", 200), ("remove", 403)):
        assert ws_hub.vre("teachers", command, plain) == 0
        since = time.monotonic()
        while (answer := console(ws_hub, "GET", "notebooks", plain_token)).status_code != status:
            assert time.monotonic() - since < AUTH_CACHE_SECONDS + 5, (command, answer.text)
            look()  # keeps the snapshot fresh, as a watching teacher does
            time.sleep(0.5)


def test_bad_input_is_one_line_and_makes_nothing(ws_hub, people):
    token = people["alice"][1]
    response = console(ws_hub, "POST", "workshops", token, json={"name": "Bad Name!", "seats": 2})
    assert response.status_code == 400 and "invalid workshop name" in response.json()["error"]
    response = console(ws_hub, "POST", "workshops", token, json={"name": f"{ws_hub.prefix}-z", "seats": "many"})
    assert response.status_code == 400 and "seats" in response.json()["error"]
    response = console(ws_hub, "POST", "workshops", token,
                       json={"name": f"{ws_hub.prefix}-z", "seats": 1, "shipped": ["../../etc/passwd"]})
    assert response.status_code == 400 and "unknown shipped notebook" in response.json()["error"]
    for field, value in (("class_idle_minutes", "soon"), ("class_idle_minutes", 1.5), ("class_start", 9)):
        response = console(ws_hub, "POST", "workshops", token,
                           json={"name": f"{ws_hub.prefix}-z", "seats": 1, field: value})
        assert response.status_code == 400 and field in response.json()["error"], response.text
    assert ws_hub.client.group(f"{ws_hub.prefix}-z") is None


def test_notebooks_from_the_teachers_own_home(ws_hub, people):
    """The create form offers the shipped notebooks and those in the teacher's OWN home (read
    through vre_core.homes.HomeVolume); what is chosen there lands in every participant's home.
    A path leaving the home, or naming a notebook only another teacher has, is a one-line 400
    and makes nothing."""
    from vre_core.homes import HomeVolume
    from vre_core.naming import HOME

    (alice, alice_token), (bob, bob_token) = people["alice"], people["bob"]
    docker_client = docker.from_env()
    lesson = json.dumps({"cells": [], "metadata": {"lesson": "intro"}, "nbformat": 4, "nbformat_minor": 5}).encode()
    with HomeVolume.of(docker_client, ws_hub.image, alice) as home:  # as saved from her JupyterLab
        home.ensure()
        home.write("lessons", {"intro.ipynb": lesson, "data.csv": b"a,b\n"})
        home.write(".secret", {"hidden.ipynb": lesson})
    with HomeVolume.of(docker_client, ws_hub.image, bob) as home:
        home.ensure()
        home.write("", {"bob-only.ipynb": lesson})

    offered = console(ws_hub, "GET", "notebooks", alice_token).json()
    assert offered["home"] == ["lessons/intro.ipynb"] and "neo_ecological_niche.ipynb" in offered["shipped"]
    assert console(ws_hub, "GET", "notebooks", bob_token).json()["home"] == ["bob-only.ipynb"]

    name = f"{ws_hub.prefix}-h"
    for bad, words in (
        ("../../etc/passwd", "bad notebook path"), ("/home/jovyan/lessons/intro.ipynb", "bad notebook path"),
        ("lessons/../../../etc/x.ipynb", "bad notebook path"), (".secret/hidden.ipynb", "bad notebook path"),
        ("bob-only.ipynb", f"no notebook bob-only.ipynb in {alice}'s home"),  # bob's, not hers
    ):
        response = console(ws_hub, "POST", "workshops", alice_token, json={"name": name, "seats": 1, "home": [bad]})
        assert response.status_code == 400, (bad, response.text)
        error = response.json()["error"]
        assert words in error and "\n" not in error, error
    assert ws_hub.client.group(name) is None and not ws_hub.client.user(f"{name}-01")  # nothing made

    made = console(ws_hub, "POST", "workshops", alice_token,
                   json={"name": name, "seats": 1, "home": ["lessons/intro.ipynb"], "shipped": ["neo_ecological_niche.ipynb"]})
    assert made.status_code == 201, made.text
    participant = made.json()["participants"][0]
    with HomeVolume.of(docker_client, ws_hub.image, participant, read_only=True) as home:
        copied = home.read(f"{HOME}/workshops/{name}/lessons/intro.ipynb")
        assert json.loads(copied)["metadata"] == {"lesson": "intro"}
        assert home.read(f"{HOME}/workshops/{name}/neo_ecological_niche.ipynb") is not None
    participant_token = ws_hub.client.token_for(participant, note="console tests")
    assert console(ws_hub, "GET", "notebooks", participant_token).status_code == 403


@pytest.mark.parametrize(
    "method,path",
    [("GET", ""), ("GET", "/status"), ("GET", "/roster.csv"), ("POST", "/prewarm"), ("POST", "/collect"),
     ("POST", "/end"), ("POST", "/push"), ("GET", "/collect.zip"), ("GET", "/cards"), ("POST", "/participants/{participant}/open")],
)
def test_teacher_on_another_teachers_workshop_is_403(ws_hub, people, workshops, method, path):
    bob_ws = workshops["bob"]
    path = path.format(participant=bob_ws["participants"][0])
    response = console(ws_hub, method, f"workshops/{bob_ws['name']}{path}", people["alice"][1], json={})
    assert response.status_code == 403, response.text
    assert ws_hub.client.group(bob_ws["name"]) is not None  # nothing ended


def test_teacher_on_user_outside_the_group_is_403(ws_hub, people, workshops):
    alice_ws = workshops["alice"]
    for outsider in (workshops["bob"]["participants"][0], people["plain"][0], people["bob"][0]):
        response = console(ws_hub, "POST", f"workshops/{alice_ws['name']}/participants/{outsider}/open", people["alice"][1])
        assert response.status_code == 403, (outsider, response.text)


def test_cli_with_a_teachers_own_token(ws_hub, people, workshops, tmp_path, monkeypatch, capsys):
    """`vre workshop` as a teacher runs it, e.g. in their JupyterLab: their own hub token
    ($JUPYTERHUB_API_TOKEN or --token), a state folder without the admin token, the hub's URL."""
    from vre_workshop import cli

    (alice, token), mine, theirs = people["alice"], workshops["alice"], workshops["bob"]
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
    argv = ["--state-dir", str(tmp_path), "--url", ws_hub.url]  # tmp_path: no admin token to fall back on
    assert cli.main([*argv, "status", mine["name"]]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"workshop {mine['name']} (teacher {alice}): ")
    assert [line.split()[0] for line in out[1:]] == mine["participants"]

    def refused(*command, words):
        assert cli.main([*argv, *command]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err

    refused("status", theirs["name"], words=f"workshop {theirs['name']!r} is not one of yours")
    seats = tmp_path / "seats.csv"
    assert cli.main([*argv, "seats", mine["name"], "-o", str(seats)]) == 0
    assert seats.stat().st_mode & 0o777 == 0o600 and all(user in seats.read_text() for user in mine["participants"])
    refused("seats", theirs["name"], words="is not one of yours")
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN")
    refused("status", mine["name"], words=f"no admin token in {tmp_path}")
    refused("--token", token, "status", theirs["name"], words="is not one of yours")
    # a path on the hub's host is the operator's to give, not a teacher's
    refused("--token", token, "create", f"{ws_hub.prefix}-y", "--seats", "1", "--notebooks", "/etc", words="only admins")
    assert ws_hub.client.group(f"{ws_hub.prefix}-y") is None


def test_participant_and_plain_user_calling_the_teacher_api_are_403(ws_hub, people, workshops):
    alice_ws = workshops["alice"]
    participant = alice_ws["participants"][0]
    tokens = {"participant": ws_hub.client.token_for(participant, note="console tests"), "plain": people["plain"][1]}
    for who, token in tokens.items():
        for method, path, body in [
            ("POST", "workshops", {"name": f"{ws_hub.prefix}-x", "seats": 1}),
            ("GET", f"workshops/{alice_ws['name']}/status", None),
            ("GET", f"workshops/{alice_ws['name']}/roster.csv", None),
            ("POST", f"workshops/{alice_ws['name']}/end", {}),
            ("POST", f"workshops/{alice_ws['name']}/participants/{participant}/open", {}),
        ]:
            response = console(ws_hub, method, path, token, json=body)
            assert response.status_code == 403, (who, path, response.text)
        assert console(ws_hub, "GET", "workshops", token).json() == []
    assert ws_hub.client.group(f"{ws_hub.prefix}-x") is None
    # No token at all: refused as well.
    assert requests.get(f"{ws_hub.url}/services/workshop/api/workshops", timeout=30).status_code == 403


def test_prewarm_open_push_collect_end(ws_hub, people, workshops):
    alice, token = people["alice"]
    name = workshops["alice"]["name"]
    participant = workshops["alice"]["participants"][0]
    started = console(ws_hub, "POST", f"workshops/{name}/prewarm", token)
    assert started.status_code == 202 and started.json()["total"] == 2
    deadline = time.monotonic() + 400
    while (progress := console(ws_hub, "GET", f"workshops/{name}/prewarm", token).json())["state"] == "running":
        assert time.monotonic() < deadline, progress
        time.sleep(2)
    assert progress == {"state": "done", "total": 2, "done": 2, "failed": []}
    rows = console(ws_hub, "GET", f"workshops/{name}/status", token).json()["participants"]
    assert {row["state"] for row in rows} == {"running"}
    assert all(row["memory_mib"] > 0 and row["notebooks"] == [] and not row["logged_in"] for row in rows), rows
    cards = console(ws_hub, "GET", f"workshops/{name}/cards", token)
    assert cards.status_code == 200 and cards.text.count('class="card"') == 2
    assert "script-src 'self'" in cards.headers["Content-Security-Policy"]

    # Before "open", not even alice reaches the participant's server; after it, she does
    # (a share made by the console, no restart); bob still does not. (The server caches the
    # hub's answer about a token for minutes: the "before" probe uses another of her tokens.)
    probe = ws_hub.client.token_for(alice, note="console tests: before open")
    assert ws_hub.server_get(participant, "api/status", probe).status_code == 403
    opened = console(ws_hub, "POST", f"workshops/{name}/participants/{participant}/open", token)
    assert opened.status_code == 200 and opened.json()["url"] == f"/user/{participant}/lab"
    assert ws_hub.server_get(participant, "api/status", token).status_code == 200
    assert ws_hub.server_get(participant, "api/status", people["bob"][1]).status_code == 403

    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    pushed = console(ws_hub, "POST", f"workshops/{name}/push", token, json={"name": "02-pushed.ipynb", "content": notebook})
    assert pushed.status_code == 200, pushed.text
    seen = ws_hub.server_get(participant, f"api/contents/workshops/{name}/02-pushed.ipynb", token)
    assert seen.status_code == 200 and seen.json()["type"] == "notebook"
    shipped = ws_hub.server_get(participant, f"api/contents/workshops/{name}/neo_ecological_niche.ipynb", token)
    assert shipped.status_code == 200  # chosen at creation
    bad = console(ws_hub, "POST", f"workshops/{name}/push", token, json={"name": "../x.ipynb", "content": notebook})
    assert bad.status_code == 400

    collected = console(ws_hub, "POST", f"workshops/{name}/collect", token)
    assert collected.status_code == 200, collected.text
    assert collected.json()["notebooks"][participant] >= 1

    zipped = console(ws_hub, "GET", f"workshops/{name}/collect.zip", token)
    assert zipped.status_code == 200 and zipped.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
    assert f"{name}/{participant}/workshops/{name}/02-pushed.ipynb" in names
    assert console(ws_hub, "GET", f"workshops/{name}/collect.zip", people["bob"][1]).status_code == 403

    ended = console(ws_hub, "POST", f"workshops/{name}/end", token)
    assert ended.status_code == 200, ended.text
    password = dict(_roster(ws_hub, name, token))[participant]
    assert "jupyterhub-hub-login" not in login(ws_hub.url, participant, password).cookies  # login refused
    assert ws_hub.api("POST", f"/users/{participant}/server").status_code == 403  # no server any more


def _roster(ws_hub, name, token):
    lines = console(ws_hub, "GET", f"workshops/{name}/roster.csv", token).text.splitlines()
    return [(row["username"], row["password"]) for row in csv.DictReader(lines)]
