"""The console's live table, answered from a snapshot that the service refreshes in the background.

A teacher's page asks for the table every few seconds, for a class of 30 or more. Asking the
hub, Docker and every server at each request made one refresh cost seconds (up to four
calls per participant). Instead, while anyone watches a workshop, the service takes a
snapshot every :attr:`LiveTable.interval` seconds:

* one bulk ``GET /hub/api/users`` (with the servers' state) for everyone;
* for participants with a ready server only: the notebooks open and kernels busy (their
  server's ``/api/sessions``) and whether they logged in (a token issued to a browser session,
  i.e. their JupyterLab's OAuth login; a stopped participant keeps the answer from when their
  server ran), at most :attr:`LiveTable.concurrency` at a time; meanwhile the memory their
  container uses (Docker's one-shot stats, no streaming), all asked together
  (:attr:`LiveTable.stats_concurrency`): Docker answers each at its next one-second sample.

A request then reads the snapshot (no I/O) and says how old it is. It waits for a new
snapshot only for a workshop nobody watched yet, or after a change made through the console
itself (prewarm, end), so what the teacher just did shows at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from traitlets import Float, Integer
from traitlets.config import Configurable
from vre_core.naming import container_name

from . import status

log = logging.getLogger("vre_workshop.live")


@dataclass
class Snapshot:
    started: float = 0.0  # time.time() when it began: everything in it is at least this recent
    finished: float = 0.0
    users: dict[str, dict] = field(default_factory=dict)  # name -> hub user model (every user)
    servers: dict[str, dict] = field(default_factory=dict)  # watched name -> memory, notebooks, kernel, logged_in
    watched: frozenset = frozenset()  # the participants it looked at

    def covers(self, participants) -> bool:
        return self.started > 0 and set(participants) <= self.watched


class LiveTable(Configurable):
    """The snapshot of watched workshops' participants, kept fresh by :meth:`run`."""

    interval = Float(3.0, help="Seconds between two snapshots while someone watches a workshop's table.").tag(config=True)
    concurrency = Integer(
        4, help="Participants' servers looked at in parallel (their /api/sessions and hub tokens) in one snapshot: "
        "the hub answers one request at a time, so more would only queue there, before teachers' requests.",
    ).tag(config=True)
    watch_seconds = Float(
        60.0, help="A workshop stays in the snapshots this long after its table was last asked for."
    ).tag(config=True)
    stats_concurrency = Integer(
        32, help="Docker stats asked at the same time. Each waits for the daemon's next sample (up to 1 s), "
        "so asking them together costs one wait, not one per server.",
    ).tag(config=True)
    sessions_timeout = Float(2.0, help="Seconds to wait for one participant's server to list its sessions.").tag(config=True)
    wait_timeout = Float(
        60.0, help="Longest a request waits for a new snapshot (first look at a workshop, or after a change)."
    ).tag(config=True)

    def __init__(self, hub, docker, **kwargs):
        super().__init__(**kwargs)
        self.hub, self.docker = hub, docker  # HubClient with the service's token; docker.DockerClient
        self.snapshot = Snapshot()
        self.changed = 0.0  # time.time() of the latest change made through the console
        self._watched: dict[str, tuple[tuple[str, ...], float]] = {}  # workshop -> (participants, last asked)
        self._wake = asyncio.Event()
        self._taken = asyncio.Event()  # set (then cleared) each time a snapshot is done
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="live-table")
        self._stats_pool = ThreadPoolExecutor(max_workers=self.stats_concurrency, thread_name_prefix="live-stats")

    # -- requests ----------------------------------------------------------------

    def changed_now(self) -> None:
        """Something changed through the console (servers started or stopped): the next
        request waits for a snapshot begun after now."""
        self.changed = time.time()
        self._wake.set()

    async def table(self, workshop, idle_minutes: float = 15) -> tuple[list[dict], Snapshot]:
        """The rows of ``workshop`` from the snapshot (a fresh one if this workshop was not in
        it, or the console changed something since it began), and that snapshot."""
        self._watched[workshop.name] = (tuple(workshop.participants), time.time())
        deadline = time.monotonic() + self.wait_timeout
        while not (self.snapshot.covers(workshop.participants) and self.snapshot.started >= self.changed):
            if time.monotonic() > deadline:
                break  # the hub or Docker is stuck: answer with what there is, its age says how old
            self._wake.set()
            try:
                await asyncio.wait_for(self._taken.wait(), timeout=max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass
        return rows(self.snapshot, workshop, idle_minutes), self.snapshot

    def recent_user(self, name: str, max_age: float) -> dict | None:
        """``name``'s hub model from the snapshot if it began at most ``max_age`` seconds ago."""
        if time.time() - self.snapshot.started > max_age:
            return None
        return self.snapshot.users.get(name)

    # -- the background loop -----------------------------------------------------

    def watched_participants(self) -> set[str]:
        now = time.time()
        for name, (_, asked) in list(self._watched.items()):
            if now - asked > self.watch_seconds:
                del self._watched[name]
        return {user for participants, _ in self._watched.values() for user in participants}

    async def run(self) -> None:
        """Take a snapshot every :attr:`interval` seconds while a workshop is watched (at once
        when a request asks for one); until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            names = self.watched_participants()
            if self._watched:
                try:
                    self.snapshot = await loop.run_in_executor(None, self.take, names, self.snapshot)
                except Exception:  # the hub restarting, Docker busy...: the next round tries again
                    log.exception("live table: snapshot failed")
                self._taken.set()
                self._taken.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            except asyncio.TimeoutError:
                pass

    def take(self, names: set[str], previous: Snapshot) -> Snapshot:
        """A new snapshot of ``names`` (blocking: run in a thread)."""
        started = time.time()
        users = {model["name"]: model for model in self.hub.users()}

        def ready(user: str) -> bool:
            server = ((users.get(user) or {}).get("servers") or {}).get("")
            return bool(server and server.get("ready"))

        running = [user for user in sorted(names) if ready(user)]
        memory = {user: self._stats_pool.submit(self.memory_of, user) for user in running}
        looked = dict(zip(running, self._pool.map(self.look_at, running)))
        servers = {user: {**looked[user], **memory[user].result()} for user in running}
        for user in names - set(running):
            servers[user] = {"logged_in": previous.servers.get(user, {}).get("logged_in", False)}
        return Snapshot(started, time.time(), users, servers, frozenset(names))

    def memory_of(self, user: str) -> dict:
        """The memory ``user``'s container uses, from one Docker sample (one_shot: not waiting
        for a second sample, which only CPU figures need)."""
        try:
            stats = self.docker.api.stats(container_name(user), stream=False, one_shot=True)
            return {"memory_mib": round(stats["memory_stats"]["usage"] / 2**20)}
        except Exception:  # the table shows what it can; a container going away is normal here
            return {}

    def look_at(self, user: str) -> dict:
        """What one participant's running server shows: open notebooks, kernel, logged in."""
        found = {}
        # Logged in: holds a token issued to a browser session (OAuth, e.g. their JupyterLab);
        # prewarm and API tokens carry no session.
        tokens = (self.hub.found(f"{self.hub.user_path(user)}/tokens") or {}).get("api_tokens", [])
        found["logged_in"] = any(t.get("session_id") for t in tokens)
        try:
            response = self.hub.session.get(
                f"{self.hub.url}/user/{quote(user)}/api/sessions", timeout=self.sessions_timeout
            )
        except Exception:  # a server stopping or busy: no sessions this round
            return found
        if response.status_code == 200:
            sessions = [s for s in response.json() if s.get("type") == "notebook"]
            found["notebooks"] = [s.get("path", "") for s in sessions]
            states = {(s.get("kernel") or {}).get("execution_state") for s in sessions}
            found["kernel"] = "busy" if "busy" in states else ("idle" if sessions else "")
        return found


def rows(snapshot: Snapshot, workshop, idle_minutes: float) -> list[dict]:
    """One row per participant: the hub's view (classified as ``vre workshop status`` does) and,
    for running servers, memory, open notebooks and kernel state."""
    now = datetime.now(timezone.utc)
    table = []
    for user in workshop.participants:
        model = snapshot.users.get(user)
        state, detail = status.classify(model, workshop.prewarm.get(user), idle_minutes * 60, now)
        extra = snapshot.servers.get(user, {})
        row = {"user": user, "state": state, "last_activity": (model or {}).get("last_activity"),
               "detail": detail, "logged_in": extra.get("logged_in", False)}
        if state in ("running", "idle"):
            row.update({key: extra[key] for key in ("memory_mib", "notebooks", "kernel") if key in extra})
        table.append(row)
    return table


def freshness(snapshot: Snapshot) -> dict:
    """When the snapshot was taken and its age, for the page to show."""
    return {
        "taken": datetime.fromtimestamp(snapshot.started, timezone.utc).isoformat(timespec="seconds") if snapshot.started else None,
        "age_seconds": round(time.time() - snapshot.started, 2) if snapshot.started else None,
        "took_seconds": round(snapshot.finished - snapshot.started, 2) if snapshot.started else None,
    }
