"""Staging throughput and memory per protocol (issue 14 part 3): `vre data stage` against loopback servers.

For each protocol (ERDDAP tabledap CSV, FDSN event text, OPeNDAP with pydap, Zarr over HTTP) a server in a
child process (tests/catalogs/stage_servers.py) serves ~--size-mb of data and the staging run copies all of it
into a Dataref folder, --block-mb at a time: throughput (MB of the service's answer per second, server and
client on the same machine) and the rise of the staging process's peak RSS (reset before the run, after a
warm-up run of 2 blocks that loads what is loaded once and grows the allocator's arenas). --heap adds a run
under tracemalloc for the peak Python heap (it slows allocation-heavy code: that run's time is not reported).

    .venv/bin/python benchmarks/bench_stage.py [--size-mb 200] [--block-mb 16] [--protocols erddap,fdsn,opendap,zarr] [--heap]

Uses no Docker. Prints one line per protocol and the machine's load average before and after.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "catalogs"))

from stage_servers import measure  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=200)
    parser.add_argument("--block-mb", type=float, default=16)
    parser.add_argument("--protocols", default="erddap,fdsn,opendap,zarr")
    parser.add_argument("--heap", action="store_true", help="also run under tracemalloc for the peak Python heap")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'protocol':<9} {'MB':>6} {'s':>7} {'MB/s':>6} {'RSS rise MB':>12} {'peak heap MB':>13}  (blocks of {args.block_mb:g} MB)")
    for protocol in args.protocols.split(","):
        with tempfile.TemporaryDirectory() as work:
            measure(protocol, Path(work) / "warm-up", 2 * args.block_mb, args.block_mb, trace=False)
            run = measure(protocol, Path(work) / "run", args.size_mb, args.block_mb, trace=False)
            heap = measure(protocol, Path(work) / "heap", args.size_mb, args.block_mb) if args.heap else None
        print(f"{protocol:<9} {run['mb']:>6.0f} {run['seconds']:>7.1f} {run['mb_per_s']:>6.1f} {run['rss_rise_mb']:>12.0f} "
              f"{heap['peak_heap_mb'] if heap else float('nan'):>13.0f}", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
