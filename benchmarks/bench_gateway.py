"""Benchmark of the Dask Gateway (vre_gateway): time to the first worker and to 4 workers.

    .venv/bin/python benchmarks/bench_gateway.py [--runs 3] [--backends docker,local,slurm]

As root (the backends start processes as other users). Starts what the tests start
(tests/gateway/conftest.py, tests/slurm_cluster.py): the one-node Slurm cluster, a hub with
its gateway service per backend, a user with a Unix account; then, per run, measures from
`new_cluster()` + `scale(4)` to 1 and to 4 workers connected, and shuts the cluster down.
Prints the median per backend and the machine's load average before and after.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gateway.conftest import gateway_hub, python_executable_by_all, slurm_env  # noqa: E402
from slurm_cluster import running_slurm_cluster, unix_users  # noqa: E402
from vre_core.naming import user_image_tag  # noqa: E402

WORKERS = 4


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="docker,local,slurm")
    args = parser.parse_args()
    backends = args.backends.split(",")
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
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
