"""Make sure the machine has what the hub needs: a Docker engine and the HTTP proxy.

A running engine is used as it is. Only when none answers, and only as root on Debian,
``docker.io`` is installed from the Debian archive and ``dockerd`` started, and we say so:
a machine that already has Docker is never changed silently.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

from vre_core.state import REPO_ROOT

DOCKER_SOCKET = Path("/var/run/docker.sock")
DOCKERD_LOG = Path("/var/log/vre/dockerd.log")
PROXY_PACKAGE = "configurable-http-proxy@5.3.0"
PROXY_PREFIX = REPO_ROOT / "build" / "proxy"


class EngineError(RuntimeError):
    """The machine lacks something we cannot install; the message says what to do."""


def engine_answers() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


def _is_root_on_debian() -> bool:
    return os.geteuid() == 0 and Path("/etc/debian_version").exists()


def _apt_install(*packages: str, log=print) -> None:
    log(f"installing {' '.join(packages)} from the Debian archive (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True, env=env)
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", *packages], capture_output=True, text=True, env=env
    )
    if result.returncode != 0:
        raise EngineError(f"apt-get install {' '.join(packages)} failed: {result.stderr.strip()[-300:]}")


def ensure_debian_package(package: str, log=print) -> None:
    """Install ``package`` from the Debian archive when we may (root on Debian), else say how."""
    if not _is_root_on_debian():
        raise EngineError(f"{package} is missing; install it (Debian: apt-get install {package})")
    _apt_install(package, log=log)


def ensure_docker_engine(log=print, wait_seconds: float = 60) -> str:
    """Return a one-line description of the engine in use, installing/starting it if needed."""
    if engine_answers():
        version = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True
        ).stdout.strip()
        return f"using the running Docker engine {version}"
    if not _is_root_on_debian():
        raise EngineError(
            "no Docker engine answers at /var/run/docker.sock; start Docker "
            "(or run `vre up` as root on Debian to let it install docker.io)"
        )
    if not shutil.which("dockerd"):
        _apt_install("docker.io", log=log)
    log(f"starting dockerd in the background (log: {DOCKERD_LOG})")
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(DOCKERD_LOG, "ab") as out:
        subprocess.Popen(
            ["dockerd"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if engine_answers():
            return "started dockerd"
        time.sleep(1)
    raise EngineError(f"dockerd did not answer within {wait_seconds:.0f} s; see {DOCKERD_LOG}")


def ensure_proxy(log=print) -> str:
    """Path of configurable-http-proxy, installed with npm into build/proxy if absent."""
    found = shutil.which("configurable-http-proxy")
    if found:
        return found
    local = PROXY_PREFIX / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return str(local)
    if not shutil.which("npm"):
        raise EngineError("npm not found; install Node.js >= 20 and npm, then run again")
    log(f"installing {PROXY_PACKAGE} with npm into {PROXY_PREFIX}")
    PROXY_PREFIX.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(PROXY_PREFIX), PROXY_PACKAGE],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not local.exists():
        raise EngineError(f"npm install {PROXY_PACKAGE} failed: {result.stderr.strip()[-300:]}")
    return str(local)
