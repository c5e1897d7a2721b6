"""python -m vre_catalog.samples --out DIR : write every embedded catalogue sample."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import generate

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "samples"  # catalogs/samples next to the YAML


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vre_catalog.samples", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--only", nargs="*", help="only samples whose path contains one of these words")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        files = generate(args.out, args.only)
    except OSError as exc:
        print(f"error: cannot write samples under {args.out}: {exc}; choose a writable --out", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size if f.is_file() else sum(p.stat().st_size for p in f.rglob("*") if p.is_file()) for f in files)
    print(f"{len(files)} samples, {size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
