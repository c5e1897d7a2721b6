"""The jobs service's Slurm backend on a real one-node Slurm cluster (tests/slurm_cluster.py).

A real hub runs the jobs service with ``c.JobsService.backend = "slurm"`` (its
``vre_jobs_config.py``); each hub user is also a Unix account of the same name, as on a
site. Jobs go through ``sbatch`` as that account, with the project's venv as the nodes'
papermill Python, staged in a spool folder the test makes, and their results come back into
the user's Docker home volume. The jobs are submitted together at the start of the module
(one module fixture) so that the file stays under three minutes on two cores; each test
waits only for its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from gateway.conftest import python_executable_by_all
from slurm_cluster import slurm_cluster, unix_user  # noqa: F401  (fixtures)
from vre_core.hub import HubClient
from vre_core.naming import home_volume_name
from vre_core.state import StateDir
from vre_hub import accounts, engine
from vre_jobs import cli
from vre_testing import RunningHub, need, start_hub

from .conftest import NOTEBOOKS, JobsUser, service_pid, wait_for_service
from .test_page import CHROMIUM_ARGS

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

SWEEP = {"grid": {"alpha": [0.1, 0.5, 1.0], "label": ["a", "b"]}}


def where_notebook() -> bytes:
    """A parameterised notebook that prints where it ran: Slurm's job id and its uid."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('alpha: float = 0.5\nlabel = "base"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell(
            "import os\n"
            "print(f\"RESULT alpha={alpha} label={label} slurm_job={os.environ.get('SLURM_JOB_ID')} uid={os.getuid()}\")"
        ),
    ]
    return nbformat.writes(nb).encode()


@dataclass
class JobsHub:
    """A running test hub and its jobs service (benchmarks/bench_jobs_backend.py uses it too)."""

    hub: RunningHub
    spool: Path | None = None  # the batch backends' spool folder

    def user(self, make_account, files, notebooks: dict, account: bool = True) -> JobsUser:
        """A hub user (with a Unix account of the same name unless ``account`` is False) whose
        ~/work holds ``notebooks`` (name -> bytes), written with ``files`` (a DockerBackend)."""
        name = f"sj{os.urandom(3).hex()}"
        if account:
            make_account(name)
        self.hub.client.ensure_user(name)
        self.hub.users.append(name)
        user = JobsUser(name, self.hub.client.token_for(name, note="slurm jobs tests"), f"{self.hub.url}/services/jobs/")
        files.write_files(home_volume_name(name), "work", notebooks)
        wait_for_service(user)
        return user


def slurm_config(spool: Path) -> str:
    """The jobs service's settings for the test cluster (its vre_jobs_config.py)."""
    return (
        'c.JobsService.backend = "slurm"\n'
        'c.JobsService.mem_limit = "1G"\n'
        f"c.BatchBackend.spool_dir = {str(spool)!r}\n"
        f"c.BatchBackend.python = {sys.executable!r}\n"  # the project's venv: papermill and ipykernel
        "c.BatchBackend.poll_interval = 0.5\n"
    )


@contextlib.contextmanager
def spool_folder():
    """The jobs' spool folder: not under pytest's 0700 basetemp, the users' jobs write below it."""
    spool = Path(tempfile.mkdtemp(prefix="vre-spool-"))
    spool.chmod(0o711)
    try:
        yield spool
    finally:
        shutil.rmtree(spool, ignore_errors=True)


@contextlib.contextmanager
def jobs_hub(state_path: Path, image: str, files, config: str):
    """A hub (as `vre up` starts it) whose jobs service reads ``config``; removed after."""
    state = StateDir(state_path)
    state.path.mkdir(parents=True, exist_ok=True)
    (state.path / "vre_jobs_config.py").write_text(config)
    process = start_hub(state, {"VRE_PROXY_COMMAND": engine.ensure_proxy(), "VRE_USER_IMAGE": image})
    hub = RunningHub(process, HubClient(process.url, state.admin_token))
    try:
        yield JobsHub(hub)
    finally:
        files.expire_scratch(all_=True)  # its file-access containers hold the homes
        hub.stop()


def notebooks() -> dict:
    return {p.name: p.read_bytes() for p in NOTEBOOKS.glob("*.ipynb")} | {"where.ipynb": where_notebook()}


@pytest.fixture(scope="module")
def slurm_jobs(tmp_path_factory, slurm_cluster, unix_user, backend, user_image):  # noqa: F811
    """A hub whose jobs service submits to the test Slurm cluster."""
    need(os.geteuid() == 0, "the Slurm backend submits as the users' accounts: needs root")
    with spool_folder() as spool, python_executable_by_all():
        # All of the module's jobs at once.
        settings = slurm_config(spool) + "c.JobsService.max_concurrent = 12\nc.JobsService.max_per_user = 12\n"
        with jobs_hub(tmp_path_factory.mktemp("hub-slurm-jobs"), user_image, backend, settings) as hub:
            hub.spool = spool
            yield hub


