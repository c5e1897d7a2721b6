"""Checking a submission against the notebook's own ``parameters`` cell, and sweeps.

Every problem raises :class:`SubmissionError` with one line saying what is wrong and
how to fix it; the REST API turns it into HTTP 400 before anything is queued.
"""

from __future__ import annotations

import ast
import itertools
import os
import posixpath
import tempfile

from vre_core.naming import HOME


class SubmissionError(ValueError):
    """A bad submission; its message is one line for the user."""


MAX_PATH = 1024


def _path_text(value, what: str, example: str) -> str:
    """A path from a submission: a string, of sane length, without control characters
    (it is stored, listed to admins and printed in terminals)."""
    if not isinstance(value, str):
        raise SubmissionError(f"{what} must be a string path; e.g. {example!r}")
    if len(value) > MAX_PATH or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise SubmissionError(f"{what} is longer than {MAX_PATH} characters or has control characters; rename it")
    return value


def resolve_notebook_path(path: str, shipped_dir: str) -> str:
    """Absolute path of a notebook inside the user container.

    Relative paths are taken from the user's home; absolute ones must stay in the
    home or in the notebooks shipped with the image (``shipped_dir``).
    """
    if not path or (isinstance(path, str) and not path.strip()):
        raise SubmissionError("no notebook given; pass a path relative to your home, e.g. work/analysis.ipynb")
    path = _path_text(path, "the notebook path", "work/analysis.ipynb").strip()
    path = path.removeprefix("~/")
    full = posixpath.normpath(path if path.startswith("/") else posixpath.join(HOME, path))
    if not full.endswith(".ipynb"):
        raise SubmissionError(f"{path!r} is not a notebook; give the path of an .ipynb file")
    for root in (HOME, shipped_dir.rstrip("/")):
        if full.startswith(root + "/"):
            return full
    raise SubmissionError(
        f"notebook {path!r} is outside your home and {shipped_dir}; give a path in one of them"
    )


def resolve_output_root(path: str | None, default: str = "jobs") -> str:
    """Absolute folder (in the user's home) under which ``<job-id>/`` folders go."""
    path = _path_text(path or default, "the output folder", "jobs/run1").strip()
    path = path.removeprefix("~/")
    full = posixpath.normpath(path if path.startswith("/") else posixpath.join(HOME, path))
    if full != HOME and not full.startswith(HOME + "/"):
        raise SubmissionError(f"output folder {path!r} is outside your home; give a folder in {HOME}")
    return full


def inspect_notebook_bytes(content: bytes, display_path: str) -> dict[str, dict]:
    """Parameters declared by the notebook's ``parameters`` cell (papermill's own parser)."""
    import papermill

    with tempfile.NamedTemporaryFile("wb", suffix=".ipynb", delete=False) as f:
        f.write(content)
    try:
        return papermill.inspect_notebook(f.name)
    except Exception as e:  # invalid JSON, not a notebook...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SubmissionError(f"cannot read notebook {display_path}: {first}; check it opens in Jupyter") from e
    finally:
        os.unlink(f.name)


# Which JSON values a parameter of a given declared (or default-inferred) type accepts.
_ACCEPTS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "tuple": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
}
_JSON_NAMES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "dict", type(None): "null"}


def parameter_type(spec: dict) -> str | None:
    """Declared type (annotation) or the type of the literal default; None if unknown."""
    declared = (spec.get("inferred_type_name") or "None").strip().lower()
    declared = declared.split("[")[0]  # list[float] -> list
    if declared in _ACCEPTS:
        return declared
    if declared not in ("none", ""):
        return None  # some other annotation: do not guess
    try:
        default = ast.literal_eval(spec.get("default", ""))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    name = _JSON_NAMES.get(type(default))
    if name == "null":
        return None
    return "list" if isinstance(default, tuple) else name


def validate_parameters(values: dict, declared: dict[str, dict], notebook: str) -> None:
    """Reject unknown names and values of the wrong type."""
    if not isinstance(values, dict):
        raise SubmissionError("parameters must be a JSON object of name: value; e.g. {\"alpha\": 0.5}")
    if values and not declared:
        raise SubmissionError(
            f"notebook {notebook} has no cell tagged 'parameters'; tag one in Jupyter to pass parameters"
        )
    for name, value in values.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise SubmissionError(f"unknown parameter {name!r} for {notebook}; known parameters: {known}")
        expected = parameter_type(declared[name])
        if expected and not _ACCEPTS[expected](value):
            got = _JSON_NAMES.get(type(value), type(value).__name__)
            raise SubmissionError(
                f"parameter {name!r} of {notebook} expects {expected}, got {got} {value!r}; pass a {expected}"
            )


MAX_SWEEP = 500


def expand_sweep(base: dict, sweep: dict | list | None) -> list[dict]:
    """Parameter sets of one submission.

    ``sweep`` is either ``{"grid": {name: [values...]}}`` (cartesian product),
    ``{"list": [{...}, {...}]}`` or a bare list; each set is merged over ``base``.
    """
    if not isinstance(base, dict):
        raise SubmissionError("parameters must be a JSON object of name: value; e.g. {\"alpha\": 0.5}")
    if sweep in (None, {}, []):
        return [dict(base)]
    if isinstance(sweep, list):
        sweep = {"list": sweep}
    if not isinstance(sweep, dict) or set(sweep) - {"grid", "list"} or len(sweep) != 1:
        raise SubmissionError('sweep has an unknown form; use {"grid": {name: [values]}} or {"list": [{name: value}, ...]}')
    if "grid" in sweep:
        grid = sweep["grid"]
        if not isinstance(grid, dict) or not grid or not all(isinstance(v, list) and v for v in grid.values()):
            raise SubmissionError('sweep grid must map each parameter to a non-empty list; e.g. {"grid": {"x": [1, 2]}}')
        names = list(grid)
        count = 1
        for values in grid.values():
            count *= len(values)
        if count > MAX_SWEEP:
            raise SubmissionError(f"sweep grid makes {count} runs, more than {MAX_SWEEP}; split it")
        sets = [dict(zip(names, combo)) for combo in itertools.product(*grid.values())]
    else:
        sets = sweep["list"]
        if not isinstance(sets, list) or not sets or not all(isinstance(s, dict) for s in sets):
            raise SubmissionError('sweep list must be a non-empty list of objects; e.g. {"list": [{"x": 1}, {"x": 2}]}')
        if len(sets) > MAX_SWEEP:
            raise SubmissionError(f"sweep list has {len(sets)} runs, more than {MAX_SWEEP}; split it")
    return [{**base, **s} for s in sets]
