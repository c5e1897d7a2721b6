"""The hub's state directory: database, generated secrets, logs, pid files.

Everything secret is generated here on first use with mode 0600 and never leaves it.
Location: ``$VRE_STATE_DIR``, else ``<repository>/.vre``.
"""

import os
import secrets
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_state_dir() -> Path:
    return Path(os.environ.get("VRE_STATE_DIR") or REPO_ROOT / ".vre").resolve()


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Return the secret stored at ``path``, generating it (hex, mode 0600) if absent."""
    path = Path(path)
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"{path} is readable by others (mode {mode:o}); fix: chmod 600 {path}")
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(nbytes)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


class StateDir:
    """Paths and secrets of one hub deployment."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path).resolve() if path else default_state_dir()

    def ensure(self) -> "StateDir":
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)
        self.logs.mkdir(exist_ok=True)
        return self

    @property
    def db_file(self) -> Path:
        return self.path / "jupyterhub.sqlite"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_file}"

    @property
    def cookie_secret_file(self) -> Path:
        return self.path / "jupyterhub_cookie_secret"

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def pid_file(self) -> Path:
        return self.path / "jupyterhub.pid"

    @property
    def url_file(self) -> Path:
        return self.path / "hub_url"

    def secret(self, name: str) -> str:
        """A named generated secret (``admin_token``, ``proxy_token``, ``admin_password``...)."""
        return read_or_create_secret(self.path / name)

    @property
    def admin_token(self) -> str:
        """API token of the ``vre-admin`` service, used by the CLI to drive the hub."""
        return self.secret("admin_token")

    @property
    def hub_url(self) -> str:
        """Public URL of the running hub (written by ``vre up``)."""
        if self.url_file.exists():
            return self.url_file.read_text().strip()
        return os.environ.get("VRE_HUB_URL", "http://127.0.0.1:8000")
