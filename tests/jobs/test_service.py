"""The jobs service for real: the hub, its managed `jobs` service, Docker, the user image, papermill."""

from __future__ import annotations

import json
import os
import signal
import time

import docker
import pytest
from vre_hub import naming
from vre_jobs import cli
from vre_jobs.containers import LABEL_JOB

from .conftest import service_pid, wait_for_service

pytestmark = pytest.mark.docker


def job_containers(job_id: str, settle: float = 30) -> list:
    """The job's containers, once the service has had ``settle`` seconds to remove them."""
    deadline = time.monotonic() + settle
    while True:
        found = docker.from_env().containers.list(all=True, filters={"label": f"{LABEL_JOB}={job_id}"})
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value  # .ipynb splits text into lines


def cells(notebook_json: str) -> list[dict]:
    """Cells of a notebook file, with sources joined into strings."""
    nb = json.loads(notebook_json)["cells"]
    for cell in nb:
        cell["source"] = _text(cell["source"])
    return nb


def outputs_text(cell: dict) -> str:
    return "".join(_text(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def test_job_runs_with_parameters_injected(alice):
    (job,) = alice.submit(notebook="work/params.ipynb", parameters={"alpha": 0.25, "label": "north"}, timeout=120)
    assert job["state"] == "queued" and job["owner"] == alice.name
    assert job["output_dir"] == f"/home/jovyan/jobs/{job['id']}"
    done = alice.wait([job["id"]])[job["id"]]
    assert done["state"] == "completed", done
    assert done["attempt"] == 1 and done["exit_code"] == 0 and done["duration"] > 0

    nb = cells(alice.file(job["id"], "notebook.ipynb").text)
    injected = [c for c in nb if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and "alpha = 0.25" in injected[0]["source"] and 'label = "north"' in injected[0]["source"]
    printed = "".join(outputs_text(c) for c in nb)
    assert "RESULT alpha=0.25 label=north repeat=2 result=0.5" in printed
    assert "HOME /home/jovyan uid 1000" in printed  # as the user, in the user's home

    html = alice.file(job["id"], "notebook.html")
    assert html.status_code == 200 and "text/html" in html.headers["Content-Type"]
    assert "RESULT alpha=0.25" in html.text
    assert alice.file(job["id"], "parameters.json").json() == {"alpha": 0.25, "label": "north"}
    status = alice.file(job["id"], "status.json").json()
    assert status["state"] == "completed" and status["started"] and status["finished"]
    assert "RESULT alpha=0.25" in alice.file(job["id"], "job.log").text
    assert job_containers(job["id"]) == []  # the finished container is removed


def test_sweep_of_four_gives_four_distinct_outputs(alice):
    jobs = alice.submit(notebook="work/params.ipynb", sweep={"grid": {"alpha": [1.0, 2.0, 3.0, 4.0]}}, timeout=120)
    assert len(jobs) == 4 and len({j["submission"] for j in jobs}) == 1
    assert len({j["output_dir"] for j in jobs}) == 4
    done = alice.wait([j["id"] for j in jobs], timeout=180)
    results = set()
    for job_id, job in done.items():
        assert job["state"] == "completed", job
        text = "".join(outputs_text(c) for c in cells(alice.file(job_id, "notebook.ipynb").text))
        alpha = job["parameters"]["alpha"]
        assert f"RESULT alpha={alpha} label=base repeat=2 result={alpha * 2}" in text
        results.add(text)
    assert len(results) == 4


def test_failing_notebook_records_cell_and_error_after_retry(alice):
    (job,) = alice.submit(notebook="work/fail.ipynb", parameters={"divisor": 0}, timeout=120, retries=1)
    done = alice.wait([job["id"]], timeout=180)[job["id"]]
    assert done["state"] == "failed", done
    assert done["attempt"] == 2  # retried once, failed again
    assert done["error"] == "ValueError: bad divisor 0"
    assert done["error_name"] == "ValueError"
    nb = cells(alice.file(job["id"], "notebook.ipynb").text)
    assert "raise ValueError" in nb[done["error_cell"]]["source"]
    assert "never reached" not in "".join(outputs_text(c) for c in nb)
    status = alice.file(job["id"], "status.json").json()
    assert status["state"] == "failed" and status["error_cell"] == done["error_cell"]
    assert alice.file(job["id"], "notebook.html").status_code == 200  # rendered even when failed


def test_job_over_its_timeout_is_killed_and_marked(alice):
    (job,) = alice.submit(notebook="work/sleep.ipynb", parameters={"seconds": 300}, timeout=8)
    done = alice.wait([job["id"]], timeout=60)[job["id"]]
    assert done["state"] == "timeout", done
    assert done["error"] == "killed after its timeout of 8 s"
    assert 8 <= done["duration"] < 60
    assert job_containers(job["id"]) == []
    assert alice.file(job["id"], "status.json").json()["state"] == "timeout"


def test_users_see_and_control_only_their_own_jobs(alice, bob, make_user):
    (job,) = alice.submit(notebook="work/sleep.ipynb", parameters={"seconds": 300}, timeout=300)
    job_id = job["id"]
    for method, path in [("GET", f"jobs/{job_id}"), ("DELETE", f"jobs/{job_id}"), ("POST", f"jobs/{job_id}/cancel"),
                         ("GET", f"jobs/{job_id}/files/notebook.ipynb")]:
        r = bob.api(method, path)
        assert r.status_code in (403, 404), (method, path, r.status_code)
    assert job_id not in [j["id"] for j in bob.api("GET", "jobs").json()["jobs"]]
    assert bob.api("GET", "jobs?all=1").status_code == 403
    assert alice.job(job_id)["state"] != "cancelled"  # bob's cancel did nothing

    admin = make_user(admin=True)
    assert admin.api("GET", f"jobs/{job_id}").status_code == 200
    assert job_id in [j["id"] for j in admin.api("GET", "jobs?all=1").json()["jobs"]]

    alice.wait([job_id], states={"running"}, timeout=60)
    r = alice.api("DELETE", f"jobs/{job_id}")
    assert r.status_code == 200, r.text
    done = alice.wait([job_id], timeout=60)[job_id]
    assert done["state"] == "cancelled"
    assert job_containers(job_id) == []
    r = alice.api("DELETE", f"jobs/{job_id}")
    assert r.status_code == 409 and "already cancelled" in r.json()["error"]


def test_no_token_no_access(jobs_url):
    import requests

    assert requests.get(f"{jobs_url}api/jobs", timeout=30).status_code == 403
    r = requests.get(f"{jobs_url}api/jobs", headers={"Authorization": "token not-a-token"}, timeout=30)
    assert r.status_code == 403


@pytest.mark.parametrize(
    "body, message",
    [
        ({"notebook": "work/missing.ipynb"}, "notebook work/missing.ipynb not found in your home"),
        ({"notebook": "/opt/vre/notebooks/missing.ipynb"}, "not found in the shipped notebooks"),
        ({"notebook": "/etc/passwd.ipynb"}, "is outside your home"),
        ({"notebook": "work/params.ipynb", "parameters": {"beta": 1}}, "unknown parameter 'beta'"),
        ({"notebook": "work/params.ipynb", "parameters": {"alpha": "big"}}, "parameter 'alpha' of work/params.ipynb expects float"),
        ({"notebook": "work/params.ipynb", "sweep": {"grid": {"repeat": [1, "two"]}}}, "parameter 'repeat' of work/params.ipynb expects int"),
        ({"notebook": "work/params.ipynb", "timeout": -1}, "timeout must be"),
        ({"notebook": "work/params.ipynb", "cron": "* * * * *"}, "is a schedule"),
    ],
)
def test_bad_submissions_are_400_and_queue_nothing(bob, body, message):
    before = bob.api("GET", "jobs").json()["jobs"]
    r = bob.api("POST", "jobs", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert message in error and "\n" not in error and ";" in error  # what is wrong; how to fix
    assert bob.api("GET", "jobs").json()["jobs"] == before


@pytest.mark.parametrize("cron", ["61 * * * *", "every morning", ""])
def test_invalid_cron_is_400(bob, cron):
    r = bob.api("POST", "schedules", json={"notebook": "work/params.ipynb", "cron": cron})
    assert r.status_code == 400 and "invalid cron expression" in r.json()["error"]
    assert bob.api("GET", "schedules").json()["schedules"] == []


def test_bad_json_body_is_400(bob):
    r = bob.api("POST", "jobs", data=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]


def test_schedule_fires_pauses_and_resumes(bob):
    r = bob.api("POST", "schedules", json={"notebook": "work/params.ipynb", "cron": "* * * * * */4", "parameters": {"repeat": 5}, "timeout": 120})
    assert r.status_code == 201, r.text
    schedule = r.json()
    assert len(schedule["upcoming"]) == 3 and schedule["next_run"] == schedule["upcoming"][0]

    deadline = time.monotonic() + 60
    fired = []
    while not fired and time.monotonic() < deadline:
        fired = [j for j in bob.api("GET", "jobs").json()["jobs"] if j["schedule"] == schedule["id"]]
        time.sleep(0.5)
    assert fired, "the schedule did not fire within 60 s"
    r = bob.api("POST", f"schedules/{schedule['id']}/pause")
    assert r.status_code == 200 and r.json()["paused"] and r.json()["next_run"] is None
    done = bob.wait([fired[0]["id"]])[fired[0]["id"]]
    assert done["state"] == "completed" and done["parameters"] == {"repeat": 5}

    count = len([j for j in bob.api("GET", "jobs").json()["jobs"] if j["schedule"] == schedule["id"]])
    time.sleep(6)  # more than one period: a paused schedule does not fire
    assert len([j for j in bob.api("GET", "jobs").json()["jobs"] if j["schedule"] == schedule["id"]]) == count
    resumed = bob.api("POST", f"schedules/{schedule['id']}/resume").json()
    assert not resumed["paused"] and resumed["next_run"]
    assert bob.api("DELETE", f"schedules/{schedule['id']}").status_code == 204
    assert bob.api("GET", f"schedules/{schedule['id']}").status_code == 404
    # Jobs it fired just before deletion finish; leave none running for the next tests.
    rest = [j["id"] for j in bob.api("GET", "jobs").json()["jobs"] if j["schedule"] == schedule["id"]]
    bob.wait(rest, timeout=120)


def test_cli_submit_list_show_cancel(alice, capsys):
    base = ["--url", alice.url, "--token", alice.token]
    code = cli.main(base + ["submit", "work/params.ipynb", "-p", "alpha", "1.5", "--grid", "repeat=1,3", "--wait", "--timeout", "120"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("submitted 2 job(s)") and out.count("completed") == 2
    job_id = out.splitlines()[1].split()[0]
    assert cli.main(base + ["show", job_id]) == 0
    shown = capsys.readouterr().out
    assert "completed" in shown and f"results: /home/jovyan/jobs/{job_id}/" in shown
    assert cli.main(base + ["list"]) == 0
    assert job_id in capsys.readouterr().out
    assert cli.main(base + ["cancel", job_id]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: job {job_id} is already completed;") and err.count("\n") == 1
    assert cli.main(base + ["submit", "work/params.ipynb", "-p", "nope", "1"]) == 1
    assert "unknown parameter 'nope'" in capsys.readouterr().err
    assert cli.main(base + ["schedule", "create", "--notebook", "work/params.ipynb", "--cron", "0 6 * * *"]) == 0
    created = capsys.readouterr().out
    schedule_id = created.split()[2].rstrip(";")
    assert cli.main(base + ["schedule", "pause", schedule_id]) == 0
    assert "paused" in capsys.readouterr().out
    assert cli.main(base + ["schedule", "delete", schedule_id]) == 0


def test_restarting_the_service_mid_run_loses_nothing(hub, alice):
    """Kill -9 the service while two jobs run and one waits; the hub restarts it."""
    running = alice.submit(notebook="work/sleep.ipynb", sweep={"list": [{"seconds": 20}, {"seconds": 21}]}, timeout=180)
    (queued,) = alice.submit(notebook="work/params.ipynb", parameters={"repeat": 7}, timeout=120)
    alice.wait([j["id"] for j in running], states={"running"}, timeout=60)
    assert alice.job(queued["id"])["state"] == "queued"
    before = {j["id"]: alice.job(j["id"]) for j in running}

    pid = service_pid(hub)
    assert pid, "the jobs service process was not found under the hub"
    os.kill(pid, signal.SIGKILL)
    # The hub notices (its poll runs every 30 s) and starts the service again.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and service_pid(hub) in (None, pid):
        time.sleep(0.5)
    assert service_pid(hub) not in (None, pid), "the hub did not restart the jobs service"
    wait_for_service(alice)

    done = alice.wait([j["id"] for j in running] + [queued["id"]], timeout=180)
    for job_id, job in done.items():
        assert job["state"] == "completed", job
        assert job["attempt"] == 1  # followed, not re-run
    for job_id, old in before.items():
        assert done[job_id]["started"] == old["started"]
    text = "".join(outputs_text(c) for c in cells(alice.file(queued["id"], "notebook.ipynb").text))
    assert "repeat=7" in text


def test_cli_inside_a_user_session(hub, alice):
    """`vre jobs` in the user's own server: its JUPYTERHUB_API_TOKEN and VRE_JOBS_URL suffice."""
    hub.client.start_server(alice.name, {"profile": "standard"})
    try:
        container = docker.from_env().containers.get(naming.container_name(alice.name))
        result = container.exec_run(
            ["vre", "jobs", "submit", "work/params.ipynb", "-p", "repeat", "9", "--timeout", "120", "--wait"], user="1000"
        )
        out = result.output.decode()
        assert result.exit_code == 0, out
        assert "submitted 1 job(s)" in out and "completed" in out
        job_id = out.splitlines()[1].split()[0]
        assert alice.job(job_id)["parameters"] == {"repeat": 9}
    finally:
        hub.client.stop_server(alice.name)
