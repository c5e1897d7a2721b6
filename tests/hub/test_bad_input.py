"""Bad spawn requests and names from before the user-name rule: clear errors, nothing made."""

import json
import subprocess
from urllib.parse import quote

import pytest

from vre_hub import naming

pytestmark = pytest.mark.docker


def test_unknown_profile_is_refused_with_a_clear_message(hub):
    name, _ = hub.new_user()
    response = hub.api("POST", f"/users/{name}/server", json={"profile": "gigantic"})
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert "unknown profile 'gigantic'" in message and "standard" in message and "large-memory" in message
    user = hub.client.get(f"/users/{name}")
    assert not user["servers"], "nothing should be left running"


def test_server_killed_for_memory_while_starting_says_so_and_keeps_the_home(hub):
    name, _ = hub.new_user()
    hub.client.start_server(name)  # standard profile first: the home volume exists
    hub.client.stop_server(name)
    response = hub.api("POST", f"/users/{name}/server", json={"profile": "starved"}, timeout=180)
    if response.status_code == 202:  # a slow host: the hub answered before the spawn ended
        events = hub.api("GET", f"/users/{name}/server/progress", stream=True, timeout=180)
        payloads = [json.loads(line[5:]) for line in events.iter_lines(decode_unicode=True) if line.startswith("data:")]
        message = payloads[-1]["message"]
    else:
        assert response.status_code == 500, response.text
        message = response.json()["message"]
    assert f"The server of {name} stopped while starting: it ran out of memory (limit 32 MiB)" in message, message
    assert "choose a larger profile" in message
    hub.client.wait_server(name, ready=False, timeout=60)
    volume = naming.home_volume_name(name)
    listed = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name=^{volume}$"], capture_output=True, text=True)
    assert listed.stdout.split() == [volume], "the home volume must be kept"


def test_slash_dot_name_is_refused(hub):
    response = hub.api("POST", f"/users/{quote('a/../b', safe='')}")
    assert response.status_code in (400, 404), response.text
    assert hub.api("GET", "/users/b").status_code == 404


def _user_from_before_the_rule(hub, name: str) -> None:
    """Write a user into the hub database as an older hub (no name rule) did."""
    from jupyterhub import orm

    db = orm.new_session_factory(hub.process.state.db_url)()
    try:
        db.add(orm.User(name=name))
        db.commit()
    finally:
        db.close()


def _docker_names(kind: str, marker: str = "") -> set[str]:
    """Names of Docker containers or volumes, those containing ``marker`` only (the test's
    hub prefix: other processes on the engine come and go with their own objects)."""
    command = ["docker", "ps", "-a", "--format", "{{.Names}}"] if kind == "container" else ["docker", "volume", "ls", "-q"]
    return {name for name in subprocess.run(command, capture_output=True, text=True).stdout.split() if marker in name}


def test_account_from_before_the_name_rule_is_refused_at_start(hub):
    """An account whose name the rule now refuses (its Docker names could be another's) gets
    a one-line reason at server start, and nothing is created or mounted."""
    legacy = f"Ünïcode.Name-{hub.prefix}"
    _user_from_before_the_rule(hub, legacy)
    before = _docker_names("container", hub.prefix), _docker_names("volume", hub.prefix)
    response = hub.api("POST", f"/users/{quote(legacy, safe='')}/server")
    assert response.status_code == 403, response.text
    message = response.json()["message"]
    assert message.startswith(f"The server of {legacy!r} cannot start: user name {legacy!r} is not allowed: use 1-28"), message
    assert "an admin must move the account" in message and "\n" not in message
    assert not hub.client.get(f"/users/{quote(legacy, safe='')}")["servers"]
    assert (_docker_names("container", hub.prefix), _docker_names("volume", hub.prefix)) == before, "nothing may be created"
    # The way out the README gives: rename the account to an allowed name, then it starts.
    moved = f"unicode.name-{hub.prefix}"
    renamed = hub.api("PATCH", f"/users/{quote(legacy, safe='')}", json={"name": moved})
    assert renamed.status_code == 200, renamed.text
    hub.users.append(moved)
    hub.client.start_server(moved)
    hub.client.stop_server(moved)


def test_group_from_before_the_name_rule_is_refused_at_start(hub):
    """A group name becomes a *Datawork* volume: one the rule refuses (JupyterHub's API takes
    any group name) stops its members' servers from starting, saying which group."""
    name, _ = hub.new_user()
    group = f"{hub.prefix} Grp\x0c"
    assert hub.api("POST", f"/groups/{quote(group, safe='')}", json={"users": [name]}).status_code == 201
    try:
        before = _docker_names("volume", hub.prefix)
        response = hub.api("POST", f"/users/{name}/server")
        assert response.status_code == 403, response.text
        assert f"group name {group!r} is not allowed" in response.json()["message"]
        assert _docker_names("volume", hub.prefix) == before
    finally:
        hub.api("DELETE", f"/groups/{quote(group, safe='')}")


def test_longest_names_with_a_common_prefix_get_their_own_homes(hub):
    """28-character names, 11 of them escaped ('-' -> '-2d'): two users, two homes."""
    stem = f"{hub.prefix}" + "-x" * 10
    first, _ = hub.new_user(name=stem + "-1")
    second, _ = hub.new_user(name=stem + "-2")
    assert len(first) == 27 and len(naming.container_name(first)) <= 63
    assert naming.home_volume_name(first) != naming.home_volume_name(second)
    hub.client.start_server(first)
    hub.client.start_server(second)
    volumes = _docker_names("volume")
    assert naming.home_volume_name(first) in volumes and naming.home_volume_name(second) in volumes
    hub.client.stop_server(first)
    hub.client.stop_server(second)
