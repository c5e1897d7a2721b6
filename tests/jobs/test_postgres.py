"""The same engine on PostgreSQL: a private server on loopback, real Docker and papermill.

The hub tests run the service on its default SQLite; this one drives the JobManager (the
service without its HTTP layer) against PostgreSQL through the same code, including a
restart: a second manager on the same database follows the job the first one started.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from vre_jobs.containers import LABEL_USER, ContainerLimits, DockerBackend
from vre_jobs.db import open_database
from vre_jobs.manager import JobManager, Limits

from .conftest import NOTEBOOKS

pytestmark = pytest.mark.docker

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A throwaway PostgreSQL cluster on 127.0.0.1, run as the `postgres` system user."""
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        why = "PostgreSQL 15 server is not installed (apt-get install postgresql)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"required in CI: {why}")
        pytest.skip(why)
    pytest.importorskip("psycopg", reason="the psycopg driver is missing (pip install 'psycopg[binary]')")
    # Not under pytest's private tmp (0700 root): the server runs as `postgres`.
    base = Path(tempfile.mkdtemp(prefix="vrejobs-pg-"))
    base.chmod(0o755)
    data = base / "data"
    subprocess.run(["install", "-d", "-o", "postgres", "-m", "0700", str(data)], check=True)
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    subprocess.run(as_postgres + [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    port = _free_port()
    subprocess.run(
        as_postgres + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "server.log"), "start",
                       "-o", f"-h 127.0.0.1 -p {port} -k {data}"],
        check=True, capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_postgres + [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_jobs_on_postgresql_survive_a_restart(postgres_url, user_image):
    user = f"pgjobs-{uuid.uuid4().hex[:6]}"
    volume = f"vrejobs-test-{user}"
    backend = DockerBackend(user_image, ContainerLimits("1G", 1.0, "1000:100", "host"), identity=f"test-{user}")
    backend.write_files(volume, "work", {"params.ipynb": (NOTEBOOKS / "params.ipynb").read_bytes()})
    limits = Limits(max_concurrent=2, max_per_user=2, tick=0.5)

    def manager():
        return JobManager(open_database(postgres_url), backend, lambda name: volume, limits)

    async def scenario():
        first = manager()
        await first.start()
        (job,) = await first.submit(user, {"notebook": "work/params.ipynb", "parameters": {"alpha": 4.0}, "timeout": 300})
        for _ in range(120):  # until its container runs
            if first.get_job(job["id"])["state"] == "running":
                break
            await asyncio.sleep(0.5)
        assert first.get_job(job["id"])["state"] == "running"
        await first.stop()  # the service goes away; the container keeps running

        second = manager()
        await second.start()
        try:
            for _ in range(360):
                done = second.get_job(job["id"])
                if done["state"] not in ("queued", "starting", "running"):
                    return done
                await asyncio.sleep(0.5)
            return second.get_job(job["id"])
        finally:
            await second.stop()

    try:
        done = asyncio.run(scenario())
        assert done["state"] == "completed", done
        assert done["attempt"] == 1
        executed = backend.read_file(volume, f"{done['output_dir']}/notebook.ipynb")
        assert b"RESULT alpha=4.0 label=base repeat=2 result=8.0" in executed
    finally:
        backend.expire_scratch(all_=True)
        for c in backend.client.containers.list(all=True, filters={"label": f"{LABEL_USER}={user}"}):
            c.remove(force=True)
        subprocess.run(["docker", "volume", "rm", "-f", volume], check=False, capture_output=True)
