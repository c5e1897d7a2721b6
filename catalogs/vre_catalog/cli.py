"""`vre catalog ...`: search, show, check the catalogues and write their samples.

    vre catalog search [TEXT] [--pole P] [--variable V] [--standard-name S] [--platform P] [--provider P]
                       [--protocol P] [--bbox W,S,E,N] [--start DATE] [--end DATE] [--limit N] [--facets] [--json]
    vre catalog show ID
    vre catalog check [PATH] [--no-open]
    vre catalog index [PATH]
    vre catalog samples [--out DIR]
    vre catalog harvest SOURCE... [--all] [--sources FILE] [--out DIR] [--restart]
    vre catalog publish [--out DIR] [--catalog ROOT]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .layout import REPO_CATALOG, CatalogFileError, default_catalog_path


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _parse_bbox(values: list[str]) -> tuple[float, float, float, float]:
    parts = [p for v in values for p in v.replace(",", " ").split()]
    if len(parts) != 4:
        raise ValueError(f"--bbox needs 4 numbers west,south,east,north, got {' '.join(values)!r}")
    try:
        return tuple(float(p) for p in parts)  # type: ignore[return-value]
    except ValueError:
        raise ValueError(f"--bbox values must be numbers, got {' '.join(values)!r}") from None


def _index(path):
    from .index import CatalogIndex

    return CatalogIndex.from_catalog(path)


def cmd_search(args) -> int:
    idx = _index(args.catalog)
    facets = {}
    for facet in ("pole", "variable", "standard_name", "platform", "provider", "protocol", "keyword"):
        values = getattr(args, facet)
        if values:
            facets[facet] = values
    bbox = _parse_bbox(args.bbox) if args.bbox else None
    time = (args.start, args.end) if (args.start or args.end) else None
    res = idx.search(text=" ".join(args.text) or None, facets=facets, bbox=bbox, time=time, limit=args.limit)
    if args.json:
        print(json.dumps({"total": res.total, "entries": [
            {"id": e.id, "title": e.title, "protocol": e.protocol, "bbox": e.bbox, "time_coverage": e.time_coverage,
             "code": e.code()} for e in res.entries], "facet_counts": dict(res.facet_counts)}, indent=2))
        return 0
    print(f"{res.total} entr{'y' if res.total == 1 else 'ies'} match" + (f" (showing {len(res)})" if len(res) < res.total else ""))
    for e in res.entries:
        start, end = e.time_coverage
        print(f"  {e.id:<45} {e.title}")
        print(f"  {'':<45} {e.protocol or '-'} | {start or '?'} .. {end or 'present'} | {', '.join(v['name'] for v in e.variables)}")
    if args.facets:
        for facet, counts in res.facet_counts.items():
            if counts:
                print(f"{facet}: " + ", ".join(f"{k} ({v})" for k, v in list(counts.items())[:12]))
    return 0


def cmd_show(args) -> int:
    idx = _index(args.catalog)
    try:
        entry = idx[args.id]
    except KeyError as exc:
        return _fail(exc.args[0])
    print(f"{entry.id}: {entry.title}\n{entry.description}\n")
    print(json.dumps(entry.metadata, indent=2, default=str))
    print("\n# offline sample\n" + entry.code())
    if entry.has_remote:
        print("# real service\n" + entry.code(source="remote"))
    return 0


def cmd_check(args) -> int:
    from .check import check_catalog, count_entries, format_counts, sample_counts

    path = Path(args.path) if args.path else default_catalog_path()
    samples = path.resolve().parent / "samples"
    if path.resolve() == REPO_CATALOG and not samples.exists():
        # A fresh clone has no samples (they are generated, never committed): make them first.
        from .samples import generate

        print(f"no samples yet in {samples}: generating them (python -m vre_catalog.samples)")
        generate(samples, log=lambda *_: None)
    print(f"checking {path}" + ("" if args.no_open else " (opening every sample)"))
    problems = check_catalog(path, open_samples=not args.no_open)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) > 1 else ''} found", file=sys.stderr)
        return 1
    files, entries = count_entries(path)
    print(f"ok: {files} catalogue files, {entries} entries valid" + ("" if args.no_open else ", every sample opens"))
    print("samples per pole (every real one with its licence and citation):\n" + format_counts(sample_counts(path)))
    return 0


def cmd_index(args) -> int:
    import time

    from .index import CatalogIndex, _cache_paths

    path = (Path(args.path) if args.path else default_catalog_path()).resolve()
    t0 = time.perf_counter()
    idx = CatalogIndex.from_catalog(path, cache=True)
    cached = next((p for p in _cache_paths(path) if p.exists()), None)
    print(f"indexed {len(idx)} entries of {path} in {time.perf_counter() - t0:.2f} s; cache: {cached or 'not writable'}")
    return 0


def cmd_samples(args) -> int:
    from .samples import main as samples_main

    return samples_main(["--out", str(args.out)] if args.out else [])


def cmd_harvest(args) -> int:
    from .harvest import HarvestError, harvest, load_sources

    sources = load_sources(args.sources)
    names = list(sources) if args.all else args.source
    if not names:
        return _fail(f"name a source ({', '.join(sources)}) or use --all")
    unknown = [n for n in names if n not in sources]
    if unknown:
        return _fail(f"unknown source {', '.join(unknown)}; the sources are {', '.join(sources)} "
                     f"(add one to {args.sources or 'catalogs/sources.yaml'})")
    failed = 0
    for name in names:
        try:
            report = harvest(sources[name], args.out, resume=not args.restart)
        except HarvestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        lines = report.lines()
        print("\n".join(lines if args.verbose else lines[:1]))
        if not args.verbose and len(lines) > 1:
            print(f"  details: {Path(args.out) / '.harvest' / (name + '.report.json')} (or --verbose)")
    return 1 if failed else 0


def cmd_publish(args) -> int:
    from .publish import publish

    root = Path(args.catalog) if args.catalog else default_catalog_path()
    iso, stac = publish(root, args.out, base_url=args.base_url)
    print(f"published {iso} ISO 19139 records to {Path(args.out) / 'iso19139'} and a static STAC catalogue of "
          f"{stac} collections to {Path(args.out) / 'stac' / 'catalog.json'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vre catalog", description="Search and check the DATA TERRA intake catalogues.")
    parser.add_argument("--catalog", type=Path, default=None, help="root catalogue (default: $VRE_CATALOG, /opt/vre/catalogs/catalog.yaml, or the repository's)")
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("search", help="free text, facets, bbox and time search")
    s.add_argument("text", nargs="*", help="words searched in title, keywords, variables, description")
    s.add_argument("--pole", action="append", choices=["odatis", "aeris", "theia", "formater"])
    s.add_argument("--variable", action="append", help="variable name (repeatable)")
    s.add_argument("--standard-name", dest="standard_name", action="append", help="CF standard name (repeatable)")
    s.add_argument("--platform", action="append")
    s.add_argument("--provider", action="append")
    s.add_argument("--protocol", action="append")
    s.add_argument("--keyword", action="append")
    s.add_argument("--bbox", nargs="+", metavar="W,S,E,N", help="west,south,east,north in degrees; west > east crosses the antimeridian (write --bbox=-20,30,10,65 or --bbox -20 30 10 65)")
    s.add_argument("--start", help="ISO date; entries ending before it are excluded")
    s.add_argument("--end", help="ISO date; entries starting after it are excluded")
    s.add_argument("--limit", type=int)
    s.add_argument("--facets", action="store_true", help="also print facet value counts")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_search)

    sh = sub.add_parser("show", help="metadata and the intake line of one entry")
    sh.add_argument("id", help="pole.name, e.g. odatis.argo_profiles")
    sh.set_defaults(func=cmd_show)

    c = sub.add_parser("check", help="validate catalogues against the schema and open every sample")
    c.add_argument("path", nargs="?", help="root or pole catalogue YAML (default: the catalogue in use)")
    c.add_argument("--no-open", action="store_true", help="skip opening the samples")
    c.set_defaults(func=cmd_check)

    i = sub.add_parser("index", help="build the search index cache next to the catalogue (image build time)")
    i.add_argument("path", nargs="?", help="root catalogue YAML (default: the catalogue in use)")
    i.set_defaults(func=cmd_index)

    g = sub.add_parser("samples", help="write the embedded samples (python -m vre_catalog.samples)")
    g.add_argument("--out", type=Path, help="output directory (default: catalogs/samples next to the YAML)")
    g.set_defaults(func=cmd_samples)

    h = sub.add_parser("harvest", help="harvest pole catalogues (CSW, STAC, OpenSearch) into intake catalogue files")
    h.add_argument("source", nargs="*", help="source names of the sources file")
    h.add_argument("--all", action="store_true", help="every source of the sources file")
    h.add_argument("--sources", type=Path, help="sources file (default: catalogs/sources.yaml)")
    h.add_argument("--out", type=Path, default=REPO_CATALOG.parent / "harvested",
                   help="directory of the harvested catalogue files (default: catalogs/harvested)")
    h.add_argument("--restart", action="store_true", help="ignore the checkpoint of a failed harvest and start again")
    h.add_argument("--verbose", "-v", action="store_true", help="print every kept-with-notes and skipped record")
    h.set_defaults(func=cmd_harvest)

    p = sub.add_parser("publish", help="export the curated entries as ISO 19139 records and a static STAC catalogue")
    p.add_argument("--out", type=Path, default=Path("published"), help="output directory (default: ./published)")
    p.add_argument("--base-url", help="URL the STAC catalogue will be served from (default: relative links)")
    p.set_defaults(func=cmd_publish)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CatalogFileError as exc:
        return _fail(f"{exc}")
    except ValueError as exc:
        return _fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
