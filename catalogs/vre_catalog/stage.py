"""Stage a subset of a ``_remote`` entry into the Dataref volume (issue 14, part 3): ``vre data stage``.

An operator with network access copies a region / period / variables of a real service into Dataref (mounted
read-only in the user containers) as Zarr, with its provenance in the attributes: source URL (with the subset
query), query, time of staging, SHA-256 of the stored chunks, ``sample_kind = "staged"``.

- Protocols: gridded sources (``zarr``, ``netcdf`` over HTTP byte ranges, ``opendap``, read lazily with xarray
  through intake, so OPeNDAP subsets by index ranges on the server) and tables over HTTP (ERDDAP tabledap CSV,
  FDSN web service text, plain CSV; stage_tables.py), whose region and period the server is asked for.
- Bounded memory: a block of time steps of ``block_mb`` (gridded) or 4 MB of text (tables) at a time.
- Atomic: everything is written under ``<name>.zarr.partial`` and renamed at the end; a failure leaves no
  half-written dataset where users look.
- Resumable: a new run with the same query continues the ``.partial`` copy where it stopped.
- Idempotent: a finished copy with the same query is kept as it is.
- Default source: the entry's default source in its pole catalogue becomes the staged copy (staged_default.py),
  so plain intake opens it; ``<name>_remote`` still opens the service.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from vre_core.errors import VREError

STAGE_SUFFIX = ".zarr"
PARTIAL = ".partial"
GRIDDED_DRIVERS = ("zarr", "netcdf", "opendap")
TABLE_DRIVERS = ("csv",)


class StageError(VREError):
    """Bad input or a failed transfer: one line that says what and how to go on (``vre data`` prints it)."""


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
          block_mb: float = 64.0, default: bool = True, log=print) -> Path:
    """Copy the query's subset of ``entry_id``'s remote source to ``dataref``; return the staged store.

    With ``default`` the entry's pole catalogue is switched to open the staged copy by default."""
    from .index import CatalogIndex
    from .layout import read_tree

    index = index or CatalogIndex.from_catalog()
    try:
        entry = index[entry_id]
    except KeyError:
        raise StageError(f"unknown entry {entry_id!r}; find its id with `vre catalog search`") from None
    if not entry.has_remote or entry.catalog_path is None:
        raise StageError(f"{entry_id} has no remote source to stage from; only entries with a `<name>_remote` service can be staged")
    pole = next(p for p in read_tree(entry.catalog_path).poles if p.pole == entry.pole)
    spec = pole.sources[entry.name + "_remote"]
    driver = str(spec.get("driver", ""))
    if driver not in GRIDDED_DRIVERS + TABLE_DRIVERS:
        raise StageError(f"{entry_id} is served by the {driver!r} driver; only {', '.join(GRIDDED_DRIVERS + TABLE_DRIVERS)} "
                         "sources can be staged")
    if bbox is not None and (len(bbox) != 4 or not (-90 <= bbox[1] < bbox[3] <= 90)):
        raise StageError(f"bbox {list(bbox)} is empty or not west,south,east,north; e.g. --bbox=-10,40,0,50")
    query = Query(entry_id, tuple(float(v) for v in bbox) if bbox else None, start, end,
                  tuple(variables) if variables else None)
    target = staged_path(dataref, entry_id)
    if target.exists() and _read_attrs(target).get("stage_query_key") == query.key:
        log(f"{entry_id}: already staged with this query at {target}")
    else:
        partial = target.with_name(target.name + PARTIAL)
        partial.parent.mkdir(parents=True, exist_ok=True)
        if driver in TABLE_DRIVERS:
            source_url = _stage_table(entry, spec, query, partial, block_mb, log)
        else:
            source_url = _stage_gridded(entry, query, partial, block_mb, log)
        _publish(partial, target, source_url, query)
        log(f"{entry_id}: staged {_size(target) / 1e6:.1f} MB to {target}")
    if default:
        from .staged_default import set_default

        file = set_default(pole.file, entry.name, target, dataref, _read_attrs(target))
        log(f"{entry_id}: the default source of {file.name} is now the staged copy "
            f"(`{entry.name}_remote` still opens the service)")
    return target


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"


