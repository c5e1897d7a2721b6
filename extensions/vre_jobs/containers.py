"""Job containers, and the user's home volume (:class:`vre_core.homes.HomeVolume`), through the
Docker SDK.

Every call here blocks; the dispatcher runs them in worker threads. Containers are
named and labelled after their job so that a restarted service finds them again.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from importlib import resources

import docker
import docker.errors
import requests.exceptions
from vre_core.homes import HomeVolume
from vre_core.naming import HOME

from .backend import JobBackend

LABEL_JOB = "org.dataterra.vre.job-id"
LABEL_USER = "org.dataterra.vre.job-user"
LABEL_ROLE = "org.dataterra.vre.role"
LABEL_SERVICE = "org.dataterra.vre.jobs-service"


@dataclass
class ContainerLimits:
    mem_limit: str
    cpu_limit: float
    user: str
    network_mode: str
    pids_limit: int = 1024


# What a stopping dockerd answers (500s) before its socket closes: its own words, and its
# metadata store already closed ("get vre-home-x: database not open", seen in a CI run).
ENGINE_STOPPING = ("shutting down", "database not open")


def engine_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the Docker engine does not answer (stopped, restarting), rather
    than anything about a job: the manager then waits for the engine instead of giving up."""
    if isinstance(error, docker.errors.APIError):  # the engine answered (404, 409...), unless it is stopping
        return any(sign in str(error).lower() for sign in ENGINE_STOPPING)
    return isinstance(error, requests.exceptions.RequestException)  # no answer on the socket


def _runjob_source() -> str:
    return resources.files("vre_jobs").joinpath("runjob.py").read_text()


