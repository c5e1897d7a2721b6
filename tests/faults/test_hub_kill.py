"""The hub killed (SIGKILL) in the middle of 20 concurrent spawns, then started again by `vre up`.

Afterwards: no process of the killed hub left behind (proxy, services), no orphan container,
no user stuck pending, every server the hub calls running answers, and every user can start
again and reach their JupyterLab.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests

from .kit import alive, container_name, containers, lab_answers, own_hub, processes_of, start_all, stop_all, vre_up, wait_settled

pytestmark = pytest.mark.docker
CLASS = 20  # users starting at once


def test_hub_killed_during_20_spawns_comes_back_clean(tmp_path, user_image, proxy_command):
    hub = own_hub(tmp_path / "state", user_image, proxy_command)
    try:
        prefix = f"k{secrets.token_hex(2)}"
        names = [f"{prefix}-{i}" for i in range(CLASS)]
        hub.client.create_users(names)
        hub.users += names
        tokens = {name: hub.client.token_for(name, note="faults") for name in names}
        network = hub.process.env["VRE_NETWORK"]

        def spawn(name):
            return hub.client.request("POST", f"/users/{name}/server", json={"profile": "standard"}, check=False)

        with ThreadPoolExecutor(CLASS) as pool:
            answers = list(pool.map(spawn, names))
        assert {r.status_code for r in answers} <= {201, 202}, [r.text for r in answers if r.status_code not in (201, 202)]
        # Kill once some containers exist and the rest are still on their way.
        deadline = time.monotonic() + 120
        while len(containers(network)) < CLASS // 4:
            assert time.monotonic() < deadline, "no container was created within 120 s"
            time.sleep(0.2)
        pid = hub.process.pid()
        before = processes_of(pid)
        pending = [u["name"] for u in hub.client.users() if u["name"] in names and u.get("pending")]
        os.kill(pid, signal.SIGKILL)
        psutil.Process(pid).wait(10) if psutil.pid_exists(pid) else None
        print(f"killed the hub with {len(containers(network))} containers made, {len(pending)} spawns pending")
        assert pending, "every spawn had ended before the kill: the fault was not injected mid-spawn"

        up = vre_up(hub)
        assert up.returncode == 0, up.stdout + up.stderr
        restarted = time.monotonic()
        # Within a minute: a server the killed hub was still starting is found at its container's
        # address (VRESpawner.get_url), not waited for at a port it never had (http_timeout, 2 min).
        view = wait_settled(hub, names, timeout=60)
        print(f"settled {time.monotonic() - restarted:.0f} s after `vre up`: "
              f"{sum(bool(v['server']) for v in view.values())} servers running")

        # Nothing of the killed hub's run is left: its proxy and services were replaced.
        assert not alive({p: c for p, c in before.items() if p != pid}), "processes of the killed hub left running"
        # The hub's view is Docker's: a running server for each server it lists, no other container.
        found = containers(network)
        listed = {container_name(n) for n in names if view[n]["server"]}
        assert set(found) == listed, f"orphans: {set(found) - listed}, missing: {listed - set(found)}"
        assert set(found.values()) <= {"running"}, found
        for name in names:
            if view[name]["server"]:
                assert lab_answers(hub, name, tokens[name]) == 200, name
        # The jobs service (restarted with the hub) answers users.
        info = requests.get(f"{hub.url}/services/jobs/api/info", headers={"Authorization": f"token {tokens[names[0]]}"},
                            timeout=30)
        assert info.status_code == 200, info.text

        # Every user starts again and reaches their lab.
        failed = start_all(hub, [n for n in names if not view[n]["server"]])
        assert not failed, failed
        for name in names:
            assert lab_answers(hub, name, tokens[name]) == 200, name
    finally:
        stop_all(hub)
