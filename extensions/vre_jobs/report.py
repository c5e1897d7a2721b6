"""What a job wrote about itself (``status.json``), read as untrusted input.

The job's folder is in the user's home: the notebook (or the user, from their server) can
write anything there, including while the job runs. So ``status.json`` is parsed into a
fixed set of typed, bounded fields; unknown keys are dropped, control characters removed,
and any field of the wrong type makes the whole report *unreadable* (``unreadable`` says
why) instead of reaching the database, the API or a page.
"""

from __future__ import annotations

import json
import math
import re

#: Largest status.json read back; the runner's own is a few hundred bytes.
MAX_STATUS_BYTES = 256 * 1024
MAX_TEXT = 2000  # an error message, as shown in a listing
MAX_NAME = 200  # an exception class name, a timestamp
RUNNER_STATES = ("running", "completed", "failed")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n


def _text(limit: int):
    def check(value):
        if not isinstance(value, str):
            return None, "is not a string"
        return _CONTROL.sub("", value)[:limit], None

    return check


def _whole(low: int, high: int):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return None, f"is not a whole number between {low} and {high}"
        return value, None

    return check


def _seconds(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None, "is not a number of seconds"
    return float(value), None


def _state(value):
    if value not in RUNNER_STATES:
        return None, f"is not one of {', '.join(RUNNER_STATES)}"
    return value, None


#: The fields the runner (runjob.py) writes that the service uses, and how each is checked.
FIELDS = {
    "state": _state,
    "error": _text(MAX_TEXT),
    "error_name": _text(MAX_NAME),
    "error_cell": _whole(0, 1_000_000),
    "execution_count": _whole(0, 10_000_000),
    "execution_seconds": _seconds,
    "started": _text(MAX_NAME),
    "finished": _text(MAX_NAME),
}


def parse_status(content: bytes | None) -> dict:
    """The runner's report: typed known fields only; ``{}`` if there is none;
    ``{"unreadable": why}`` if the file is not what the runner writes."""
    if content is None:
        return {}
    if len(content) > MAX_STATUS_BYTES:
        return {"unreadable": f"status.json is larger than {MAX_STATUS_BYTES // 1024} KiB"}
    try:
        data = json.loads(content)
    except (ValueError, RecursionError):
        return {"unreadable": "status.json is not valid JSON"}
    if not isinstance(data, dict):
        return {"unreadable": "status.json is not a JSON object"}
    report = {}
    for name, check in FIELDS.items():
        if data.get(name) is None:
            continue
        value, problem = check(data[name])
        if problem:
            return {"unreadable": f"status.json field {name!r} {problem}"}
        report[name] = value
    return report


def bounded_text(value, limit: int = MAX_TEXT) -> str | None:
    """A string from outside (a log, a message) fit for the database and a listing."""
    if value is None:
        return None
    return _CONTROL.sub("", str(value))[:limit]
