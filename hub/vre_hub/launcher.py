"""Run the hub as a background process: start, wait until it answers, stop.

Used by ``vre up``/``vre down`` and by the integration tests, so that tests exercise the
same start-up path as operators. The hub starts its own configurable-http-proxy.
"""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from . import network
from .state import REPO_ROOT, StateDir

CONFIG_FILE = REPO_ROOT / "hub" / "jupyterhub_config.py"


# Reads the configuration as JupyterHub does (the file, then jupyterhub_config.d/), in a
# child process: the file reads VRE_* variables and must not change this process's.
_PROFILES_PROBE = """
import json, sys
from traitlets.config import PyFileConfigLoader
from vre_hub.spawner import DEFAULT_PROFILES
config = PyFileConfigLoader(sys.argv[1]).load_config()
profiles = config.VRESpawner.profiles if "profiles" in config.VRESpawner else DEFAULT_PROFILES
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
        raise HubError(f"cannot read the profiles of {config_file}: {last}")
    return json.loads(result.stdout)


class HubError(RuntimeError):
    """The hub did not start or stop; the message says why and where to look."""


@dataclass
class HubProcess:
    """A JupyterHub started from ``hub/jupyterhub_config.py`` with a given state folder."""

    state: StateDir
    port: int = 8000
    api_port: int = 8081
    proxy_api_port: int = 8001
    jobs_port: int = field(default_factory=lambda: int(os.environ.get("VRE_JOBS_PORT") or network.JOBS_PORT))
    ip: str = "127.0.0.1"
    env: dict = field(default_factory=dict)
    config_file: Path = CONFIG_FILE

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.state.logs / "jupyterhub.log"

    def environment(self) -> dict:
        env = dict(os.environ)
        env.update(
            VRE_STATE_DIR=str(self.state.path),
            VRE_HUB_IP=self.ip,
            VRE_HUB_PORT=str(self.port),
            VRE_HUB_API_PORT=str(self.api_port),
            VRE_PROXY_API_PORT=str(self.proxy_api_port),
            VRE_JOBS_PORT=str(self.jobs_port),
        )
        env.update(self.env)
        # Hub-managed services run with the hub's interpreter.
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        return env

    def pid(self) -> int | None:
        try:
            pid = int(self.state.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None

    def start(self, timeout: float = 90, log=lambda message: None) -> "HubProcess":
        if self.pid():
            raise HubError(f"a hub is already running from {self.state.path} (pid {self.pid()}); run `vre down` first")
        self.state.ensure()
        env = self.environment()
        # The users' network and its firewall before the hub, whose config listens on its gateway.
        if network.network_name(env) != network.HOST:
            ports = [int(env["VRE_HUB_API_PORT"]), int(env["VRE_JOBS_PORT"])]
            network.setup(network.network_name(env), ports, internal=network.internal_wanted(env), log=log)
        with open(self.log_file, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(self.config_file)],
                cwd=self.state.path,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.wait_ready(timeout)
        self.state.url_file.write_text(self.url + "\n")
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if getattr(self, "process", None) is not None and self.process.poll() is not None:
                raise HubError(f"the hub exited with code {self.process.returncode}; {self._log_tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise HubError(f"the hub did not answer at {self.url} within {timeout:.0f} s; {self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "no log"
        errors = [line for line in lines if "[E " in line or "Error" in line]
        return f"last error: {(errors or lines or ['(empty log)'])[-1][:300]} (log: {self.log_file})"

    def stop(self, timeout: float = 30) -> bool:
        """Stop the hub (which stops its proxy); True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            if getattr(self, "process", None) is not None:
                self.process.poll()
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self.state.pid_file.unlink(missing_ok=True)
        return True