class DockerBackend(JobBackend):
    """Each run is a container of the user image with the user's home volume (the default backend)."""

    name = "docker"
    start_error = "could not start the job container"

    def __init__(
        self,
        image: str,
        limits: ContainerLimits,
        python: str = "python3",
        client=None,
        identity: str = "",
        scratch_ttl: float = 120,
    ):
        self.image = image
        self.limits = limits
        self.python = python
        self.client = client or docker.from_env(timeout=120)
        # Labels this service's own file-access containers (several services may share an engine).
        self.identity = identity or f"pid-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.scratch_ttl = scratch_ttl
        self._scratch_boxes: dict[str, HomeVolume] = {}
        self._scratch_lock = threading.Lock()
        self._runjob = _runjob_source()

    # --- the user's home volume ------------------------------------------------

    def volume_exists(self, volume: str) -> bool:
        return HomeVolume(self.client, self.image, volume).exists()

    def _home(self, volume: str | None) -> HomeVolume:
        """The volume's :class:`~vre_core.homes.HomeVolume`, kept (with its created, never
        started container) for ``scratch_ttl`` seconds after its last use, since creating a
        container costs more than the copy itself."""
        with self._scratch_lock:
            home = self._scratch_boxes.get(volume or "")
            if home is None:
                labels = {LABEL_ROLE: "vre-jobs-scratch", LABEL_SERVICE: self.identity}
                home = self._scratch_boxes[volume or ""] = HomeVolume(self.client, self.image, volume, labels=labels)
            return home

    def expire_scratch(self, all_: bool = False, volume: str | None = None) -> None:
        """Remove file-access containers unused for ``scratch_ttl`` seconds (all: every one;
        volume: the one holding that volume, which can then be removed)."""
        now = time.monotonic()
        with self._scratch_lock:  # the objects stay: a thread still using one makes a new box in it
            homes = [
                home
                for k, home in self._scratch_boxes.items()
                if all_ or (volume is not None and k == volume) or (volume is None and now - home.used > self.scratch_ttl)
            ]
        for home in homes:
            home.close()

    def remove_stale_scratch(self) -> None:
        """Remove file-access containers a previous run of this service left (it was killed)."""
        with self._scratch_lock:
            self._scratch_boxes.clear()
        for c in self.client.containers.list(all=True, filters={"label": f"{LABEL_SERVICE}={self.identity}"}):
            c.remove(force=True)

    def read_file(self, volume: str | None, path: str, max_bytes: int = 50_000_000) -> bytes | None:
        """Content of ``path`` as the user container sees it, None if it is not a file."""
        return self._home(volume).read(path, max_bytes)

    def write_files(self, volume: str, folder: str, files: dict[str, bytes]) -> None:
        """Put files into ``folder`` (below the home; created, owned by the user) in the home volume."""
        self._home(volume).write(folder, files, owner=self.limits.user)

    # --- job containers --------------------------------------------------------

    def start(self, job, volume: str, extra_env: dict | None = None) -> str:
        """Create and start the container of one attempt of ``job``; returns its name."""
        name = self.container_name(job.id, job.attempt)
        spec = {
            "job": job.id,
            "attempt": job.attempt,
            "notebook": job.notebook,
            "parameters": job.parameters,
            "kernel": job.kernel,
            "output_dir": job.output_dir,
        }
        try:
            old = self.client.containers.get(name)
            old.remove(force=True)  # a leftover of a start interrupted by a restart
        except docker.errors.NotFound:
            pass
        container = self.client.containers.create(
            job.image or self.image,
            # Our own entrypoint: the image's (which copies notebooks into the home
            # before starting a server) is for interactive sessions, not jobs.
            entrypoint=[self.python, "-c", self._runjob],
            command=[json.dumps(spec)],
            name=name,
            user=self.limits.user,
            working_dir=HOME,
            environment={"HOME": HOME, "JUPYTERHUB_USER": job.owner, "VRE_JOB_ID": job.id, **(extra_env or {})},
            volumes={volume: {"bind": HOME, "mode": "rw"}},
            labels={LABEL_JOB: job.id, LABEL_USER: job.owner, LABEL_ROLE: "vre-jobs-run"},
            network_mode=self.limits.network_mode,
            mem_limit=self.limits.mem_limit,
            memswap_limit=self.limits.mem_limit,  # no swap beyond the limit
            nano_cpus=int(self.limits.cpu_limit * 1e9),
            pids_limit=self.limits.pids_limit,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            init=True,  # reap the kernel's children
        )
        container.start()
        return name

    def status(self, name: str) -> tuple[str | None, int | None]:
        """(docker state, exit code) of a container; (None, None) if it is gone."""
        try:
            c = self.client.containers.get(name)
        except docker.errors.NotFound:
            return None, None
        st = c.attrs.get("State", {})
        return st.get("Status"), st.get("ExitCode")

    def oom_killed(self, name: str) -> bool:
        try:
            return bool(self.client.containers.get(name).attrs.get("State", {}).get("OOMKilled"))
        except docker.errors.NotFound:
            return False

    def end_reason(self, name: str) -> str | None:
        if self.oom_killed(name):
            return f"out of memory: the notebook used more than the limit of {self.limits.mem_limit}"
        return None

    def gone_reason(self, name: str) -> str:
        return "its container disappeared (removed outside the service)"

    def wait(self, name: str, timeout: float) -> int | None:
        """Exit code, or None if still running after ``timeout`` seconds."""
        try:
            c = self.client.containers.get(name)
        except docker.errors.NotFound:
            return None
        try:
            return c.wait(timeout=max(timeout, 0.1))["StatusCode"]
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            return None

    def kill(self, name: str) -> None:
        try:
            self.client.containers.get(name).kill()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            if "is not running" not in str(e):
                raise

    def logs(self, name: str, tail: int = 200) -> str:
        try:
            return self.client.containers.get(name).logs(tail=tail).decode("utf-8", "replace")
        except docker.errors.NotFound:
            return ""

    def remove(self, name: str) -> None:
        try:
            self.client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass

    def job_containers(self) -> dict[str, str]:
        """job id -> container name of every job container on this engine."""
        found = self.client.containers.list(all=True, filters={"label": LABEL_JOB})
        return {c.labels[LABEL_JOB]: c.name for c in found}
