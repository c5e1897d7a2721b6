"""Cron expressions of schedules, evaluated in UTC with croniter.

Five fields (minute hour day month weekday) as in crontab; a sixth field for seconds
is accepted too (``* * * * * */10``), which is what the tests use to fire quickly.
"""

from __future__ import annotations

import datetime as dt

from croniter import croniter

from .parameters import SubmissionError


def check_cron(expr: str) -> str:
    expr = expr.strip() if isinstance(expr, str) else repr(expr)
    fields = expr.split()
    if len(expr) > 200 or len(fields) not in (5, 6) or not croniter.is_valid(expr):
        raise SubmissionError(
            f"invalid cron expression {expr[:80]!r}; use 5 fields 'minute hour day month weekday', e.g. '0 6 * * *'"
        )
    return expr


def next_runs(expr: str, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
    """The next ``count`` firing times strictly after ``after`` (naive UTC)."""
    it = croniter(expr, after)
    return [it.get_next(dt.datetime) for _ in range(count)]
