"""Generated passwords and the roster file the teacher hands out (CSV, mode 0600)."""

import csv
import io
import os
import secrets
from pathlib import Path

from vre_core.naming import BadName, check_name
from .errors import WorkshopError

# No look-alikes (0/O, 1/l/I): passwords are read off a printed sheet.
_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def generate_password(length: int = 14) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


#: What a shared password allows, said on stderr by `create` and atop the roster.
SHARED_PASSWORD_WARNING = (
    "shared password: any participant can log in as any other participant "
    "and read or change their work"
)


def assign_passwords(usernames: list[str], shared: bool = False) -> dict[str, str]:
    """A fresh password per user, or one shared workshop password for all of them."""
    if shared:
        password = generate_password()
        return {name: password for name in usernames}
    return {name: generate_password() for name in usernames}


def write_roster(path: Path, rows: list[tuple[str, str, str]], hub_url: str) -> Path:
    """Write ``(role, username, password)`` rows to ``path``, readable by its owner only.

    The file is created 0600 before any byte is written, so a password is never on disk
    with wider permissions, and replaced atomically. Participants sharing one password
    get SHARED_PASSWORD_WARNING as a ``#`` line above the CSV header.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    buffer = io.StringIO()
    participants = [password for role, _, password in rows if role == "participant"]
    if len(participants) > 1 and len(set(participants)) == 1:
        buffer.write(f"# WARNING: {SHARED_PASSWORD_WARNING}\n")
    writer = csv.writer(buffer)
    writer.writerow(["role", "username", "password", "login_url"])
    login_url = hub_url.rstrip("/") + "/hub/login"
    for role, username, password in rows:
        writer.writerow([role, username, password, login_url])
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", newline="") as f:
        f.write(buffer.getvalue())
    os.replace(tmp, path)
    return path


def read_roster(path: Path) -> list[dict]:
    """The rows of a roster file; a user name that breaks the rule (vre_core.naming) is refused."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    for row in rows:
        try:
            check_name(row.get("username"))
        except BadName as error:
            raise WorkshopError(f"{path}: {error}", "fix or remove that row") from None
    return rows
