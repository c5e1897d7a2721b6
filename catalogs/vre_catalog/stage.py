"""Stage a subset of a ``_remote`` entry into the Dataref volume (issue 14, part 3 — first slice).

An operator with network access copies a region / period / variables of a real service into Dataref (mounted
read-only in the user containers), as Zarr with its provenance in the attributes: source URL, query, time of
staging, SHA-256 of the stored chunks, ``sample_kind = "staged"``.

- Bounded memory: the subset is read and written one block of time steps at a time (``block_mb``).
- Atomic: everything is written under ``<name>.zarr.partial`` and renamed at the end; a failure leaves no
  half-written dataset where users look.
- Resumable: a new run with the same query continues the ``.partial`` copy at the first missing time step.
- Idempotent: a finished copy with the same query is kept as it is.

This slice handles the gridded drivers (``zarr``, ``netcdf``, ``opendap``: xarray through intake). Tables (CSV,
FDSN text, JSON APIs) and making the staged copy the catalogue's default source are not done yet.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

STAGE_SUFFIX = ".zarr"
PARTIAL = ".partial"
GRIDDED_DRIVERS = ("zarr", "netcdf", "opendap")


class StageError(Exception):
    """Bad input or a failed transfer: the message says what and how to go on."""


@dataclass(frozen=True)
class Query:
    entry: str
    bbox: tuple[float, float, float, float] | None = None  # west, south, east, north
    start: str | None = None
    end: str | None = None
    variables: tuple[str, ...] | None = None

    def as_dict(self) -> dict:
        return {"entry": self.entry, "bbox": list(self.bbox) if self.bbox else None, "start": self.start,
                "end": self.end, "variables": list(self.variables) if self.variables else None}

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()[:16]


def staged_path(dataref: Path, entry_id: str) -> Path:
    pole, _, name = entry_id.partition(".")
    return Path(dataref) / pole / f"{name}{STAGE_SUFFIX}"


def _axis(ds, names):
    return next((n for n in names if n in ds.dims or n in ds.coords), None)


def _subset(ds, query: Query):
    if query.variables:
        missing = sorted(set(query.variables) - set(ds.data_vars))
        if missing:
            raise StageError(f"unknown variable(s) {missing} in {query.entry}; choose among {sorted(ds.data_vars)}")
        ds = ds[list(query.variables)]
    if query.bbox:
        west, south, east, north = query.bbox
        lon, lat = _axis(ds, ("longitude", "lon", "x")), _axis(ds, ("latitude", "lat", "y"))
        if lon is None or lat is None:
            raise StageError(f"{query.entry} has no longitude/latitude axis; stage it without --bbox")
        lat_slice = slice(south, north) if ds[lat][0] <= ds[lat][-1] else slice(north, south)
        ds = ds.sel({lon: slice(west, east), lat: lat_slice})
    if query.start or query.end:
        if "time" not in ds.dims:
            raise StageError(f"{query.entry} has no time axis; stage it without --start/--end")
        ds = ds.sel(time=slice(query.start, query.end))
    if any(size == 0 for size in ds.sizes.values()) or not ds.data_vars:
        raise StageError(f"the query selects nothing of {query.entry} (sizes {dict(ds.sizes)}); "
                         "widen the region or the period")
    return ds


def _checksum(store: Path) -> str:
    """SHA-256 over the stored chunk files (names and bytes), in a stable order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in store.rglob("*") if p.is_file() and not p.name.startswith(".z")):
        digest.update(str(path.relative_to(store)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _read_attrs(store: Path) -> dict:
    try:
        return json.loads((store / ".zattrs").read_text())
    except (OSError, ValueError):
        return {}


def stage(entry_id: str, dataref: Path, *, bbox=None, start=None, end=None, variables=None, index=None,
          block_mb: float = 64.0, log=print) -> Path:
    """Copy the query's subset of ``entry_id``'s remote source to ``dataref``; return the staged store."""
    import xarray as xr

    from .index import CatalogIndex

    index = index or CatalogIndex.from_catalog()
    try:
        entry = index[entry_id]
    except KeyError:
        raise StageError(f"unknown entry {entry_id!r}; find its id with `vre catalog search`") from None
    if not entry.has_remote:
        raise StageError(f"{entry_id} has no remote source to stage from; only `<name>_remote` services can be staged")
    source = entry.intake_source("remote")
    driver = str(getattr(source, "classname", "") or type(source).__name__).lower()
    if not any(d in driver for d in GRIDDED_DRIVERS):
        raise StageError(f"{entry_id} is served by {type(source).__name__}; only gridded sources "
                         f"({', '.join(GRIDDED_DRIVERS)}) can be staged yet")
    query = Query(entry_id, tuple(float(v) for v in bbox) if bbox else None, start, end,
                  tuple(variables) if variables else None)
    target = staged_path(dataref, entry_id)
    if target.exists() and _read_attrs(target).get("stage_query_key") == query.key:
        log(f"{entry_id}: already staged with this query at {target}")
        return target
    try:
        ds = _subset(source.to_dask(), query)
    except StageError:
        raise
    except Exception as exc:  # noqa: BLE001 - the service's failure, in one line
        raise StageError(f"cannot read {entry_id} from {_source_url(source)}: "
                         f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}") from None
    partial = target.with_name(target.name + PARTIAL)
    done = 0
    if partial.exists() and _read_attrs(partial).get("stage_query_key") == query.key and "time" in ds.dims:
        done = xr.open_zarr(partial, consolidated=False).sizes.get("time", 0)
        log(f"{entry_id}: resuming at time step {done} of {ds.sizes['time']}")
    else:
        shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    n_time = ds.sizes.get("time", 1)
    step_bytes = max(1, ds.nbytes // max(n_time, 1))
    step = max(1, int(block_mb * 1e6 // step_bytes))
    attrs = {**ds.attrs, "stage_query_key": query.key, "stage_complete": 0}
    try:
        for i in range(done, n_time, step):
            block = (ds.isel(time=slice(i, i + step)) if "time" in ds.dims else ds).load()
            for var in block.variables.values():
                var.encoding.pop("chunks", None)
                var.encoding.pop("preferred_chunks", None)
            block.attrs = attrs  # every block: an append rewrites the group's attributes
            if i == 0:
                block.to_zarr(partial, mode="w", zarr_format=2, consolidated=False)
            else:
                block.to_zarr(partial, append_dim="time", zarr_format=2, consolidated=False)
    except Exception as exc:  # noqa: BLE001 - a service failing half-way: one line, the partial copy kept
        raise StageError(f"{entry_id}: staging stopped ({type(exc).__name__}: {' '.join(str(exc).split())[:160]}); "
                         f"nothing was published; run the same command again to resume") from None
    import zarr

    group = zarr.open_group(str(partial), mode="r+")
    group.attrs.update({
        "sample_kind": "staged", "stage_complete": 1,
        "stage_source_url": _source_url(source), "stage_query": json.dumps(query.as_dict()),
        "stage_time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "stage_checksum_sha256": _checksum(partial),
    })
    zarr.consolidate_metadata(str(partial))
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)
    log(f"{entry_id}: staged {_size(target) / 1e6:.1f} MB to {target}")
    return target


def _source_url(source) -> str:
    """The service address of an intake-xarray source (kept by its intake 2 reader)."""
    data = getattr(getattr(source, "reader", None), "data", None)
    return str(getattr(data, "url", None) or getattr(source, "urlpath", "") or "")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def list_staged(dataref: Path) -> list[dict]:
    """The finished staged copies under ``dataref``: entry, path, size, time of staging, query."""
    rows = []
    for store in sorted(Path(dataref).glob(f"*/*{STAGE_SUFFIX}")):
        attrs = _read_attrs(store)
        if attrs.get("stage_complete") == 1:
            rows.append({"entry": f"{store.parent.name}.{store.name[: -len(STAGE_SUFFIX)]}", "path": str(store),
                         "bytes": _size(store), "staged": attrs.get("stage_time"),
                         "query": json.loads(attrs.get("stage_query", "{}"))})
    return rows
