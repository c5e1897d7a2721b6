"""Run the hub as a background process: start, wait until it answers, stop.

Used by ``vre up``/``vre down`` and by the integration tests, so that tests exercise the
same start-up path as operators. The hub starts its own configurable-http-proxy.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from vre_core.hub import APIError, ServiceClient
from vre_core.naming import GATEWAY_PORT, GATEWAY_TCP_PORT, HUB_API_PORT, HUB_PORT, JOBS_PORT, PROXY_API_PORT
from vre_core.state import CONFIG_FILE, StateDir, offered_profiles  # noqa: F401 (offered_profiles: used by callers)

from . import network


#: Put before each hub-managed service's command: the service gets SIGTERM when the hub that
#: started it dies (killed, crashed), so that no old service holds its port against the next
#: start. JupyterHub ends a previous run's proxy by itself (its pid file), not its services.
DIE_WITH_HUB = ["setpriv", "--pdeathsig", "TERM", "--"]


def die_with_hub(services: list[dict]) -> None:
    """Make the managed ones of ``services`` (``c.JupyterHub.services``) end with their hub."""
    if not shutil.which(DIE_WITH_HUB[0]):  # util-linux, on every Debian
        return
    for service in services:
        command = service.get("command")
        if command and command[: len(DIE_WITH_HUB)] != DIE_WITH_HUB:
            service["command"] = [*DIE_WITH_HUB, *command]


class HubError(RuntimeError):
    """The hub did not start or stop; the message says why and where to look."""


@dataclass
class HubProcess:
    """A JupyterHub started from ``hub/jupyterhub_config.py`` with a given state folder."""

    state: StateDir
    port: int = HUB_PORT
    api_port: int = HUB_API_PORT
    proxy_api_port: int = PROXY_API_PORT
    jobs_port: int = field(default_factory=lambda: int(os.environ.get("VRE_JOBS_PORT") or JOBS_PORT))
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
        env.setdefault("VRE_GATEWAY_PORT", str(GATEWAY_PORT))
        env.setdefault("VRE_GATEWAY_TCP_PORT", str(GATEWAY_TCP_PORT))
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
            if env.get("VRE_GATEWAY_BACKEND"):  # the Dask Gateway, for servers and its schedulers
                ports += [int(env["VRE_GATEWAY_PORT"]), int(env["VRE_GATEWAY_TCP_PORT"])]
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
        def alive():
            if getattr(self, "process", None) is not None and self.process.poll() is not None:
                raise HubError(f"the hub exited with code {self.process.returncode}; {self._log_tail()}")

        try:
            ServiceClient(self.url).wait_up("/hub/api/", timeout=timeout, alive=alive)
        except APIError:
            raise HubError(f"the hub did not answer at {self.url} within {timeout:.0f} s; {self._log_tail()}") from None

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
