"""Who is running, idle, starting, stopped or failed: the console's live table
(``service.live_table``) classifies, ``vre workshop status`` renders."""

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass
class MemberStatus:
    user: str
    state: str  # running | idle | starting | stopped | failed | missing
    last_activity: str | None = None
    detail: str = ""


def _age_seconds(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (now - moment).total_seconds()


def classify(user_model: dict | None, prewarm_result: str | None, idle_after: float, now: datetime) -> tuple[str, str]:
    """(state, detail) of one member from the hub's user model and the last prewarm."""
    if user_model is None:
        return "missing", "no hub account"
    server = (user_model.get("servers") or {}).get("")
    if server is None:
        if prewarm_result and prewarm_result != "ok":
            return "failed", prewarm_result
        return "stopped", ""
    if not server.get("ready"):
        return "starting", ""
    age = _age_seconds(server.get("last_activity") or user_model.get("last_activity"), now)
    if age is not None and age > idle_after:
        return "idle", f"no activity for {age / 60:.0f} min"
    return "running", ""


def render(name: str, teacher: str, members: list[MemberStatus]) -> str:
    counts = {}
    for m in members:
        counts[m.state] = counts.get(m.state, 0) + 1
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    lines = [f"workshop {name} (teacher {teacher}): {summary}"]
    width = max(len(m.user) for m in members) if members else 4
    for m in members:
        lines.append(f"  {m.user:<{width}}  {m.state:<8}  {m.last_activity or '-':<27}  {m.detail}".rstrip())
    return "\n".join(lines)
