"""Embedded offline samples of the catalogue entries.

Each sample is built by a small function registered with :func:`sample` under the path the
catalogue references (``{{ CATALOG_DIR }}/samples/<pole>/<file>``).  ``python -m
vre_catalog.samples --out DIR`` writes them all; the user image does that at build time.

Samples are either *real* (data shipped inside a PyPI package, cited in the catalogue
metadata) or *synthetic* (physically plausible, reproducible from the recorded seed).
"""
from __future__ import annotations

import importlib
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
        importlib.import_module(f"{__name__}.{name}")
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
