"""The Docker engine stopped and started again (an upgrade, a crash) while servers and a job run.

The test stops dockerd (SIGTERM, as a service manager does) and starts it as the project does
(``vre_hub.engine.ensure_docker_engine``, what `vre up` and `./vre test` run); a finalizer
starts it again, with the same command line, whatever happens. It disturbs every other Docker
test: marked ``engine_restart``, which tests/conftest.py runs after all others.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import docker
import psutil
import pytest
from jobs.conftest import NOTEBOOKS, JobsUser, wait_for_service
from vre_core import naming
from vre_hub import engine, network
from vre_jobs.containers import LABEL_USER, ContainerLimits, DockerBackend
from vre_testing import need

from .kit import lab_answers, own_hub, servers, start_all, stop_all

pytestmark = [pytest.mark.docker, pytest.mark.engine_restart]


@pytest.fixture
def dockerd(docker_engine) -> int:
    """pid of the running dockerd, started as the project starts it; running again after the test."""
    pids = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    need(len(pids) == 1, f"one dockerd on this machine to restart (found {len(pids)})")
    command = Path(f"/proc/{pids[0]}/cmdline").read_bytes().split(b"\0")[:-1]
    need(command == [b"dockerd"], f"dockerd runs as {command}, not as the project starts it (engine.py)")
    try:
        yield int(pids[0])
    finally:
        if not engine.engine_answers():
            print(engine.ensure_docker_engine(log=print))


def firewall(net: str) -> set[str]:
    """The VRE's host firewall rules for the users' network (vre_hub.network: its chain and the
    link-local drop; not the rules Docker writes for the bridge itself)."""
    bridge = network.inspect(net).bridge
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout.splitlines()
    return {rule for rule in rules if bridge in rule and ("VRE-" in rule or network.LINK_LOCAL in rule)}


def test_engine_restart_with_servers_and_a_job_running(tmp_path, user_image, proxy_command, dockerd):
    hub = own_hub(tmp_path / "state", user_image, proxy_command)
    client = docker.from_env()
    try:
        names = [hub.client.ensure_user(f"engine{i}")["name"] for i in range(2)]
        hub.users += names
        tokens = {name: hub.client.token_for(name, note="faults") for name in names}
        assert not start_all(hub, names)
        kept = client.containers.get(naming.container_name(names[0]))
        assert kept.exec_run(["sh", "-c", "echo kept > ~/kept.txt"], user="1000").exit_code == 0
        backend = DockerBackend(user_image, ContainerLimits("1G", 1.0, naming.RUN_AS, "none"))
        backend.write_files(naming.home_volume_name(names[1]), "work", {p.name: p.read_bytes() for p in NOTEBOOKS.glob("*.ipynb")})
        backend.expire_scratch(all_=True)
        jobs = JobsUser(names[1], tokens[names[1]], f"{hub.url}/services/jobs/")
        wait_for_service(jobs)
        (job,) = jobs.submit(notebook="work/sleep.ipynb", parameters={"seconds": 300}, timeout=600)
        jobs.wait([job["id"]], states={"running"}, timeout=120)
        net = hub.process.env["VRE_NETWORK"]
        rules = firewall(net)
        assert rules, f"no firewall rules for {net}"

        os.kill(dockerd, signal.SIGTERM)  # as `systemctl stop docker` / an upgrade does
        psutil.Process(dockerd).wait(120)
        assert not engine.engine_answers()
        print(engine.ensure_docker_engine(log=print))
        back = time.monotonic()

        # The engine put its own rules back; the VRE's are still there.
        assert firewall(net) == rules
        # The hub's view matches Docker's (its poll notices stopped servers within ~30 s).
        deadline = time.monotonic() + 90
        while True:
            view = servers(hub, names)
            running = {n for n in names if client.containers.list(filters={"name": f"^{naming.container_name(n)}$"})}
            listed = {n for n in names if view[n]["server"]}
            if listed == running and not any(v["pending"] for v in view.values()):
                break
            assert time.monotonic() < deadline, f"hub lists {listed}, Docker runs {running}"
            time.sleep(1)
        print(f"hub view matches Docker {time.monotonic() - back:.0f} s after the engine came back: running {sorted(running)}")
        for name in listed:
            assert lab_answers(hub, name, tokens[name]) == 200
        # The job ends, saying why, never left running.
        done = jobs.wait([job["id"]], timeout=90)[job["id"]]
        assert done["state"] == "failed" and done["error"].startswith("engine restarted"), done
        assert "\n" not in done["error"]

        # Everyone starts again, with their home as it was; jobs run again.
        assert not start_all(hub, [n for n in names if n not in listed])
        for name in names:
            assert lab_answers(hub, name, tokens[name]) == 200
        kept = client.containers.get(naming.container_name(names[0]))
        assert kept.exec_run(["cat", f"{naming.HOME}/kept.txt"], user="1000").output == b"kept\n"
        (again,) = jobs.submit(notebook="work/params.ipynb", parameters={"repeat": 2}, timeout=120)
        assert jobs.wait([again["id"]], timeout=120)[again["id"]]["state"] == "completed"
    finally:
        if not engine.engine_answers():  # the test failed with the engine stopped
            print(engine.ensure_docker_engine(log=print))
        if engine.engine_answers():
            for name in hub.users:
                for c in client.containers.list(all=True, filters={"label": f"{LABEL_USER}={name}"}):
                    c.remove(force=True)
        stop_all(hub)
