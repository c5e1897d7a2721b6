"""Embedded offline samples of the catalogue entries.

Each sample is built by a small function (in ``vre_catalog.generators.<pole>``) registered with
:func:`sample` under the path the catalogue references (``{{ CATALOG_DIR }}/samples/<pole>/<file>``).  ``python -m
vre_catalog.samples --out DIR`` writes them all; the user image does that at build time.

Samples are either *real* (data shipped inside a PyPI package, cited in the catalogue
metadata) or *synthetic* (physically plausible, reproducible from the recorded seed).
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

POLE_MODULES = ("odatis", "aeris", "theia", "formater")


@dataclass(frozen=True)
class SampleSpec:
    path: str  # relative to the samples directory, e.g. "odatis/bathymetry.nc"
    build: Callable
    seed: int | None
    kind: str  # "real" | "synthetic"

    @property
    def generator(self) -> str:
        return f"{self.build.__module__}:{self.build.__name__}"


REGISTRY: dict[str, SampleSpec] = {}


def sample(path: str, seed: int | None = None, kind: str = "synthetic"):
    """Register ``build(rng)`` as the generator of ``samples/<path>``."""

    def register(build):
        REGISTRY[path] = SampleSpec(path, build, seed, kind)
        return build

    return register


def load_registry() -> dict[str, SampleSpec]:
    for name in POLE_MODULES:
        importlib.import_module(f"vre_catalog.generators.{name}")
    return REGISTRY


def build(spec: SampleSpec):
    rng = np.random.default_rng(spec.seed)
    return spec.build(rng)


def write(obj, path: Path) -> None:
    """Write a Dataset or DataFrame in the format its file name says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix == ".nc":
        encoding = {
            name: {"zlib": True, "complevel": 4}
            for name, var in obj.data_vars.items()
            if var.dtype.kind == "f"
        }
        obj.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    elif path.suffix == ".zarr":
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        obj.to_zarr(tmp, mode="w", zarr_format=2, consolidated=True)
        shutil.rmtree(path, ignore_errors=True)
    elif path.suffix == ".csv":
        obj.to_csv(tmp, index=False, float_format="%.6g")
    else:
        raise ValueError(f"unknown sample format {path.suffix!r}")
    tmp.replace(path)  # atomic for files; a fresh directory for zarr


def generate(out: Path, only: list[str] | None = None, log=print) -> list[Path]:
    """Build every registered sample (or those whose path contains one of ``only``) under ``out``."""
    out = Path(out)
    written = []
    for rel, spec in sorted(load_registry().items()):
        if only and not any(part in rel for part in only):
            continue
        t0 = time.perf_counter()
        target = out / rel
        write(build(spec), target)
        log(f"wrote {target} ({spec.kind}, {time.perf_counter() - t0:.2f} s)")
        written.append(target)
    return written


DEFAULT_OUT = Path(__file__).resolve().parents[1] / "samples"  # catalogs/samples, next to the YAML


def main(argv: list[str] | None = None) -> int:
    """python -m vre_catalog.samples --out DIR : write every embedded catalogue sample."""
    parser = argparse.ArgumentParser(prog="python -m vre_catalog.samples", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    parser.add_argument("--only", nargs="*", help="only samples whose path contains one of these words")
    args = parser.parse_args(argv)
    # Run as __main__, this file is a second module object: use the one the generators register into.
    from vre_catalog import samples

    t0 = time.perf_counter()
    try:
        files = samples.generate(args.out, args.only)
    except OSError as exc:
        print(f"error: cannot write samples under {args.out}: {exc}; choose a writable --out", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"error: a sample generator needs a missing package ({exc.name}); install the `user` extra", file=sys.stderr)
        return 1
    size = sum(f.stat().st_size if f.is_file() else sum(p.stat().st_size for p in f.rglob("*") if p.is_file()) for f in files)
    print(f"{len(files)} samples, {size / 1e6:.1f} MB, {time.perf_counter() - t0:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
