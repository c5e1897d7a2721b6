"""Workshop records: one JSON file per workshop under ``<state dir>/workshops/<name>/``.

The record is what the hub config reads to build the teacher roles and the culler reads
to apply the workshop's idle timeout, so it is written atomically and never holds secrets
(passwords only go to the roster file next to it, mode 0600).
"""

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

from vre_core.naming import MAX_NAME_LENGTH
from .errors import WorkshopError

#: Workshop names become JupyterHub group names, user-name prefixes and Docker volume
#: names: allowed names (vre_core.naming) of letters, digits and single '-', starting with a
#: letter, short enough that "<name>-teacher" is still an allowed user name.
MAX_WORKSHOP_NAME_LENGTH = MAX_NAME_LENGTH - len("-teacher")
NAME_PATTERN = re.compile(rf"\A(?=.{{3,{MAX_WORKSHOP_NAME_LENGTH}}}\Z)[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z")

#: Idle timeout during class when the operator gives none: a long lunch break.
DEFAULT_CLASS_IDLE_TIMEOUT = 3 * 3600


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name or ""):
        raise WorkshopError(
            f"invalid workshop name {name!r}",
            f"use 3-{MAX_WORKSHOP_NAME_LENGTH} lowercase letters, digits or single '-', starting with a letter (e.g. neo-2026)",
        )
    return name


def parse_date(text: str | None) -> str | None:
    """An ISO date (YYYY-MM-DD) kept as text, or None."""
    if not text:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise WorkshopError(f"invalid date {text!r}", "give it as YYYY-MM-DD, e.g. 2026-12-31") from None


def parse_datetime(text: str | None) -> str | None:
    """An ISO date-time kept as UTC text, or None; a naive time is taken as UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise WorkshopError(
            f"invalid date-time {text!r}", "give it as YYYY-MM-DDTHH:MM (UTC), e.g. 2026-12-01T09:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


@dataclass
class Workshop:
    name: str
    teacher: str
    participants: list[str]
    profile: str | None = None
    expires: str | None = None  # YYYY-MM-DD: accounts are removed by `end` from this day on
    shared_password: bool = False
    notebooks: str | None = None  # local path or git URL, as given
    class_start: str | None = None  # UTC ISO; no start = from creation
    class_end: str | None = None  # UTC ISO; no end = until the workshop ends
    class_idle_timeout: int = DEFAULT_CLASS_IDLE_TIMEOUT  # seconds
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat())
    teacher_created: bool = False  # the teacher account was made by `create` (removed by `end`)
    ended: str | None = None
    prewarm: dict = field(default_factory=dict)  # user -> last start outcome ("ok" or error text)

    @property
    def group(self) -> str:
        """The JupyterHub group holding the participants."""
        return self.name

    @property
    def teacher_role(self) -> str:
        return f"workshop-{self.name}-teacher"

    def expired(self, today: date | None = None) -> bool:
        if not self.expires:
            return False
        return (today or date.today()) >= date.fromisoformat(self.expires)

    def in_class(self, now: datetime | None = None) -> bool:
        """Whether the long class idle timeout applies at ``now``."""
        if self.ended:
            return False
        now = now or datetime.now(timezone.utc)
        if self.class_start and now < datetime.fromisoformat(self.class_start):
            return False
        if self.class_end and now >= datetime.fromisoformat(self.class_end):
            return False
        return True

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> "Workshop":
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


class Registry:
    """The workshops recorded in one state directory."""

    def __init__(self, state_dir: Path | str):
        self.root = Path(state_dir) / "workshops"

    def folder(self, name: str) -> Path:
        return self.root / name

    def record_file(self, name: str) -> Path:
        return self.folder(name) / "workshop.json"

    def roster_file(self, name: str) -> Path:
        return self.folder(name) / "roster.csv"

    def exists(self, name: str) -> bool:
        return self.record_file(name).exists()

    def load(self, name: str) -> Workshop:
        path = self.record_file(name)
        if not path.exists():
            raise WorkshopError(f"no workshop called {name!r}", "list them with `vre workshop list`")
        return Workshop.from_dict(json.loads(path.read_text()))

    def all(self) -> list[Workshop]:
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob("*/workshop.json")):
            try:
                found.append(Workshop.from_dict(json.loads(path.read_text())))
            except (OSError, ValueError, TypeError):
                continue  # a half-written or foreign file must not break the hub config
        return found

    def save(self, workshop: Workshop) -> Path:
        folder = self.folder(workshop.name)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.record_file(workshop.name)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(workshop.to_json())
        os.replace(tmp, path)  # readers (hub config, culler) never see half a record
        return path

    def forget(self, name: str) -> None:
        """Remove the record (keeps the folder: roster and archives stay)."""
        self.record_file(name).unlink(missing_ok=True)
