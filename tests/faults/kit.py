"""Helpers of the fault tests: a hub of their own (they kill it), its users, what Docker holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import psutil
import requests
from vre_core import naming
from vre_core.hub import HubClient
from vre_core.state import StateDir
from vre_testing import RunningHub, start_hub


def own_hub(state_path, user_image, proxy_command, **env) -> RunningHub:
    """A hub started as `vre up` starts it (the `hub` fixture's settings), for a test that
    kills something of it; ``RunningHub.stop()`` removes it with its users' containers and homes."""
    state = StateDir(state_path)
    process = start_hub(
        state, {"VRE_PROXY_COMMAND": proxy_command, "VRE_USER_IMAGE": user_image, "VRE_CULL_TIMEOUT": "86400", **env}
    )
    return RunningHub(process, HubClient(process.url, state.admin_token))


def vre_up(hub: RunningHub) -> subprocess.CompletedProcess:
    """`vre up` on the hub's state folder, ports and environment, as an operator runs it again."""
    p = hub.process
    command = [sys.executable, "-m", "vre_hub.cli", "--state-dir", str(p.state.path), "--port", str(p.port),
               "--api-port", str(p.api_port), "--proxy-api-port", str(p.proxy_api_port), "up"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, **p.env})


def processes_of(pid: int) -> dict[int, str]:
    """A process and its descendants (pid -> command line): the hub, its proxy, its services."""
    root = psutil.Process(pid)
    found = {}
    for proc in [root, *root.children(recursive=True)]:
        try:
            found[proc.pid] = " ".join(proc.cmdline())[:120]
        except psutil.NoSuchProcess:
            pass
    return found


def alive(pids) -> dict[int, str]:
    """Those of ``pids`` (pid -> command line) still running (zombies are not)."""
    left = {}
    for pid, cmd in dict(pids).items():
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left[pid] = cmd
        except psutil.NoSuchProcess:
            pass
    return left


def containers(network: str) -> dict[str, str]:
    """name -> state of every container on ``network`` (running or not)."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"network={network}", "--format", "{{.Names}} {{.State}}"],
        capture_output=True, text=True, check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


def servers(hub: RunningHub, names) -> dict[str, dict | None]:
    """Each user's default server model as the hub reports it (None: no server), and its pending."""
    users = {u["name"]: u for u in hub.client.users()}
    return {name: {"server": (users[name].get("servers") or {}).get(""), "pending": users[name].get("pending")}
            for name in names}


def wait_settled(hub: RunningHub, names, timeout: float) -> dict[str, dict]:
    """The hub's view once no user of ``names`` is pending (start, stop or check)."""
    deadline = time.monotonic() + timeout
    while True:
        view = servers(hub, names)
        busy = {n: v["pending"] for n, v in view.items() if v["pending"] or (v["server"] and not v["server"]["ready"])}
        if not busy:
            return view
        assert time.monotonic() < deadline, f"users still pending {timeout:.0f} s after the restart: {busy}"
        time.sleep(1)


def lab_answers(hub: RunningHub, name: str, token: str) -> int:
    """HTTP status of the user's JupyterLab page through the hub's proxy (with their token)."""
    url = f"{hub.url}/user/{quote(name, safe='')}/lab"
    return requests.get(url, headers={"Authorization": f"token {token}"}, timeout=60).status_code


def start_all(hub: RunningHub, names, timeout: float = 240) -> dict[str, str]:
    """Start the servers of ``names`` at once (as a class does); name -> error of those that failed."""

    def start(name):
        try:
            hub.client.start_server(name, {"profile": "standard"}, wait=timeout)
            return None
        except Exception as error:  # noqa: BLE001 (reported per user)
            return f"{type(error).__name__}: {error}"

    with ThreadPoolExecutor(len(names) or 1) as pool:
        results = dict(zip(names, pool.map(start, names)))
    return {name: error for name, error in results.items() if error}


def stop_all(hub: RunningHub) -> None:
    """Stop the hub's users' servers at once, then the hub (``RunningHub.stop``, which removes the rest)."""

    def stop(name):
        try:
            hub.client.stop_server(name, wait=60)
        except Exception:  # noqa: BLE001 (the hub may be the fault's victim; stop() removes what is left)
            pass

    with ThreadPoolExecutor(max(1, min(len(hub.users), 20))) as pool:
        list(pool.map(stop, hub.users))
    hub.stop()


def container_name(name: str) -> str:
    return naming.container_name(name)
