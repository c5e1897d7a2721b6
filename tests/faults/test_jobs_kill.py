"""The jobs service killed (SIGKILL) while jobs run, one waits and a schedule is due.

While it is down, one running job's container is removed and another job ends; the times of
a schedule pass. To keep it down for a known time (the hub restarts a dead service at its
next poll, 0-30 s later), the service is frozen (SIGSTOP) first, then killed (SIGKILL): the
kill is what ends it. After the hub restarts it, every job is in a true state.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import docker
import pytest
from jobs.conftest import NOTEBOOKS, JobsUser, service_pid, wait_for_service
from vre_core import naming
from vre_jobs.containers import LABEL_USER, ContainerLimits, DockerBackend

from .kit import own_hub, stop_all

pytestmark = pytest.mark.docker


def seconds_ahead(*offsets: int) -> list[dt.datetime]:
    """UTC times ``offsets`` seconds from now, all within one minute (for one cron line)."""
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    if start.second + max(offsets) > 58:
        start = start.replace(second=0) + dt.timedelta(minutes=1)
    return [start + dt.timedelta(seconds=o) for o in offsets]


def test_jobs_service_killed_mid_run_every_job_ends_true(tmp_path, user_image, proxy_command):
    state = tmp_path / "state"
    state.mkdir()
    (state / "vre_jobs_config.py").write_text("c.JobsService.max_concurrent = 3\nc.JobsService.max_per_user = 3\n")
    hub = own_hub(state, user_image, proxy_command)
    client = docker.from_env()
    try:
        name = hub.client.ensure_user("jobsfault")["name"]
        hub.users.append(name)
        backend = DockerBackend(user_image, ContainerLimits("1G", 1.0, naming.RUN_AS, "none"))
        backend.write_files(naming.home_volume_name(name), "work", {p.name: p.read_bytes() for p in NOTEBOOKS.glob("*.ipynb")})
        backend.expire_scratch(all_=True)
        user = JobsUser(name, hub.client.token_for(name, note="faults"), f"{hub.url}/services/jobs/")
        wait_for_service(user)

        gone, ends, goes_on = user.submit(notebook="work/sleep.ipynb", timeout=300,
                                          sweep={"list": [{"seconds": 60}, {"seconds": 2}, {"seconds": 25}]})
        (waiting,) = user.submit(notebook="work/params.ipynb", parameters={"repeat": 3}, timeout=120)
        running = user.wait([gone["id"], ends["id"], goes_on["id"]], states={"running"}, timeout=120)
        assert user.job(waiting["id"])["state"] == "queued"
        # Three runs of a schedule fall while the service is down: it fires once for them.
        times = seconds_ahead(5, 7, 9)
        cron = f"{times[0].minute} {times[0].hour} * * * {','.join(str(t.second) for t in times)}"
        r = user.api("POST", "schedules", json={"notebook": "work/params.ipynb", "cron": cron, "timeout": 120})
        assert r.status_code == 201, r.text
        schedule = r.json()

        pid = service_pid(hub)
        os.kill(pid, signal.SIGSTOP)  # down from here on (see the module's docstring)
        client.containers.get(running[gone["id"]]["backend_id"]).remove(force=True)
        client.containers.get(running[ends["id"]]["backend_id"]).wait(timeout=120)
        while dt.datetime.now(dt.UTC) < times[-1] + dt.timedelta(seconds=1):
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while service_pid(hub) in (None, pid):
            assert time.monotonic() < deadline, "the hub did not restart the jobs service"
            time.sleep(0.5)
        wait_for_service(user)

        done = user.wait([gone["id"], ends["id"], goes_on["id"], waiting["id"]], timeout=180)
        assert done[gone["id"]]["state"] == "failed"
        assert done[gone["id"]]["error"] == "its container disappeared while the service was down"
        for job in (ends, goes_on, waiting):
            assert done[job["id"]]["state"] == "completed", done[job["id"]]
            assert done[job["id"]]["attempt"] == 1  # followed, not run again
        for job in (ends, goes_on):
            assert done[job["id"]]["started"] == running[job["id"]]["started"]
        fired = [j for j in user.api("GET", "jobs").json()["jobs"] if j["schedule"] == schedule["id"]]
        assert len(fired) == 1, fired
        after = user.api("GET", f"schedules/{schedule['id']}").json()
        assert after["runs"] == 1 and after["next_run"] > times[-1].strftime("%Y-%m-%dT%H:%M:%S"), after
        assert user.wait([fired[0]["id"]], timeout=120)[fired[0]["id"]]["state"] == "completed"
        # The service removed every job container (none left running or exited).
        deadline = time.monotonic() + 30
        while client.containers.list(all=True, filters={"label": f"{LABEL_USER}={name}"}):
            assert time.monotonic() < deadline, "job containers left behind"
            time.sleep(0.5)
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{LABEL_USER}=jobsfault"}):
            c.remove(force=True)
        stop_all(hub)
