"""`vre catalog harvest SOURCE`: the poles' catalogues (CSW, STAC, OpenSearch) into intake catalogue files.

One catalogue file per source (``<out>/<source>.yaml``, classic intake V1 YAML that plain intake opens) and a
root ``<out>/catalog.yaml`` listing them.  Harvests are

- incremental: a record whose datestamp (or STAC ``updated``, else content hash) is unchanged keeps its entry
  as it was, byte for byte; only new and changed records are mapped again;
- resumable: every 25 records and when a server fails, the position and the entries so far are checkpointed
  in ``<out>/.harvest/<source>.partial.json``; the next run restarts from there;
- rate-limited: at most ``rate_limit`` requests per second to one server;
- atomic: the catalogue file is written to a temporary file and renamed, so a server failing half-way leaves
  the previous file exactly as it was.

The report (``<out>/.harvest/<source>.report.json``) lists kept records with what was repaired or dropped and
skipped records with the reason.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..layout import POLES, read_yaml
from .records import Skip, to_entry

SOURCES_FILE = Path(__file__).resolve().parents[2] / "sources.yaml"
PROTOCOLS = ("csw", "stac", "opensearch")
STATE_DIR = ".harvest"
ROOT_NAME = "catalog.yaml"
# Where `vre catalog harvest` writes by default (on the hub host), and where user servers see that folder,
# read-only (hub/jupyterhub_config.py, "harvested catalogues"; $VRE_HARVESTED_CATALOG names its root there).
HARVESTED_DIR = SOURCES_FILE.parent / "harvested"
HARVESTED_MOUNT = "/opt/vre/catalogs/harvested"


class HarvestError(Exception):
    """A harvest stopped; the message is one line saying what happened and what was kept."""


@dataclass
class Source:
    name: str
    protocol: str
    url: str
    pole: str
    rate_limit: float = 2.0  # requests per second
    timeout: float = 60.0
    options: dict = field(default_factory=dict)


def load_sources(path: Path | str | None = None) -> dict[str, Source]:
    """The sources of ``catalogs/sources.yaml`` (or ``path``), checked; raises ValueError naming the bad line."""
    path = Path(path or SOURCES_FILE)
    data = yaml.safe_load(path.read_text()) if path.exists() else None
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise ValueError(f"{path}: a top-level `sources:` mapping of name -> {{protocol, url, pole}} is needed")
    out = {}
    for name, spec in data["sources"].items():
        spec = dict(spec or {})
        missing = [k for k in ("protocol", "url", "pole") if not spec.get(k)]
        if missing:
            raise ValueError(f"{path}: source {name!r} needs {', '.join(missing)}")
        if spec["protocol"] not in PROTOCOLS:
            raise ValueError(f"{path}: source {name!r}: protocol must be one of {', '.join(PROTOCOLS)}, not {spec['protocol']!r}")
        if spec["pole"] not in POLES:
            raise ValueError(f"{path}: source {name!r}: pole must be one of {', '.join(POLES)}, not {spec['pole']!r}")
        if not str(name).isidentifier():
            raise ValueError(f"{path}: source name {name!r} must be a Python identifier (it is an intake attribute)")
        known = {k: spec.pop(k) for k in ("protocol", "url", "pole", "rate_limit", "timeout") if k in spec}
        out[name] = Source(name=name, options=spec, **known)
    return out


class Throttle:
    """At most ``rate`` calls of :meth:`wait` per second (0 or less: no limit)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self.calls = 0

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                time.sleep(self._next - now)
            self._next = max(now, self._next) + self.interval
            self.calls += 1


@dataclass
class Report:
    source: str
    file: str
    kept: dict[str, list[str]] = field(default_factory=dict)  # entry name -> notes (what was repaired/dropped)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (identifier, reason)
    changed: list[str] = field(default_factory=list)  # entries written anew (new or changed records)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # in the previous file, gone from the server
    resumed_from: int = 0
    requests: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.source}: {len(self.kept)} entries in {self.file} ({len(self.changed)} new or changed, "
                f"{len(self.unchanged)} unchanged, {len(self.removed)} removed), {len(self.skipped)} records skipped, "
                f"{sum(bool(n) for n in self.kept.values())} kept with notes; {self.requests} requests in {self.seconds:.1f} s"
                + (f" (resumed at record {self.resumed_from + 1})" if self.resumed_from else ""))

    def lines(self) -> list[str]:
        out = [self.summary()]
        out += [f"  kept {name}: {'; '.join(notes)}" for name, notes in self.kept.items() if notes]
        out += [f"  skipped {ident}: {reason}" for ident, reason in self.skipped]
        return out

    def to_json(self) -> dict:
        return {"source": self.source, "file": self.file, "kept": self.kept, "skipped": [list(s) for s in self.skipped],
                "changed": self.changed, "unchanged": self.unchanged, "removed": self.removed,
                "resumed_from": self.resumed_from, "requests": self.requests, "seconds": round(self.seconds, 3)}


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: ~10x faster on 100,000-entry catalogues


