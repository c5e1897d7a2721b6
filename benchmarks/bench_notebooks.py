"""Run time of each workshop notebook, executed by papermill with its default parameters.

    python benchmarks/bench_notebooks.py [--image TAG | --host] [--repeat N]

Default: inside the user image (newest dataterra-vre/user tag), as a workshop or a job would run it;
--host: with this .venv and the repository catalogue (samples generated if missing).
Prints wall time per notebook (container start included), the slowest cell, and the ratio to the 2-minute target.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
TARGET_S = 120.0


def newest_user_image() -> str:
    out = subprocess.run(["docker", "images", "dataterra-vre/user", "--format", "{{.Repository}}:{{.Tag}}"],
                         capture_output=True, text=True, check=True).stdout.split()
    if not out:
        sys.exit("error: no dataterra-vre/user image; build it with `vre images build` or use --host")
    return out[0]


def run_in_image(image: str, name: str, out: Path, mount_repo: bool = False) -> None:
    out.chmod(0o777)
    mounts = ["-v", f"{ROOT / 'notebooks'}:/opt/vre/notebooks:ro", "-v", f"{ROOT / 'catalogs'}:/opt/vre/catalogs:ro"]
    subprocess.run(["docker", "run", "--rm", "--network", "host", "-v", f"{out}:/out", *(mounts if mount_repo else []),
                    image, "papermill",
                    f"/opt/vre/notebooks/{name}.ipynb", f"/out/{name}.ipynb", "-p", "output_dir", "/out/results",
                    "--no-progress-bar"], check=True, capture_output=True)


def run_on_host(catalog: Path, name: str, out: Path) -> None:
    subprocess.run([sys.executable, "-m", "papermill", str(ROOT / "notebooks" / f"{name}.ipynb"),
                    str(out / f"{name}.ipynb"), "-p", "CATALOG", str(catalog), "-p", "output_dir",
                    str(out / "results"), "--no-progress-bar", "--cwd", str(out)], check=True, capture_output=True)


def slowest_cell(executed: Path) -> tuple[float, str]:
    cells = json.loads(executed.read_text())["cells"]
    timed = [(c["metadata"].get("papermill", {}).get("duration") or 0.0, "".join(c["source"]).split("\n")[0])
             for c in cells if c["cell_type"] == "code"]
    return max(timed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--image", help="user image tag (default: newest dataterra-vre/user)")
    where.add_argument("--host", action="store_true", help="run with this .venv and the repository catalogue")
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook (median reported)")
    parser.add_argument("--mount-repo", action="store_true",
                        help="image mode: mount this repository's notebooks and catalogue (with generated samples) "
                             "over the image's copies, to time changes without rebuilding the image")
    args = parser.parse_args()

    if args.host or args.mount_repo:
        from vre_catalog.layout import REPO_CATALOG
        from vre_catalog.samples import generate, load_registry

        samples = REPO_CATALOG.parent / "samples"
        if not all((samples / rel).exists() for rel in load_registry()):
            generate(samples, log=lambda *_: None)
    if args.host:
        runner, where_label = (lambda name, out: run_on_host(REPO_CATALOG, name, out)), "host .venv"
    else:
        image = args.image or newest_user_image()
        runner = lambda name, out: run_in_image(image, name, out, args.mount_repo)  # noqa: E731
        where_label = f"image {image}" + (" (repository notebooks and catalogue mounted)" if args.mount_repo else "")

    print(f"workshop notebooks, default parameters, {where_label}, target {TARGET_S:.0f} s each; "
          f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'notebook':28s} {'wall s':>8s} {'vs target':>10s}  slowest cell")
    worst = 0.0
    for name in NOTEBOOKS:
        times, slow = [], (0.0, "")
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="bench-nb-") as tmp:
                start = time.perf_counter()
                try:
                    runner(name, Path(tmp))
                except subprocess.CalledProcessError as error:
                    tail = (error.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
                    print(f"{name:28s} FAILED: {tail[0] if tail else error}")
                    break
                times.append(time.perf_counter() - start)
                slow = slowest_cell(Path(tmp) / f"{name}.ipynb")
        if times:
            wall = statistics.median(times)
            worst = max(worst, wall)
            print(f"{name:28s} {wall:8.1f} {wall / TARGET_S:9.2f}x  {slow[0]:.1f} s: {slow[1][:50]}")
    print(f"slowest notebook {worst:.1f} s = {worst / TARGET_S:.2f} of the {TARGET_S:.0f} s target "
          f"(load average now {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
