"""Validate catalogues: YAML syntax, metadata schema, consistency, samples that really open.

Every problem is one line ``file:line: entry: what is wrong; how to fix it``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .layout import (CATALOG_DRIVERS, POLES, REMOTE_SUFFIX, CatalogFileError, read_yaml, render, source_lines,
                     sub_catalog_path)

_REMOTE_URL = re.compile(r"^(https?|s3|gs)://")


@dataclass(frozen=True)
class Problem:
    file: Path
    message: str
    entry: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else f"{self.file}"
        return f"{where}: {self.entry}: {self.message}" if self.entry else f"{where}: {self.message}"


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(resources.files(__package__).joinpath("metadata.schema.json").read_text(encoding="utf-8"))


def _validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "metadata"


def explain(error) -> str:
    """A jsonschema error as 'what is wrong; how to fix it'."""
    where = _where(error.absolute_path)
    kind, value = error.validator, error.instance
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else "a field"
        if name == "units":
            return f"missing units in {where}; add `units:` (UDUNITS, e.g. degC, m s-1, or '1' if dimensionless)"
        if name == "standard_name":
            return f"missing standard_name in {where}; add the CF standard name (or null if CF has none)"
        return f"missing `{name}` in {where}; add it (see catalogs/README.md for the metadata fields)"
    if kind == "enum" and where == "pole":
        return f"unknown pole {value!r}; use one of {', '.join(POLES)}"
    if kind == "enum" and where == "access.protocol":
        return f"unknown access protocol {value!r}; use one of {', '.join(map(str, error.validator_value))}"
    if kind in ("minimum", "maximum") and where.startswith("geospatial_"):
        rng = "[-180, 180]" if "lon" in where else "[-90, 90]"
        return f"bbox out of range: {where} = {value} is not in {rng}; use degrees ({'east' if 'lon' in where else 'north'})"
    if kind == "pattern" and where.startswith("time_coverage"):
        return f"{where} = {value!r} is not an ISO 8601 date; write YYYY-MM-DD"
    if kind == "pattern" and (where.endswith("url") or where == "landing_page"):
        return f"{where} = {value!r} is not an http(s) URL; give the full address"
    if kind == "type":
        return f"{where} = {value!r} should be {error.validator_value}; fix its type"
    return f"{where}: {error.message}; fix the value"


def _semantic(md: dict, pole: str) -> list[str]:
    out = []
    if md.get("pole") in POLES and md.get("pole") != pole:
        out.append(f"pole {md['pole']!r} but the entry is in the {pole} catalogue; move it or fix `pole`")
    s, n = md.get("geospatial_lat_min"), md.get("geospatial_lat_max")
    if isinstance(s, (int, float)) and isinstance(n, (int, float)) and s > n:
        out.append(f"bbox south {s} > north {n}; swap geospatial_lat_min and geospatial_lat_max")
    start, end = md.get("time_coverage_start"), md.get("time_coverage_end")
    if isinstance(start, str) and isinstance(end, str) and start[:10] > end[:10]:
        out.append(f"time_coverage_start {start} is after time_coverage_end {end}; swap them or fix the dates")
    return out


def _compare_sample(obj, md: dict) -> list[str]:
    """Variables and units of an opened sample against its metadata."""
    import pandas as pd
    import xarray as xr

    out = []
    if isinstance(obj, xr.Dataset):
        if not obj.variables or all(v.size == 0 for v in obj.data_vars.values()):
            return ["sample is empty; regenerate it with `python -m vre_catalog.samples`"]
        names = set(obj.variables)
        for i, var in enumerate(md.get("variables") or []):
            name = var.get("name")
            if name not in names:
                out.append(f"variable {name!r} (variables[{i}]) is not in the sample (has {', '.join(sorted(map(str, obj.data_vars)))}); fix the name or the generator")
                continue
            units = obj[name].attrs.get("units")
            if units is not None and var.get("units") is not None and str(units) != str(var["units"]):
                out.append(f"units of {name!r}: metadata says {var['units']!r} but the sample says {units!r}; make them agree")
            std = obj[name].attrs.get("standard_name")
            if std and var.get("standard_name") and std != var["standard_name"]:
                out.append(f"standard_name of {name!r}: metadata {var['standard_name']!r} vs sample {std!r}; make them agree")
    elif isinstance(obj, pd.DataFrame):
        if obj.empty:
            return ["sample is empty; regenerate it with `python -m vre_catalog.samples`"]
        for i, var in enumerate(md.get("variables") or []):
            if var.get("name") not in obj.columns:
                out.append(f"variable {var.get('name')!r} (variables[{i}]) is not a column of the sample (has {', '.join(map(str, obj.columns))}); fix the name or the generator")
    elif not obj:
        out.append("sample is empty; regenerate it")
    return out


def check_catalog(path: str | Path, open_samples: bool = True) -> list[Problem]:
    """Check a root catalogue (or a single pole catalogue) and everything it references."""
    path = Path(path).resolve()
    problems: list[Problem] = []
    try:
        root = read_yaml(path)
    except CatalogFileError as exc:
        return [Problem(exc.file, exc.message, line=exc.line)]
    pole_files: list[tuple[str, Path, dict]] = []
    subs = {name: sub_catalog_path(spec, path.parent) for name, spec in root["sources"].items()}
    if any(subs.values()):
        lines = source_lines(path)
        for name, sub in subs.items():
            if sub is None:
                driver = (root["sources"][name] or {}).get("driver")
                problems.append(Problem(path, f"root source with driver {driver!r} is not a pole sub-catalogue; use driver yaml_file_cat", name, lines.get(name)))
                continue
            if name not in POLES:
                problems.append(Problem(path, f"unknown pole {name!r}; name the sub-catalogue one of {', '.join(POLES)}", name, lines.get(name)))
            try:
                pole_files.append((name, sub, read_yaml(sub)))
            except CatalogFileError as exc:
                if not exc.file.exists():
                    problems.append(Problem(path, f"sub-catalogue {exc.file} not found; fix args.path (relative to {{{{ CATALOG_DIR }}}})", name, lines.get(name)))
                else:
                    problems.append(Problem(exc.file, exc.message, line=exc.line))
    else:  # a pole catalogue checked on its own
        pole = (root.get("metadata") or {}).get("pole") or path.stem
        pole_files.append((pole, path, root))

    validator = _validator()
    opened: dict = {}
    for pole, file, data in pole_files:
        lines = source_lines(file)
        sources = data["sources"]
        for name, spec in sources.items():
            entry, line = f"{pole}.{name}", lines.get(name)

            def report(message, entry=entry, line=line, file=file):
                problems.append(Problem(file, message, entry, line))

            if not isinstance(spec, dict) or "driver" not in spec:
                report("source has no `driver`; add one (netcdf, zarr, opendap, csv, jsonfiles...)")
                continue
            from intake.source import registry

            driver = spec["driver"]
            if driver not in registry and driver not in CATALOG_DRIVERS and "." not in str(driver):
                report(f"unknown intake driver {driver!r}; use one of {', '.join(sorted(registry))}")
            args = spec.get("args") or {}
            urlpath = str(args.get("urlpath", ""))
            md = spec.get("metadata")
            is_remote = name.endswith(REMOTE_SUFFIX)
            base = name[: -len(REMOTE_SUFFIX)] if is_remote else name
            if is_remote:
                if base not in sources:
                    report(f"remote source without its sample twin {base!r}; add `{base}` opening the embedded sample")
                if not _REMOTE_URL.match(urlpath):
                    report(f"remote urlpath {urlpath!r} is not a URL; give the real service address (https://...)")
                if md == (sources.get(base) or {}).get("metadata"):
                    continue  # same metadata (YAML alias): validated once, on the sample entry
            else:
                if f"{name}{REMOTE_SUFFIX}" not in sources:
                    report(f"no remote source; add `{name}{REMOTE_SUFFIX}` pointing at the real service")
                if not str(spec.get("description") or "").strip():
                    report("empty description; describe the dataset in a sentence or two")
            if not isinstance(md, dict):
                report("no metadata; add the metadata block (see catalogs/README.md)")
                continue
            for error in sorted(validator.iter_errors(md), key=lambda e: list(map(str, e.absolute_path))):
                report(explain(error))
            for message in _semantic(md, pole):
                report(message)
            if is_remote:
                continue
            # The sample must exist and open.
            if "{{" not in urlpath and not urlpath.startswith(("/", ".")):
                report(f"sample urlpath {urlpath!r} should be relative to the catalogue: \"{{{{ CATALOG_DIR }}}}/samples/...\"")
            sample_path = Path(render(urlpath, file.parent))
            staged = (md.get("sample") or {}).get("kind") == "staged"
            if staged and not sample_path.exists():
                report(f"staged copy {sample_path} not found; set VRE_DATAREF to the Dataref directory or stage it again "
                       "(`vre data stage`)")
                continue
            if not sample_path.exists():
                report(f"unreachable sample path {sample_path}; run `python -m vre_catalog.samples --out {file.parent / 'samples'}` or fix args.urlpath")
                continue
            if not open_samples:
                continue
            try:
                if file not in opened:
                    import intake  # plain intake, exactly as a user opens the catalogue

                    opened[file] = intake.open_catalog(str(file))
                obj = opened[file][name].read()
            except Exception as exc:  # noqa: BLE001 - any failure to open is reported, one line
                msg = " ".join(str(exc).split())[:200]
                report(f"sample cannot be opened ({type(exc).__name__}: {msg}); regenerate it or fix driver/args")
                continue
            for message in ([] if staged else _compare_sample(obj, md)):  # a staged subset may keep fewer variables
                report(message)
    return problems


def count_entries(path: str | Path) -> tuple[int, int]:
    """(catalogue files, sample entries) under a root catalogue, for the summary line."""
    from .layout import read_tree

    tree = read_tree(Path(path))
    entries = sum(1 for p in tree.poles for n in p.sources if not n.endswith(REMOTE_SUFFIX))
    return 1 + len(tree.poles), entries


SAMPLE_KINDS = ("real", "synthetic", "staged")  # staged: a subset copied into Dataref by an operator


def sample_counts(path: str | Path) -> dict[str, dict[str, int]]:
    """{pole: {"real": n, "synthetic": n, "staged": n}} over the sample entries of a root catalogue."""
    from .layout import read_tree

    counts = {}
    for pole in read_tree(Path(path)).poles:
        kinds = dict.fromkeys(SAMPLE_KINDS, 0)
        for name, spec in pole.sources.items():
            kind = (((spec or {}).get("metadata") or {}).get("sample") or {}).get("kind")
            if not name.endswith(REMOTE_SUFFIX) and kind in kinds:
                kinds[kind] += 1
        counts[pole.pole] = kinds
    return counts


def format_counts(counts: dict[str, dict[str, int]]) -> str:
    """The per-pole table `vre catalog check` prints."""
    rows = [f"{'pole':<10}" + "".join(f"{kind:>11}" for kind in SAMPLE_KINDS)]
    for pole, kinds in counts.items():
        rows.append(f"{pole:<10}" + "".join(f"{kinds[kind]:>11}" for kind in SAMPLE_KINDS))
    total = {kind: sum(k[kind] for k in counts.values()) for kind in SAMPLE_KINDS}
    rows.append(f"{'total':<10}" + "".join(f"{total[kind]:>11}" for kind in SAMPLE_KINDS))
    return "\n".join(rows)
