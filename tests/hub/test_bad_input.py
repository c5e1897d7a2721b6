"""Bad spawn requests and odd user names: clear errors, safe names, no collisions."""

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


def test_unicode_name_spawns_with_an_escaped_container_name(hub):
    stored, _ = hub.new_user(name=f"Ünïcode.Name-{hub.prefix}")
    assert stored.startswith("ünïcode.name-")
    hub.client.start_server(stored)
    container = naming.container_name(stored)
    assert container.startswith("vre-user-") and all(ch.isascii() for ch in container)
    running = subprocess.run(["docker", "inspect", "--format", "{{.State.Running}}", container], capture_output=True, text=True)
    assert running.stdout.strip() == "true"
    hub.client.stop_server(stored)


def test_long_names_with_a_common_prefix_do_not_collide(hub):
    stem = f"{hub.prefix}-" + "x" * 190
    first, _ = hub.new_user(name=stem + "-1")
    second, _ = hub.new_user(name=stem + "-2")
    assert len(first) > 190
    assert naming.home_volume_name(first) != naming.home_volume_name(second)
    assert len(naming.container_name(first)) <= 80
    hub.client.start_server(first)
    hub.client.start_server(second)
    volumes = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True).stdout.split()
    assert naming.home_volume_name(first) in volumes and naming.home_volume_name(second) in volumes
    hub.client.stop_server(first)
    hub.client.stop_server(second)
