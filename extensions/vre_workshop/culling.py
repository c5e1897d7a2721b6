"""Per-workshop idle culling: a ``cull_arbiter_hook`` for jupyterhub-idle-culler.

The hub runs one culler with the everyday timeout. During a workshop's class window its
participants' (and teacher's) servers get the workshop's longer timeout instead, so a
lunch break does not stop everyone's kernels. The culler loads this module through
``--config=<idle_culler_config.py>`` (see :mod:`vre_workshop.hubconfig`).
"""

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .registry import Registry, Workshop


class WorkshopTimeouts:
    """Idle limit per user from the workshop records, re-read when they change."""

    def __init__(self, state_dir: Path | str):
        self.registry = Registry(state_dir)
        self._stamp = None
        self._workshops: list[Workshop] = []

    def _refresh(self):
        files = sorted(self.registry.root.glob("*/workshop.json")) if self.registry.root.is_dir() else []
        stamp = tuple((str(f), f.stat().st_mtime_ns) for f in files if f.exists())
        if stamp != self._stamp:
            self._workshops = self.registry.all()
            self._stamp = stamp

    def limit_for(self, username: str, default: float, now: datetime | None = None) -> float:
        """Seconds of inactivity allowed for ``username``: the longest that applies."""
        self._refresh()
        limit = default
        for workshop in self._workshops:
            members = set(workshop.participants) | {workshop.teacher}
            if username in members and workshop.in_class(now):
                limit = max(limit, workshop.class_idle_timeout)
        return limit


_timeouts: WorkshopTimeouts | None = None


def cull_arbiter(inactive: timedelta, inactive_limit: int, server: dict) -> bool:
    """``IdleCuller.cull_arbiter_hook``: cull when idle longer than the user's limit."""
    global _timeouts
    if _timeouts is None:
        from vre_core.state import default_state_dir

        _timeouts = WorkshopTimeouts(os.environ.get("VRE_STATE_DIR") or default_state_dir())
    username = (server.get("full_name") or "").split("/", 1)[0]
    limit = _timeouts.limit_for(username, inactive_limit, datetime.now(timezone.utc))
    return inactive.total_seconds() >= limit
