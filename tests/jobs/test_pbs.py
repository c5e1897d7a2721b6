"""The PBS adapter of the jobs service (``vre_jobs.batch.PBSBackend``), and the batch backends'
pieces that need no cluster: units, no Docker.

STAND-IN: OpenPBS is not packaged in Debian and no PBS server can run here, so the PBS
adapter is tested on its command lines and on ``qstat -x -f -F json`` output recorded in the
shape PBS Pro / OpenPBS (19.x-2022.x) print it (the top-level ``timestamp``, ``pbs_version``,
``pbs_server`` and ``Jobs``; each job's ``job_state``, ``substate``, ``Exit_status``,
``comment``, ``Resource_List``...), with this project's job names and paths. The same
backend code (staging, submission as the user, polling, collecting) runs for real with
Slurm in test_slurm.py; only these PBS specifics are not exercised against a server.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, inspect, text
from vre_core.errors import VREError
from vre_core.unix import unix_account
from vre_jobs.batch import PBSBackend, SlurmBackend, memory_mb
from vre_jobs.containers import ContainerLimits
from vre_jobs.db import open_database

RUN = "vre-job-j0123456789ab-a1"
FOLDER = Path("/var/spool/vre-jobs") / RUN
PBS_ID = "4711.pbs-head"


def recorded(state: str, **fields) -> str:
    """``qstat -x -f -F json 4711.pbs-head`` as PBS prints it (see the module's docstring)."""
    job = {
        "Job_Name": RUN,
        "Job_Owner": "alice@vre-hub",
        "job_state": state,
        "queue": "workq",
        "server": "pbs-head",
        "Checkpoint": "u",
        "ctime": "Tue Dec  1 10:00:00 2026",
        "Error_Path": f"vre-hub:{FOLDER}/{RUN}.e4711",
        "Hold_Types": "n",
        "Join_Path": "oe",
        "Keep_Files": "n",
        "Mail_Points": "a",
        "mtime": "Tue Dec  1 10:00:05 2026",
        "Output_Path": f"vre-hub:{FOLDER}/batch.out",
        "Priority": 0,
        "qtime": "Tue Dec  1 10:00:00 2026",
        "Rerunable": "True",
        "Resource_List": {
            "mem": "2048mb", "ncpus": 1, "nodect": 1, "place": "pack",
            "select": "1:ncpus=1:mem=2048mb", "walltime": "01:02:00",
        },
        "substate": {"Q": 10, "R": 42, "F": 92}.get(state, 0),
        "Variable_List": {"PBS_O_HOME": str(FOLDER), "PBS_O_WORKDIR": str(FOLDER), "PBS_O_SYSTEM": "Linux"},
        "euser": "alice",
        "egroup": "alice",
        "run_count": 0 if state == "Q" else 1,
        "Submit_arguments": f"-N {RUN} -o {FOLDER}/batch.out -j oe -V {FOLDER}/job.sh",
        "project": "_pbs_project_default",
        "Submit_Host": "vre-hub",
        **fields,
    }
    return json.dumps({"timestamp": 1764583205, "pbs_version": "22.05.11", "pbs_server": "pbs-head", "Jobs": {PBS_ID: job}})


def qstat(stdout: str = "", stderr: str = "", returncode: int = 0) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(["qstat"], returncode, stdout, stderr)


@pytest.fixture
def pbs():
    # The home-volume side (a DockerBackend) is not used by these methods: only its settings.
    files = SimpleNamespace(image="dataterra-vre/user:0.1.0", limits=ContainerLimits("2G", 1.0, "1000:100", "none"))
    return PBSBackend(files, partition="workq", account="dataterra", extra_args=["-W", "umask=077"])


def test_pbs_submit_command(pbs):
    job = SimpleNamespace(timeout=3600)
    assert pbs.submit_command(RUN, FOLDER, job) == [
        "qsub", "-N", RUN, "-o", f"{FOLDER}/batch.out", "-j", "oe", "-V",
        "-l", "select=1:ncpus=1:mem=2048mb", "-l", "walltime=01:01:00",  # timeout + time_margin
        "-q", "workq", "-A", "dataterra", "-W", "umask=077", f"{FOLDER}/job.sh",
    ]
    assert pbs.parse_submit(f"{PBS_ID}\n") == PBS_ID
    assert pbs.status_command(PBS_ID) == ["qstat", "-x", "-f", "-F", "json", PBS_ID]
    assert pbs.cancel_command(PBS_ID) == ["qdel", PBS_ID]
    assert pbs.find_command(RUN) == ["qselect", "-N", RUN]  # a run whose id was not noted yet


@pytest.mark.parametrize(
    ("state", "fields", "phase", "code"),
    [
        ("Q", {"comment": "Not Running: Insufficient amount of resource: ncpus"}, "pending", None),
        ("H", {}, "pending", None),
        ("R", {"exec_host": "node01/0", "comment": "Job run at Tue Dec 01 at 10:00 on (node01:ncpus=1)"}, "running", None),
        ("E", {"Exit_status": 0}, "running", 0),  # exiting: files still being staged out
        ("F", {"Exit_status": 0, "comment": "Job run at Tue Dec 01 at 10:00 on (node01:ncpus=1) and finished"}, "exited", 0),
        ("F", {"Exit_status": 1}, "exited", 1),
        ("F", {"Exit_status": 271}, "exited", 143),  # qdel of a running job: signal 15
        ("F", {"Exit_status": -29}, "exited", -29),
    ],
)
def test_pbs_states_from_recorded_qstat(pbs, state, fields, phase, code):
    info = pbs.parse_status(qstat(recorded(state, **fields)), PBS_ID)
    assert (info["phase"], info["code"], info["state"]) == (phase, code, state)


def test_pbs_reasons_are_one_line(pbs):
    def reason(**fields):
        return pbs.describe(pbs.parse_status(qstat(recorded("F", **fields)), PBS_ID))

    assert reason(Exit_status=0) is None
    assert reason(Exit_status=-29) == f"PBS job {PBS_ID}: it reached its PBS walltime and PBS stopped it (JOB_EXEC_KILL_WALLTIME)"
    assert reason(Exit_status=-27) == f"PBS job {PBS_ID}: out of memory: it used more memory than it asked (JOB_EXEC_KILL_MEM)"
    assert reason(Exit_status=-17, comment="hook rejected") == f"PBS job {PBS_ID}: PBS ended it with exit status -17 (hook rejected)"
    assert reason(Exit_status=2) == f"PBS job {PBS_ID} exited with code 2; see container.log"


def test_pbs_forgotten_job_and_errors(pbs):
    # A finished job past the server's job_history_duration: qstat -x no longer knows it.
    assert pbs.parse_status(qstat(stderr=f"qstat: Unknown Job Id {PBS_ID}\n", returncode=153), PBS_ID) is None
    with pytest.raises(VREError, match=r"^qstat -f 4711.pbs-head failed: qstat: cannot connect to server pbs-head \(errno=15010\); check that the PBS server answers$"):
        pbs.parse_status(qstat(stderr="Connection refused\nqstat: cannot connect to server pbs-head (errno=15010)", returncode=1), PBS_ID)


def test_slurm_submit_command():
    files = SimpleNamespace(image="img", limits=ContainerLimits("1.5G", 2.0, "1000:100", "none"))
    slurm = SlurmBackend(files, partition="debug", extra_args=["--qos=short"])
    assert slurm.submit_command(RUN, FOLDER, SimpleNamespace(timeout=600)) == [
        "sbatch", "--parsable", f"--job-name={RUN}", f"--chdir={FOLDER}", f"--output={FOLDER}/batch.out",
        "--nodes=1", "--ntasks=1", "--cpus-per-task=2", "--mem=1536M", "--time=11",
        "--partition=debug", "--qos=short", f"{FOLDER}/job.sh",
    ]
    assert slurm.parse_submit("42;vretest\n") == "42"


def test_memory_sizes():
    assert [memory_mb(v) for v in ("2G", "512m", "1.5g", "1048576", "3GiB")] == [2048, 512, 1536, 1, 3072]
    with pytest.raises(VREError, match="^memory limit 'lots' is not a size; write it like 512M or 2G$"):
        memory_mb("lots")


def test_unix_account_mapping():
    with pytest.raises(VREError, match="^hub user 'root' maps to uid 0; batch work never runs as root"):
        unix_account("root")
    with pytest.raises(VREError, match="^hub user 'no-such-user-x' has no Unix account on this host"):
        unix_account("no-such-user-x")
    assert unix_account("nobody").pw_uid == 65534


def test_old_database_gets_the_backend_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.sqlite'}"
    open_database(url)
    engine = create_engine(url)
    with engine.begin() as connection:  # a database made before the batch backends
        connection.execute(text("ALTER TABLE vre_jobs DROP COLUMN backend"))
        connection.execute(text("ALTER TABLE vre_jobs DROP COLUMN backend_id"))
    assert "backend" not in {c["name"] for c in inspect(engine).get_columns("vre_jobs")}
    open_database(url)
    assert {"backend", "backend_id"} <= {c["name"] for c in inspect(create_engine(url)).get_columns("vre_jobs")}
    assert os.path.exists(tmp_path / "jobs.sqlite")


def test_spool_folder_others_can_write_is_refused_in_one_line(tmp_path):
    """At the service's start (JobsService.make_manager): users must not reach beside their runs."""
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o777)
    spool.chmod(0o777)
    files = SimpleNamespace(image="img", limits=ContainerLimits("1G", 1.0, "1000:100", "none"))
    slurm = SlurmBackend(files, spool_dir=str(spool))
    with pytest.raises(VREError, match=rf"^the spool folder {spool} must be a folder of root that only root can "
                                       rf"write in; chown root {spool} && chmod 0711 {spool}$"):
        slurm.check_config()
    spool.chmod(0o711)
    slurm.check_config()  # as root, with sbatch/scancel installed (tests/run installs slurm-wlm)

