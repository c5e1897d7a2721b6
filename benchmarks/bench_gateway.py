"""Benchmark of the Dask Gateway (vre_gateway): time to the first worker and to 4 workers, and
the scaling curve of the NEO notebook's suitability step on 1, 2 and 4 workers.

    .venv/bin/python benchmarks/bench_gateway.py [--runs 3] [--backends docker,local,slurm]
                                                 [--scaling 1,2,4] [--neo-runs 2]

As root (the backends start processes as other users), through /work/notes/dockertest on a
shared machine. Starts what the tests start (tests/gateway/conftest.py, tests/slurm_cluster.py):
the one-node Slurm cluster, a hub with its gateway service per backend, a user with a Unix
account; then, per run, measures from `new_cluster()` + `scale(4)` to 1 and to 4 workers
connected, and shuts the cluster down. Scaling: the NEO notebook run with papermill (as the
notebook tests' "host" mode) with `compute="local"` (threads) and `compute="gateway"` on a
local-backend cluster of N single-core workers; the notebook prints how long its yearly
suitability step took (cluster start excluded). Prints medians, speed-ups, where the curve
flattens and why, and the machine's load average before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gateway.conftest import gateway_hub, python_executable_by_all, slurm_env  # noqa: E402
from notebooks.conftest import _run_on_host, _samples_complete  # noqa: E402
from slurm_cluster import running_slurm_cluster, unix_users  # noqa: E402
from vre_catalog.layout import REPO_CATALOG  # noqa: E402
from vre_catalog.samples import generate  # noqa: E402
from vre_core.naming import user_image_tag  # noqa: E402

WORKERS = 4
NEO = "neo_ecological_niche"
#: What the NEO notebook prints after its suitability step.
STEP_TIME = re.compile(r"yearly suitability computed (.+) in ([0-9.]+) s")


def one_run(hub, token) -> tuple[float, float]:
    gateway = hub.gateway(token)
    start = time.monotonic()
    cluster = gateway.new_cluster()
    try:
        cluster.scale(WORKERS)
        client = cluster.get_client()
        client.wait_for_workers(1, timeout=300)
        first = time.monotonic() - start
        client.wait_for_workers(WORKERS, timeout=300)
        return first, time.monotonic() - start
    finally:
        cluster.shutdown()


def neo_step_seconds(params: dict, env: dict) -> float:
    """Run the NEO notebook once with ``params`` in ``env``; the suitability step's seconds."""
    out = Path(tempfile.mkdtemp(prefix="bench-neo-"))
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        ok, log = _run_on_host(REPO_CATALOG, NEO, params, out)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if not ok:
        raise RuntimeError(f"NEO {params} failed: {log[-2000:]}")
    import nbformat

    printed = "".join(o.get("text", "") for c in nbformat.read(out / f"{NEO}.ipynb", as_version=4).cells
                      for o in c.get("outputs", []))
    return float(STEP_TIME.search(printed).group(2))


def scaling(make, counts: list[int], runs: int) -> None:
    """The NEO suitability step: local threads, then a local-backend gateway cluster of N workers."""
    if not _samples_complete(REPO_CATALOG.parent / "samples"):
        generate(REPO_CATALOG.parent / "samples", log=lambda *_: None)
    state = Path(tempfile.mkdtemp(prefix="bench-gateway-neo-"))
    env = {"VRE_GATEWAY_BACKEND": "local", "VRE_GATEWAY_MAX_WORKERS": str(max(counts))}
    with gateway_hub(state, make, env) as hub:
        _, token = hub.new_user()
        client_env = {"DASK_GATEWAY__ADDRESS": hub.url, "DASK_GATEWAY__PROXY_ADDRESS": f"gateway://{hub.tcp_address}",
                      "DASK_GATEWAY__AUTH__TYPE": "jupyterhub", "JUPYTERHUB_API_TOKEN": token}
        local = [neo_step_seconds({"compute": "local"}, client_env) for _ in range(runs)]
        times = {n: [neo_step_seconds({"compute": "gateway", "gateway_workers": n}, client_env) for _ in range(runs)]
                 for n in counts}
    medians = {n: statistics.median(t) for n, t in times.items()}
    base = medians[counts[0]]
    print(f"NEO suitability step (median of {runs}; {os.cpu_count()} CPUs; workers have 1 core, 1 thread):")
    print(f"  local threads ({os.cpu_count()}): {statistics.median(local):.2f} s  (runs: "
          f"{', '.join(f'{t:.2f}' for t in local)})")
    for n in counts:
        print(f"  gateway, {n} worker{'s' if n > 1 else ''}: {medians[n]:.2f} s, speed-up {base / medians[n]:.2f}  "
              f"(runs: {', '.join(f'{t:.2f}' for t in times[n])})")
    # t(n) = serial + parallel / n through the first two points (at most one worker per core).
    if len(counts) > 1 and counts[1] <= (os.cpu_count() or 1):
        n1, n2 = counts[:2]
        parallel = (medians[n1] - medians[n2]) / (1 / n1 - 1 / n2)
        serial = medians[n1] - parallel / n1
        print(f"  t(n) ~ {serial:.1f} s + {parallel:.1f} s / n: {serial:.1f} s does not parallelise "
              f"(the local threads do the whole step in {statistics.median(local):.1f} s)")
    # Where adding workers stops paying: less than 15 % faster than the previous point.
    flat = next((prev for prev, n in zip(counts, counts[1:]) if medians[prev] / medians[n] < 1.15), None)
    cpus = os.cpu_count()
    if flat is None:
        print(f"  no flattening up to {counts[-1]} workers")
    else:
        print(f"  flattens after {flat} worker{'s' if flat > 1 else ''}: "
              + (f"this machine has {cpus} CPUs, so more single-threaded workers only share the same cores; "
                 if flat >= cpus else "")
              + "what does not parallelise stays: the graph, which carries the in-memory environment, is "
                "sent to the scheduler for each compute and the yearly maps are gathered back to the notebook, "
                "and the machine's other load takes its share of the cores")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="docker,local,slurm", help="'' for none")
    parser.add_argument("--scaling", default="1,2,4", help="NEO step on these worker counts ('' for none)")
    parser.add_argument("--neo-runs", type=int, default=2)
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    counts = [int(n) for n in args.scaling.split(",") if n]
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    with contextlib.ExitStack() as stack:
        stack.enter_context(python_executable_by_all())
        make = stack.enter_context(unix_users())
        slurm = stack.enter_context(running_slurm_cluster()) if "slurm" in backends else None
        for backend in backends:
            env = {"VRE_GATEWAY_BACKEND": backend}
            if backend == "slurm":
                env = slurm_env(slurm)
            elif backend == "docker":  # the user image as it is (`vre images build` makes it)
                env["VRE_USER_IMAGE"] = os.environ.get("VRE_TEST_IMAGE") or user_image_tag()
            state = Path(tempfile.mkdtemp(prefix=f"bench-gateway-{backend}-"))
            with gateway_hub(state, make, env) as hub:
                _, token = hub.new_user()
                runs = [one_run(hub, token) for _ in range(args.runs)]
            firsts, alls = zip(*runs)
            print(f"{backend}: first worker {statistics.median(firsts):.1f} s, "
                  f"{WORKERS} workers {statistics.median(alls):.1f} s "
                  f"(median of {args.runs}; runs: {', '.join(f'{a:.1f}/{b:.1f}' for a, b in runs)})")
        if counts:
            scaling(make, counts, args.neo_runs)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
