"""Fixtures of the jobs service tests: the real hub's `jobs` service, users with notebooks.

The hub (tests/conftest.py) starts the service as configured in hub/jupyterhub_config.py;
these fixtures only add users, copy the tiny test notebooks into their home volumes
(the same Docker volumes the spawner mounts) and talk to the service's REST API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import docker
import psutil
import pytest
import requests
from vre_hub import naming
from vre_jobs.containers import LABEL_USER, ContainerLimits, DockerBackend

NOTEBOOKS = Path(__file__).parent / "notebooks"
FINAL = {"completed", "failed", "timeout", "cancelled"}


@dataclass
class JobsUser:
    name: str
    token: str
    url: str  # the service, through the hub's proxy

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}api/{path}", headers=headers, timeout=60, **kwargs)

    def submit(self, **body) -> list[dict]:
        r = self.api("POST", "jobs", json=body)
        assert r.status_code == 201, r.text
        return r.json()["jobs"]

    def job(self, job_id: str) -> dict:
        r = self.api("GET", f"jobs/{job_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, job_ids, timeout: float = 120, states=FINAL) -> dict[str, dict]:
        pending, done = set(job_ids), {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                job = self.job(job_id)
                if job["state"] in states:
                    done[job_id] = job
                    pending.discard(job_id)
            time.sleep(0.5)
        assert not pending, f"jobs still not {states} after {timeout} s: {[self.job(j) for j in pending]}"
        return done

    def file(self, job_id: str, name: str) -> requests.Response:
        return self.api("GET", f"jobs/{job_id}/files/{name}")


def service_pid(hub) -> int | None:
    """pid of the hub-managed jobs service (a child process of the hub)."""
    hub_pid = hub.process.pid()
    if hub_pid is None:
        return None
    for child in psutil.Process(hub_pid).children(recursive=True):
        try:
            if "vre_jobs" in child.cmdline():
                return child.pid
        except psutil.NoSuchProcess:
            continue
    return None


def wait_for_service(user: JobsUser, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            r = user.api("GET", "info")
            if r.status_code == 200:
                return r.json()
            last = f"HTTP {r.status_code} {r.text[:200]}"
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.5)
    pytest.fail(f"the jobs service did not answer within {timeout} s: {last}")


@pytest.fixture(scope="session")
def backend(user_image):
    backend = DockerBackend(user_image, ContainerLimits("1G", 1.0, "1000:100", "host"))
    yield backend
    backend.expire_scratch(all_=True)  # its file-access containers hold the volumes


@pytest.fixture(scope="session")
def jobs_url(hub) -> str:
    return f"{hub.url}/services/jobs/"


@pytest.fixture(scope="session")
def make_user(hub, backend, jobs_url):
    """Factory: a hub user whose home holds the test notebooks in ~/work/."""
    made = []

    def make(admin: bool = False) -> JobsUser:
        name, token = hub.new_user(admin=admin)
        files = {p.name: p.read_bytes() for p in NOTEBOOKS.glob("*.ipynb")}
        backend.write_files(naming.home_volume_name(name), "work", files)
        user = JobsUser(name, token, jobs_url)
        made.append(name)
        wait_for_service(user)
        return user

    yield make
    # Job containers are the service's to remove; remove any a failed test left behind.
    client = docker.from_env()
    for name in made:
        for c in client.containers.list(all=True, filters={"label": f"{LABEL_USER}={name}"}):
            c.remove(force=True)


@pytest.fixture(scope="module")
def alice(make_user) -> JobsUser:
    return make_user()


@pytest.fixture(scope="module")
def bob(make_user) -> JobsUser:
    return make_user()