@pytest.fixture(scope="module")
def alice(slurm_jobs, unix_user, backend):  # noqa: F811
    return slurm_jobs.user(unix_user, backend, notebooks())


@pytest.fixture(scope="module")
def bob(slurm_jobs, unix_user, backend):  # noqa: F811
    return slurm_jobs.user(unix_user, backend, notebooks())


@pytest.fixture(scope="module")
def submitted(alice) -> dict:
    """Every job of the module, submitted at once (they run side by side on the node)."""
    return {
        "sweep": alice.submit(notebook="work/where.ipynb", sweep=SWEEP, timeout=300),
        "sleeper": alice.submit(notebook="work/sleep.ipynb", parameters={"seconds": 600})[0],
        "outside": alice.submit(notebook="work/sleep.ipynb", parameters={"seconds": 600})[0],
        "timeout": alice.submit(notebook="work/sleep.ipynb", parameters={"seconds": 600}, timeout=6)[0],
        "retry": alice.submit(notebook="work/fail.ipynb", parameters={"divisor": 0}, timeout=300, retries=1)[0],
        "restart": alice.submit(notebook="work/sleep.ipynb", parameters={"seconds": 20}, timeout=300)[0],
    }


def running_in_slurm(user: JobsUser, cluster, job_id: str, timeout: float = 120) -> str:
    """Wait until the job's Slurm job runs (squeue state R); return its Slurm id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = user.job(job_id)
        assert job["state"] in ("queued", "starting", "running"), job
        if job["backend_id"] and cluster.queue().get(job["backend_id"]) == "R":
            return job["backend_id"]
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not running in Slurm after {timeout} s: {user.job(job_id)}")


def gone_from_squeue(cluster, slurm_id: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while slurm_id in cluster.queue():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def test_another_user_can_neither_see_nor_cancel(alice, bob, submitted, slurm_cluster):  # noqa: F811
    job_id = submitted["sleeper"]["id"]
    slurm_id = running_in_slurm(alice, slurm_cluster, job_id)
    assert bob.api("GET", f"jobs/{job_id}").status_code == 404
    assert bob.api("GET", f"jobs/{job_id}/files/job.log").status_code == 404
    assert bob.api("DELETE", f"jobs/{job_id}").status_code == 404
    assert bob.api("POST", f"jobs/{job_id}/cancel").status_code == 404
    assert job_id not in {j["id"] for j in bob.api("GET", "jobs").json()["jobs"]}
    assert bob.api("GET", "jobs?all=1").status_code == 403
    # Nor in Slurm: the job is alice's account's, bob's account cannot cancel it.
    refused = slurm_cluster.run("scancel", slurm_id, user=bob.name, check=False)
    time.sleep(1)
    assert slurm_cluster.queue().get(slurm_id) == "R", refused.stderr
    assert alice.job(job_id)["state"] == "running"


def test_cancelled_job_leaves_squeue(alice, submitted, slurm_cluster):  # noqa: F811
    job_id = submitted["sleeper"]["id"]
    slurm_id = running_in_slurm(alice, slurm_cluster, job_id)
    r = alice.api("DELETE", f"jobs/{job_id}")
    assert r.status_code == 200, r.text
    job = alice.wait([job_id], timeout=60)[job_id]
    assert job["state"] == "cancelled" and job["error"] == "cancelled by request"
    assert job["backend"] == "slurm" and job["backend_id"] == slurm_id
    assert gone_from_squeue(slurm_cluster, slurm_id), f"Slurm job {slurm_id} still in squeue"


def test_job_cancelled_outside_the_service_says_why(slurm_jobs, alice, submitted, slurm_cluster):  # noqa: F811
    job_id = submitted["outside"]["id"]
    slurm_id = running_in_slurm(alice, slurm_cluster, job_id)
    # As if the service had stopped between sbatch and noting the id: it finds the job by name.
    noted = slurm_jobs.spool / f"vre-job-{job_id}-a1.id"
    noted.unlink()
    deadline = time.monotonic() + 30
    while not noted.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert noted.read_text() == slurm_id
    slurm_cluster.run("scancel", slurm_id)  # the site's operator, not the service
    job = alice.wait([job_id], timeout=60)[job_id]
    assert job["state"] == "failed"
    assert job["error"] == f"Slurm job {slurm_id} was cancelled outside the service (scancel)"
    # The batch job's own output (sbatch --output), Slurm's last word included.
    assert f"*** JOB {slurm_id} ON" in alice.file(job_id, "container.log").text


def test_timeout_kills_the_slurm_job(alice, submitted, slurm_cluster):  # noqa: F811
    job_id = submitted["timeout"]["id"]
    job = alice.wait([job_id], timeout=150)[job_id]
    assert job["state"] == "timeout", job
    assert job["error"] == "killed after its timeout of 6 s"
    assert gone_from_squeue(slurm_cluster, job["backend_id"])


def test_failed_job_is_retried_then_reports_the_cell(alice, submitted):
    job_id = submitted["retry"]["id"]
    job = alice.wait([job_id], timeout=150)[job_id]
    assert job["state"] == "failed" and job["attempt"] == 2, job
    assert job["error"] == "ValueError: bad divisor 0"
    cells = json.loads(alice.file(job_id, "notebook.ipynb").text)["cells"]
    assert "raise ValueError" in "".join(cells[job["error_cell"]]["source"])
    status = json.loads(alice.file(job_id, "status.json").text)
    assert status["attempt"] == 2 and status["backend"] == "slurm"


def test_sweep_of_six_through_sbatch(alice, submitted, backend):
    jobs = submitted["sweep"]
    assert len(jobs) == 6
    done = alice.wait([j["id"] for j in jobs], timeout=170)
    uid = pwd.getpwnam(alice.name).pw_uid
    seen = set()
    for job in done.values():
        assert job["state"] == "completed", job
        assert job["backend"] == "slurm" and job["backend_id"].isdigit()
        p = job["parameters"]
        log = alice.file(job["id"], "job.log").text
        # Ran in that Slurm job, as alice's account (never root), with its parameters.
        assert f"RESULT alpha={p['alpha']} label={p['label']} slurm_job={job['backend_id']} uid={uid}" in log
        # The results are in alice's home volume, where her server sees them.
        volume = home_volume_name(alice.name)
        for name in ("notebook.ipynb", "notebook.html", "parameters.json", "job.log", "status.json"):
            assert backend.read_file(volume, f"{job['output_dir']}/{name}"), name
        assert json.loads(backend.read_file(volume, f"{job['output_dir']}/parameters.json")) == p
        seen.add((p["alpha"], p["label"]))
    assert len(seen) == 6


def test_service_killed_mid_run_follows_its_slurm_job_again(slurm_jobs, alice, submitted, slurm_cluster):  # noqa: F811
    """kill -9 of the service while its job runs in Slurm: the job goes on; the service the hub
    starts again finds it (here after Slurm has forgotten it: its exit_code) and completes it."""
    job_id = submitted["restart"]["id"]
    slurm_id = running_in_slurm(alice, slurm_cluster, job_id)
    before = alice.job(job_id)
    pid = service_pid(slurm_jobs.hub)
    assert pid, "the jobs service process was not found under the hub"
    os.kill(pid, signal.SIGKILL)
    assert slurm_cluster.queue().get(slurm_id) == "R"  # the batch job does not depend on the service
    deadline = time.monotonic() + 90  # the hub polls its services every 30 s
    while time.monotonic() < deadline and service_pid(slurm_jobs.hub) in (None, pid):
        time.sleep(0.5)
    assert service_pid(slurm_jobs.hub) not in (None, pid), "the hub did not restart the jobs service"
    wait_for_service(alice)
    job = alice.wait([job_id], timeout=120)[job_id]
    assert job["state"] == "completed" and job["attempt"] == 1, job  # followed, not re-run
    assert job["backend_id"] == slurm_id and job["started"] == before["started"]
    assert "woke up" in alice.file(job_id, "job.log").text


def test_cli_and_page_say_which_backend_ran_it(slurm_jobs, alice, submitted, capsys):
    job = alice.wait([submitted["sweep"][0]["id"]], timeout=170)[submitted["sweep"][0]["id"]]
    assert cli.main(["--url", alice.url, "--token", alice.token, "show", job["id"]]) == 0
    assert f"  backend: slurm ({job['backend_id']})" in capsys.readouterr().out.splitlines()

    need(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    password = secrets.token_urlsafe(12)
    accounts.set_password(alice.name, password, slurm_jobs.hub.process.state.db_url)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{slurm_jobs.hub.url}/hub/login?next=/services/jobs/")
            page.fill("input[name=username]", alice.name)
            page.fill("input[name=password]", password)
            page.click("input[type=submit], button[type=submit]")
            page.wait_for_url("**/services/jobs/")
            page.wait_for_selector(f"#jobs tr:has-text('{job['id']}') td.backend")
            assert page.inner_text(f"#jobs tr:has-text('{job['id']}') td.backend") == f"slurm {job['backend_id']}"
        finally:
            browser.close()


def test_bad_input_is_one_line_and_queues_nothing(slurm_jobs, unix_user, backend, alice):  # noqa: F811
    nobody = slurm_jobs.user(unix_user, backend, notebooks(), account=False)  # a hub user without a Unix account
    r = nobody.api("POST", "jobs", json={"notebook": "work/where.ipynb"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert "\n" not in error
    assert error == (
        f"hub user {nobody.name!r} has no Unix account on this host, and batch jobs run as that account; "
        f"ask the operator to create the account {nobody.name!r} (or to add it to the site's directory)"
    )
    assert nobody.api("GET", "jobs").json()["jobs"] == []
    r = alice.api("POST", "jobs", json={"notebook": "work/where.ipynb", "parameters": {"alpha": "x"}})
    assert r.status_code == 400 and "\n" not in r.json()["error"] and "alpha" in r.json()["error"]
