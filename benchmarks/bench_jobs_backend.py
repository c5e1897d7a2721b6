"""Benchmark of the jobs service's backends: one trivial job through Slurm vs in a container.

    /work/notes/dockertest .venv/bin/python benchmarks/bench_jobs_backend.py [--runs 7]

As root (the Slurm backend submits as the user's Unix account). Starts what
tests/jobs/test_slurm.py starts: the one-node Slurm cluster (tests/slurm_cluster.py), a user
with a Unix account, and two hubs as `vre up` starts them, one whose jobs service has the
container backend (the default) and one with ``JobsService.backend = "slurm"`` (the
project's venv as the nodes' papermill Python). Then, alternating between the two so that
the machine's load weighs on both alike, submits a one-cell notebook and measures the wall
time from the POST to the job's ``completed`` (polled every 0.1 s): queue, container start or
staging + sbatch + Slurm's scheduling, papermill, HTML, results in the home. Prints the
median (p50), min and max per backend, their difference, and the load average before and
after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gateway.conftest import python_executable_by_all  # noqa: E402
from jobs.test_slurm import jobs_hub, slurm_config, spool_folder  # noqa: E402
from slurm_cluster import running_slurm_cluster, unix_users  # noqa: E402
from vre_core.naming import user_image_tag  # noqa: E402
from vre_jobs.containers import ContainerLimits, DockerBackend  # noqa: E402


def trivial_notebook() -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(x + 1)")]
    return nbformat.writes(nb).encode()


def one_job(user, run: int) -> float:
    start = time.monotonic()
    (job,) = user.submit(notebook="work/trivial.ipynb", parameters={"x": run})
    while True:
        state = user.job(job["id"])
        if state["state"] in ("completed", "failed", "timeout", "cancelled"):
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - start
    if state["state"] != "completed":
        raise SystemExit(f"error: job {job['id']} through {state['backend']} {state['state']}: {state['error']}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    image = os.environ.get("VRE_TEST_IMAGE") or user_image_tag()  # as `vre images build` made it
    files = DockerBackend(image, ContainerLimits("1G", 1.0, "1000:100", "none"))
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs", flush=True)
    times: dict[str, list[float]] = {"docker": [], "slurm": []}
    with contextlib.ExitStack() as stack:
        stack.enter_context(python_executable_by_all())
        make = stack.enter_context(unix_users())
        stack.enter_context(running_slurm_cluster())
        spool = stack.enter_context(spool_folder())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-jobs-backend-")))
        hubs = {
            "docker": stack.enter_context(jobs_hub(tmp / "docker", image, files, "")),
            "slurm": stack.enter_context(jobs_hub(tmp / "slurm", image, files, slurm_config(spool))),
        }
        # A user on each hub, each with its Unix account (the Slurm one runs its jobs).
        users = {name: hub.user(make, files, {"trivial.ipynb": trivial_notebook()}) for name, hub in hubs.items()}
        for name, user in users.items():
            one_job(user, -1)  # warm-up: the service's first job, the kernel's first start on this disk
        for run in range(args.runs):
            for name, user in users.items():
                times[name].append(one_job(user, run))
                print(f"run {run + 1}: {name} {times[name][-1]:.2f} s", flush=True)
    p50 = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name}: p50 {p50[name]:.2f} s, min {min(values):.2f} s, max {max(values):.2f} s (n={len(values)})")
    print(f"Slurm overhead: {p50['slurm'] - p50['docker']:+.2f} s at p50 ({p50['slurm'] / p50['docker']:.2f}x)")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
