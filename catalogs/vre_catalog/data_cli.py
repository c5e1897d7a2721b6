"""``vre data``: stage subsets of the real services into *Dataref*, and list what is staged.

    vre data stage ENTRY [--bbox W,S,E,N] [--time START/END] [--variables A,B] [--dataref DIR] [--block-mb N]
                         [--no-default] [--json]
    vre data list [--dataref DIR] [--json]

``--dataref`` defaults to ``$VRE_DATAREF`` (on a host: the ``vre-dataref`` volume's directory). Staging makes
the staged copy the entry's default source in its pole catalogue (``--no-default`` leaves it); the catalogue
is ``--catalog``, else the one in use. Errors, flags and exit codes follow the CLI kit (:mod:`vre_core.cli`).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vre_core.cli import add_json, print_json, run
from vre_core.errors import VREError


def _dataref(args) -> Path:
    dataref = args.dataref or os.environ.get("VRE_DATAREF")
    if not dataref:
        raise VREError("no Dataref directory", "pass --dataref DIR or set VRE_DATAREF")
    return Path(dataref)


def _bbox(text: str | None):
    if not text:
        return None
    try:
        bbox = tuple(float(v) for v in text.split(","))
    except ValueError:
        bbox = ()
    if len(bbox) != 4:
        raise VREError(f"--bbox {text!r} is not W,S,E,N in degrees", "write e.g. --bbox=-10,40,0,50")
    return bbox


def _time(text: str | None) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    start, sep, end = text.partition("/")
    if not sep:
        raise VREError(f"--time {text!r} is not START/END", "write e.g. --time 2001-01-01/2008-12-31 (either side may be empty)")
    return start or None, end or None


def cmd_stage(args) -> int:
    from .index import CatalogIndex
    from .stage import list_staged, stage

    bbox, (start, end) = _bbox(args.bbox), _time(args.time)
    variables = [v for v in (args.variables or "").split(",") if v] or None
    dataref = _dataref(args)
    index = CatalogIndex.from_catalog(args.catalog, cache=False)
    store = stage(args.entry, dataref, bbox=bbox, start=start, end=end, variables=variables, index=index,
                  block_mb=args.block_mb, default=not args.no_default, log=(lambda *_: None) if args.json else print)
    if args.json:
        print_json(next(row for row in list_staged(dataref) if row["path"] == str(store)))
    return 0


def cmd_list(args) -> int:
    from .stage import list_staged

    rows = list_staged(_dataref(args))
    if args.json:
        print_json(rows)
        return 0
    for row in rows:
        print(f"{row['entry']:<45} {row['bytes'] / 1e6:>9.1f} MB  {row['staged']}  {row['path']}")
    print(f"{len(rows)} staged dataset{'s' if len(rows) != 1 else ''}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vre data", description="Stage real data into Dataref and list it.")
    sub = parser.add_subparsers(dest="command", required=True)

    st = sub.add_parser("stage", help="copy a subset of an entry's remote service into Dataref (Zarr, with provenance)")
    st.add_argument("entry", help="pole.name of an entry with a remote source, e.g. odatis.ocean_environment_monthly")
    st.add_argument("--bbox", help="W,S,E,N in degrees (write --bbox=-10,40,0,50)")
    st.add_argument("--time", help="START/END, ISO dates (e.g. 2001-01-01/2008-12-31; a side may be empty)")
    st.add_argument("--variables", help="comma-separated variables (or columns) to keep (default: all)")
    st.add_argument("--dataref", type=Path, help="the Dataref directory (default: $VRE_DATAREF)")
    st.add_argument("--catalog", type=Path, help="root catalogue (default: the one in use, $VRE_CATALOG)")
    st.add_argument("--block-mb", type=float, default=64.0, help="memory for one block of the transfer (MB)")
    st.add_argument("--no-default", action="store_true", help="leave the entry's default source as it is")
    add_json(st)
    st.set_defaults(func=cmd_stage)

    ls = sub.add_parser("list", help="the staged copies in Dataref: entry, size, time of staging")
    ls.add_argument("--dataref", type=Path, help="the Dataref directory (default: $VRE_DATAREF)")
    add_json(ls)
    ls.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(lambda: args.func(args), unexpected="run it again; a staging run resumes where it stopped")


if __name__ == "__main__":
    sys.exit(main())