def _stage_table(entry, spec: dict, query: Query, partial: Path, block_mb: float, log) -> str:
    from .stage_tables import read_errors, stage_table, subset_url

    args = dict(spec.get("args") or {})
    url = subset_url(str(args.pop("urlpath")), entry.protocol, query.bbox, query.start, query.end, query.variables)
    if (partial / ".zattrs").exists() and _read_attrs(partial).get("stage_query_key") != query.key:
        shutil.rmtree(partial)  # a partial copy of another query
    attrs = {"stage_query_key": query.key, "stage_complete": 0}
    try:
        rows = stage_table(url, args, partial, attrs, bbox=query.bbox, start=query.start, end=query.end,
                           variables=query.variables, block_mb=block_mb, log=lambda m: log(f"{entry.id}: {m}"))
    except StageError:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    except read_errors() as exc:  # a service failing half-way: one line, the partial copy kept
        raise StageError(f"{entry.id}: staging stopped ({_one_line(exc)}); nothing was published; "
                         "run the same command again to resume") from None
    if not rows:
        shutil.rmtree(partial, ignore_errors=True)
        raise StageError(f"the query selects nothing of {entry.id} (0 rows from the service); widen the region or the period")
    return url


def _stage_gridded(entry, query: Query, partial: Path, block_mb: float, log) -> str:
    import xarray as xr

    source = entry.intake_source("remote")
    try:  # lazily indexed, without dask: a block's selection reaches the service (OPeNDAP constraint, byte ranges)
        reader = getattr(source, "reader", None)
        ds = _subset(reader(chunks=None).read() if reader is not None else source.to_dask(), query)
    except StageError:
        raise
    except Exception as exc:  # noqa: BLE001 - the service's failure, in one line
        raise StageError(f"cannot read {entry.id} from {_source_url(source)}: {_one_line(exc)}") from None
    done = 0
    if partial.exists() and _read_attrs(partial).get("stage_query_key") == query.key and "time" in ds.dims:
        done = xr.open_zarr(partial, consolidated=False).sizes.get("time", 0)
        log(f"{entry.id}: resuming at time step {done} of {ds.sizes['time']}")
    else:
        shutil.rmtree(partial, ignore_errors=True)
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
            if i == 0:  # one time step per stored chunk: small writes here, small reads for users
                block.to_zarr(partial, mode="w", zarr_format=2, consolidated=False, encoding={
                    name: {"chunks": (1, *var.shape[1:])} for name, var in block.data_vars.items() if var.dims[:1] == ("time",)})
            else:
                block.to_zarr(partial, append_dim="time", zarr_format=2, consolidated=False)
            del block  # before the next one is read
    except Exception as exc:  # noqa: BLE001 - a service failing half-way: one line, the partial copy kept
        raise StageError(f"{entry.id}: staging stopped ({_one_line(exc)}); nothing was published; "
                         "run the same command again to resume") from None
    return _source_url(source)


def _publish(partial: Path, target: Path, source_url: str, query: Query) -> None:
    """Provenance into the attributes, then the one rename that makes the copy visible."""
    import zarr

    group = zarr.open_group(str(partial), mode="r+", zarr_format=2)
    for key in ("stage_rows", "stage_bytes", "stage_columns"):  # the resume checkpoint of tables
        if key in group.attrs:
            del group.attrs[key]
    group.attrs.update({
        "sample_kind": "staged", "stage_complete": 1,
        "stage_source_url": source_url, "stage_query": json.dumps(query.as_dict()),
        "stage_time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "stage_checksum_sha256": _checksum(partial),
    })
    zarr.consolidate_metadata(str(partial))
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)


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
