"""The hub's state directory (database, generated secrets, logs, pid files) and the hub's
configuration file, read by the hub and by the tools that work beside it.

Everything secret is generated here on first use with mode 0600 and never leaves it.
Location: ``$VRE_STATE_DIR``, else ``<repository>/.vre``.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from .errors import VREError
from .naming import HUB_PORT

REPO_ROOT = Path(__file__).resolve().parents[2]
#: The hub's configuration (``jupyterhub -f``), read top to bottom.
CONFIG_FILE = REPO_ROOT / "hub" / "jupyterhub_config.py"


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
        return os.environ.get("VRE_HUB_URL", f"http://127.0.0.1:{HUB_PORT}")


# Reads the configuration as JupyterHub does (the file, then jupyterhub_config.d/), in a
# child process: the file reads VRE_* variables and must not change this process's (nor
# load the hub's code into it: the workshop tools call this). Unset profiles are the
# configured spawner class's default.
_PROFILES_PROBE = """
import json, sys
from traitlets.config import PyFileConfigLoader
from traitlets.utils.importstring import import_item
config = PyFileConfigLoader(sys.argv[1]).load_config()
spawner = config.JupyterHub.spawner_class
spawner = import_item(spawner) if isinstance(spawner, str) else spawner
section = config[spawner.__name__]
profiles = section.profiles if "profiles" in section else spawner.class_traits()["profiles"].default()
print(json.dumps([profile["name"] for profile in profiles]))
"""


def offered_profiles(state: StateDir, config_file: Path = CONFIG_FILE) -> list[str]:
    """Names of the spawn profiles a hub run from ``state`` offers."""
    result = subprocess.run(
        [sys.executable, "-c", _PROFILES_PROBE, str(config_file)],
        # The hub API's address is not needed here, so the users' network need not exist yet.
        env={**os.environ, "VRE_STATE_DIR": str(state.path), "VRE_HUB_API_IP": "127.0.0.1"},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise VREError(f"cannot read the profiles of {config_file}: {last}", "fix the hub configuration")
    return json.loads(result.stdout)
