"""``vre workshop prewarm``: start every participant's server before class, gently.

At most ``concurrency`` spawns are in flight and a new one begins at most ``rate`` times
per second, so thirty image starts do not all hit dockerd (and the hub) at the same moment.
"""

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from vre_core.hub import HubAPIError
from .context import Context
from .errors import WorkshopError
from .registry import Workshop


class RateLimiter:
    """Let callers through at most ``rate`` times per second (evenly spaced)."""

    def __init__(self, rate: float):
        if rate <= 0:
            raise WorkshopError(f"--rate must be positive (got {rate})", "give starts per second, e.g. 2")
        self.interval = 1.0 / rate
        self.lock = threading.Lock()
        self.next_slot = time.monotonic()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + self.interval
        time.sleep(max(0.0, slot - now))


@dataclass
class Outcome:
    user: str
    ok: bool
    seconds: float
    message: str = "ok"


def default_concurrency() -> int:
    """One spawn in flight per core (2 to 8): a JupyterLab start is mostly CPU-bound."""
    return min(8, max(2, os.cpu_count() or 2))


def prewarm(
    ctx: Context,
    workshop: Workshop,
    concurrency: int | None = None,
    rate: float = 2.0,
    timeout: float = 180,
    retries: int = 1,
) -> tuple[list[Outcome], float]:
    """Start all participants' servers; returns per-user outcomes and the wall time.

    Servers that failed (typically a start slower than the spawner's timeout on a busy
    host) are tried again ``retries`` times, one at a time, once the others are up.
    """
    concurrency = concurrency or default_concurrency()
    if concurrency < 1:
        raise WorkshopError(f"--concurrency must be at least 1 (got {concurrency})", "give e.g. 4")
    hub, limiter = ctx.hub, RateLimiter(rate)
    options = {"profile": workshop.profile} if workshop.profile else {}

    def start(user: str) -> Outcome:
        server = hub.server(user)
        if server and server.get("ready"):
            return Outcome(user, True, 0.0, "ok")  # already running: nothing to do, no rate slot used
        limiter.wait()
        began = time.monotonic()
        try:
            if server:  # a spawn is already pending: just wait for it
                hub.wait_server(user, ready=True, timeout=timeout)
            else:
                hub.start_server(user, options, wait=timeout)
            outcome = Outcome(user, True, time.monotonic() - began)
        except (HubAPIError, OSError) as error:
            outcome = Outcome(user, False, time.monotonic() - began, str(error))
        ctx.say(f"  {user}: {'ready' if outcome.ok else 'FAILED ' + outcome.message} ({outcome.seconds:.1f} s)")
        return outcome

    ctx.say(
        f"starting {len(workshop.participants)} servers of {workshop.name} "
        f"({concurrency} at a time, at most {rate:g} new per second)"
    )
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(start, workshop.participants))
    for attempt in range(retries):
        failed = [i for i, o in enumerate(outcomes) if not o.ok]
        if not failed:
            break
        ctx.say(f"trying {len(failed)} failed server(s) again, one at a time")
        for i in failed:
            outcomes[i] = start(outcomes[i].user)
    wall = time.monotonic() - began

    workshop.prewarm = {o.user: o.message for o in outcomes}
    ctx.registry.save(workshop)
    failed = [o for o in outcomes if not o.ok]
    ctx.say(f"{len(outcomes) - len(failed)} of {len(outcomes)} servers ready in {wall:.1f} s")
    return outcomes, wall
