"""Benchmark of the jobs service (vre_jobs) against papermill run directly.

    .venv/bin/python benchmarks/bench_jobs.py [--runs 3] [--throughput-jobs 20]

Starts a real hub (temporary state folder, loopback ports) with its managed `jobs`
service, a user whose home volume holds a tiny notebook, then measures:

1. one short job, wall time from submission to `completed` through the service
   (REST API, queue, container start, papermill, HTML rendering, results) versus
   `docker run <user image> papermill ...` on the same volume with the same limits
   (1 CPU, 2 GiB, uid 1000, host network): median of --runs each (interleaved),
   and their ratio (target <= 1.5);
2. throughput of --throughput-jobs short jobs submitted at once with a concurrency of 2
   (the service's max_concurrent and max_per_user), in jobs per minute.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from vre_hub import engine, images, naming
from vre_hub.client import HubClient
from vre_hub.launcher import HubProcess
from vre_hub.state import StateDir
from vre_jobs.containers import LABEL_USER, ContainerLimits, DockerBackend

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from vre_testing import free_port  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "tests" / "jobs" / "notebooks" / "params.ipynb"
CONCURRENCY = 2


def wait_done(session, url, job_ids, timeout=600, poll=0.1):
    pending, done = set(job_ids), {}
    deadline = time.monotonic() + timeout
    while pending:
        if time.monotonic() > deadline:
            raise SystemExit(f"error: jobs {sorted(pending)} did not finish in {timeout} s; see the hub log")
        for job_id in list(pending):
            job = session.get(f"{url}api/jobs/{job_id}", timeout=30).json()
            if job["state"] in ("completed", "failed", "timeout", "cancelled"):
                done[job_id] = job
                pending.discard(job_id)
        time.sleep(poll)
    bad = [j for j in done.values() if j["state"] != "completed"]
    if bad:
        raise SystemExit(f"error: job {bad[0]['id']} {bad[0]['state']}: {bad[0]['error']}")
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--throughput-jobs", type=int, default=20)
    args = parser.parse_args()

    engine.ensure_docker_engine()
    image = images.build_user_image(log=lambda m: print(f"[image] {m}", flush=True))
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        state = StateDir(Path(tmp) / "state").ensure()
        (state.path / "vre_jobs_config.py").write_text(
            f"c.JobsService.max_concurrent = {CONCURRENCY}\nc.JobsService.max_per_user = {CONCURRENCY}\n"
        )
        hub = HubProcess(
            state, port=free_port(), api_port=free_port(), proxy_api_port=free_port(),
            env={"VRE_PROXY_COMMAND": engine.ensure_proxy(), "VRE_USER_IMAGE": image, "VRE_CULL_TIMEOUT": "86400"},
        )
        hub.start()
        user = f"benchjobs-{secrets.token_hex(3)}"
        volume = naming.home_volume_name(user)
        try:
            admin = HubClient(hub.url, state.admin_token)
            admin.ensure_user(user)
            token = admin.token_for(user, note="bench")
            backend = DockerBackend(image, ContainerLimits("2G", 1.0, "1000:100", "host"))
            backend.write_files(volume, "work", {"bench.ipynb": NOTEBOOK.read_bytes()})
            backend.expire_scratch(all_=True)
            url = f"{hub.url}/services/jobs/"
            session = requests.Session()
            session.headers["Authorization"] = f"token {token}"
            deadline = time.monotonic() + 90
            while session.get(f"{url}api/info", timeout=10).status_code != 200:
                if time.monotonic() > deadline:
                    raise SystemExit("error: the jobs service did not answer; see the hub log")
                time.sleep(0.5)

            def direct(i):
                t0 = time.perf_counter()
                subprocess.run(
                    # The same limits the service gives its job containers (cpu_limit, mem_limit).
                    ["docker", "run", "--rm", "--network", "host", "--user", "1000:100", "--cpus", "1", "--memory", "2g",
                     "--entrypoint", "papermill", "-v", f"{volume}:/home/jovyan", image,
                     "--no-progress-bar", "-p", "alpha", str(i), "work/bench.ipynb", f"work/direct-{i}.ipynb"],
                    check=True, capture_output=True,
                )
                return time.perf_counter() - t0

            def direct_tuned(i):
                # papermill's Python API with the runner's one import tweak (no IRI grammar):
                # what remains between this and the service is the service's own overhead.
                code = (
                    "import sys; sys.modules['rfc3987_syntax'] = None; import papermill; "
                    f"papermill.execute_notebook('work/bench.ipynb', 'work/tuned-{i}.ipynb', parameters={{'alpha': {i}}}, progress_bar=False)"
                )
                t0 = time.perf_counter()
                subprocess.run(
                    ["docker", "run", "--rm", "--network", "host", "--user", "1000:100", "--cpus", "1", "--memory", "2g",
                     "--entrypoint", "python3", "-v", f"{volume}:/home/jovyan", image, "-c", code],
                    check=True, capture_output=True,
                )
                return time.perf_counter() - t0

            def service(i):
                t0 = time.perf_counter()
                r = session.post(f"{url}api/jobs", json={"notebook": "work/bench.ipynb", "parameters": {"alpha": float(i)}})
                r.raise_for_status()
                wait_done(session, url, [r.json()["jobs"][0]["id"]])
                return time.perf_counter() - t0

            direct(-1), service(-1)  # warm the page cache and the kernel's imports
            # Interleaved, so both see the same load from whatever else runs on the machine.
            direct_times, tuned_times, service_times = [], [], []
            for i in range(args.runs):
                direct_times.append(direct(i))
                tuned_times.append(direct_tuned(i))
                service_times.append(service(i))
            d, dt_, s = (statistics.median(x) for x in (direct_times, tuned_times, service_times))
            show = lambda xs: [round(t, 2) for t in xs]
            print(f"one short job, `papermill` CLI directly (docker run):      median {d:.2f} s  {show(direct_times)}")
            print(f"one short job, papermill API + runner's import tweak:     median {dt_:.2f} s  {show(tuned_times)}")
            print(f"one short job, through the jobs service (submit->done):   median {s:.2f} s  {show(service_times)}")
            print(f"overhead ratio service / papermill CLI directly: {s / d:.2f}x (target <= 1.5x)")
            print(f"overhead ratio service / tuned papermill directly: {s / dt_:.2f}x (the service's own cost)")

            n = args.throughput_jobs
            t0 = time.perf_counter()
            r = session.post(f"{url}api/jobs", json={"notebook": "work/bench.ipynb", "sweep": {"list": [{"alpha": float(i)} for i in range(n)]}})
            r.raise_for_status()
            wait_done(session, url, [j["id"] for j in r.json()["jobs"]], timeout=1800, poll=0.5)
            elapsed = time.perf_counter() - t0
            print(f"throughput: {n} short jobs, concurrency {CONCURRENCY}: {elapsed:.1f} s -> {n / elapsed * 60:.1f} jobs/min")
            print(f"  (papermill directly, one after another, would take about {n * d:.1f} s -> {60 / d:.1f} jobs/min)")
        finally:
            hub.stop()
            for name in subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"label={LABEL_USER}={user}"], check=False, capture_output=True, text=True
            ).stdout.split():
                subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)
            subprocess.run(["docker", "volume", "rm", "-f", volume], check=False, capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
