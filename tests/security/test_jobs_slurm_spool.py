"""Attack on the jobs service's Slurm backend, run for real: a user's job plants symlinks and
hard links to a root-only file in its spool folder, which the service (root) reads back.

The job runs as the user's Unix account on the real one-node Slurm cluster
(tests/slurm_cluster.py); its notebook replaces its results (``out/job.log``, a new
``out/stolen.txt``) and the batch job's output (``batch.out``, copied as ``container.log``)
with links to /etc/shadow, then kills its runner so that the service also reads the
batch output. Nothing of /etc/shadow may reach the user's home or the API.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from gateway.conftest import python_executable_by_all
from jobs.conftest import backend  # noqa: F401 (fixture)
from jobs.test_slurm import jobs_hub, slurm_config, spool_folder
from slurm_cluster import slurm_cluster, unix_user  # noqa: F401 (fixtures)
from vre_core.naming import home_volume_name
from vre_testing import need

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

SECRET = Path("/etc/shadow")

ATTACK = """\
import os, signal
home = os.environ["HOME"]  # the run's spool folder
out = os.path.join(home, "out")
for target in (os.path.join(out, "job.log"), os.path.join(home, "batch.out")):
    os.remove(target)
    os.symlink("/etc/shadow", target)
os.symlink("/etc/shadow", os.path.join(out, "stolen.txt"))
try:
    os.link("/etc/shadow", os.path.join(out, "hard.txt"))  # refused where fs.protected_hardlinks=1
except OSError as e:
    print("no hard link:", e)
os.kill(os.getppid(), signal.SIGKILL)  # the runner: the service reads the batch output too
"""


def attack_notebook() -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(ATTACK)]
    return nbformat.writes(nb).encode()


def test_links_in_the_spool_folder_never_reach_the_home(tmp_path, slurm_cluster, unix_user, backend, user_image):  # noqa: F811
    need(os.geteuid() == 0, "the Slurm backend submits as the users' accounts: needs root")
    secret = SECRET.read_text().splitlines()[0]
    with spool_folder() as spool, python_executable_by_all():
        with jobs_hub(tmp_path / "hub", user_image, backend, slurm_config(spool)) as hub:
            mallory = hub.user(unix_user, backend, {"attack.ipynb": attack_notebook()})
            (job,) = mallory.submit(notebook="work/attack.ipynb", timeout=120)
            job = mallory.wait([job["id"]], timeout=150)[job["id"]]
            # It ran in Slurm and its runner was killed (the attack ran to its end).
            assert job["state"] == "failed" and job["backend"] == "slurm" and job["backend_id"].isdigit(), job
            assert job["error"].startswith(f"Slurm job {job['backend_id']} ended FAILED with exit code 137"), job
            volume = home_volume_name(mallory.name)
            leaked = {}
            for name in ("job.log", "stolen.txt", "hard.txt", "container.log", "status.json", "notebook.ipynb"):
                content = backend.read_file(volume, f"{job['output_dir']}/{name}")
                if content is not None:
                    leaked[name] = secret.encode() in content
            assert not any(leaked.values()), f"/etc/shadow copied into the home: {leaked}"
            assert "stolen.txt" not in leaked and "hard.txt" not in leaked
            for name in ("job.log", "container.log"):
                r = mallory.file(job["id"], name)
                assert secret not in r.text, f"{name} served /etc/shadow"
    print(f"[security] job ended {job['state']}: {job['error']}", file=sys.stderr)