def _dump(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_root(out: Path) -> Path:
    """``<out>/catalog.yaml``: one ``yaml_file_cat`` per harvested source file, so one path opens them all."""
    sources = {}
    for file in sorted(out.glob("*.yaml")):
        if file.name == ROOT_NAME:
            continue
        # the catalogue's own metadata, kept small beside it (parsing a 100,000-entry file for it would take minutes)
        meta = _read_json(out / STATE_DIR / f"{file.stem}.catalog.json") or (read_yaml(file).get("metadata") or {})
        sources[file.stem] = {"description": meta.get("title", file.stem), "driver": "yaml_file_cat",
                              "args": {"path": "{{ CATALOG_DIR }}/" + file.name},
                              "metadata": {k: meta[k] for k in ("pole", "url") if k in meta}}
    root = out / ROOT_NAME
    _atomic_write(root, "# Harvested catalogues (written by `vre catalog harvest`; do not edit by hand).\n"
                  + _dump({"metadata": {"version": 1, "title": "DATA TERRA VRE - harvested catalogues"}, "sources": sources}))
    return root


def harvest(source: Source, out: Path | str, *, resume: bool = True, log=print) -> Report:
    """Harvest ``source`` into ``out/<source>.yaml``; raises :class:`HarvestError` (previous file untouched)."""
    out = Path(out)
    target = out / f"{source.name}.yaml"
    state_dir = out / STATE_DIR
    state_file, partial_file = state_dir / f"{source.name}.state.json", state_dir / f"{source.name}.partial.json"
    previous = read_yaml(target)["sources"] if target.exists() else {}
    state = _read_json(state_file).get("records", {})  # identifier -> {"name", "stamp"}
    partial = _read_json(partial_file) if resume else {}
    start = int(partial.get("position", 0))
    entries: dict[str, dict] = partial.get("entries", {})
    new_state: dict[str, dict] = partial.get("state", {})
    report = Report(source.name, str(target), resumed_from=start)
    for key in ("kept", "changed", "unchanged"):
        setattr(report, key, partial.get("report", {}).get(key, getattr(report, key)))
    report.skipped = [tuple(s) for s in partial.get("report", {}).get("skipped", [])]
    owner = {v["name"]: k for k, v in new_state.items()}  # entry name -> identifier (duplicate detection)
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    throttle = Throttle(source.rate_limit)
    reader = importlib.import_module(f"{__name__}.{source.protocol}")
    t0 = time.perf_counter()
    position = start

    def checkpoint():
        _atomic_write(partial_file, json.dumps({"position": position, "entries": entries, "state": new_state,
                                                "report": {"kept": report.kept, "changed": report.changed,
                                                           "unchanged": report.unchanged, "skipped": report.skipped}}))

    try:
        for position, rec in reader.read(source, start, throttle, source.timeout):
            ident = str(rec.identifier or "").strip()
            stamp = rec.stamp()
            try:
                if ident and ident in new_state:
                    raise Skip(f"duplicate identifier (already harvested as {new_state[ident]['name']})")
                old = state.get(ident)
                if old and old["stamp"] == stamp and old["name"] in previous and old["name"] not in entries:
                    name, spec, notes = old["name"], previous[old["name"]], old.get("notes", [])
                    report.unchanged.append(name)
                else:
                    name, spec, notes = to_entry(rec, source.name, source.pole, now)
                    if name in owner or name in entries:
                        raise Skip(f"duplicate identifier: {ident!r} gives the same entry name {name!r} as "
                                   f"{owner.get(name, name)!r}")
                    report.changed.append(name)
            except Skip as exc:
                report.skipped.append((ident or f"record #{position + 1}", str(exc)))
            else:
                entries[name] = spec
                new_state[ident] = {"name": name, "stamp": stamp, "notes": notes}
                owner[name] = ident
                report.kept[name] = notes
            position += 1
            if position % 25 == 0:
                checkpoint()
    except HarvestError:
        raise
    except Exception as exc:  # noqa: BLE001 - any server or parse failure: keep the old file, say so in one line
        checkpoint()
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        kept = f"{len(previous)} entries" if target.exists() else "no previous file"
        raise HarvestError(f"{source.name}: harvest stopped after {position} records ({reason}); {target} left "
                           f"unchanged ({kept}); run again to resume at record {position + 1}") from None
    report.removed = [name for name in previous if name not in entries]
    report.requests, report.seconds = throttle.calls, time.perf_counter() - t0
    catalogue = {"metadata": {"version": 1, "title": f"{source.name} (harvested from {source.url})", "pole": source.pole,
                              "url": source.url, "protocol": source.protocol, "harvested": now},
                 "sources": entries}
    _atomic_write(target, f"# Harvested by `vre catalog harvest {source.name}`; do not edit by hand.\n" + _dump(catalogue))
    _atomic_write(state_dir / f"{source.name}.catalog.json", json.dumps(catalogue["metadata"]))
    _atomic_write(state_file, json.dumps({"records": new_state, "harvested": now}, indent=0))
    _atomic_write(state_dir / f"{source.name}.report.json", json.dumps(report.to_json(), indent=1))
    partial_file.unlink(missing_ok=True)
    write_root(out)
    return report
