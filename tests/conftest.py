"""Shared fixtures: a real Docker engine, the real user image, a real JupyterHub.

The hub is started exactly as ``vre up`` starts it (vre_hub.launcher), with a temporary
state folder and free loopback ports, so several test sessions can run side by side.
In CI (``CI=true``) a missing engine fails the run instead of skipping it.
"""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from vre_hub import accounts, engine, images
from vre_hub.client import HubClient
from vre_hub.state import StateDir
from vre_testing import RunningHub, need, start_hub

OUTPUT_DIR = Path(__file__).parent / "output"


def pytest_configure(config):
    config.addinivalue_line("markers", "engine_restart: stops and starts dockerd; runs after every other test")


def pytest_collection_modifyitems(items):
    # Restarting the Docker engine stops every container of the run: those tests go last.
    items.sort(key=lambda item: item.get_closest_marker("engine_restart") is not None)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR


@pytest.fixture(scope="session")
def docker_engine() -> str:
    try:
        return engine.ensure_docker_engine(log=lambda m: print(f"[docker] {m}"))
    except engine.EngineError as error:
        need(False, f"no Docker engine: {error}")


@pytest.fixture(scope="session")
def user_image(docker_engine) -> str:
    """The user image tag, built if missing or stale (same code as `vre images build`).

    VRE_TEST_IMAGE=<tag> uses that image as it is (quick local iterations only).
    """
    if os.environ.get("VRE_TEST_IMAGE"):
        return os.environ["VRE_TEST_IMAGE"]
    return images.build_user_image(log=lambda m: print(f"[image] {m}"))


@pytest.fixture(scope="session")
def proxy_command() -> str:
    return engine.ensure_proxy(log=lambda m: print(f"[proxy] {m}"))


@dataclass(kw_only=True)
class Hub(RunningHub):
    """A running hub for tests: its URL, admin client and the users a test made."""

    prefix: str

    @property
    def state_dir(self) -> Path:
        return self.process.state.path

    @property
    def network(self) -> str:
        """The users' Docker network ("host" in the unsafe host-network mode)."""
        return self.process.env["VRE_NETWORK"]

    @property
    def admin_token(self) -> str:
        return self.process.state.admin_token

    def api(self, method: str, path: str, token: str | None = None, **kwargs):
        """A raw REST call (``path`` below /hub/api); never raises on HTTP errors."""
        if token is None:
            return self.client.request(method, path, check=False, **kwargs)
        return HubClient(self.url, token).request(method, path, check=False, **kwargs)

    def new_user(self, name: str | None = None, password: str | None = None, admin: bool = False):
        """Create a user (unique name unless given) with a password; return (name, api token)."""
        name = accounts.normalize_username(name or f"{self.prefix}-{secrets.token_hex(3)}")
        name = self.client.ensure_user(name, admin=admin)["name"]  # as the hub normalized it
        accounts.set_password(name, password or secrets.token_urlsafe(12), self.process.state.db_url)
        self.users.append(name)
        return name, self.client.token_for(name, note="tests")


@pytest.fixture(scope="session")
def hub(tmp_path_factory, user_image, proxy_command):
    """A hub on its own users' network, made by the run (its firewall rules with it) and
    removed at teardown, so that concurrent test sessions never share one.
    VRE_NETWORK=host runs it in the unsafe host-network mode (to watch the security tests fail)."""
    state = StateDir(tmp_path_factory.mktemp("hub-state"))
    # A small profile, so that tests can exceed a memory limit quickly, and one too small
    # for the server itself to start.
    (state.path / "jupyterhub_config.d").mkdir()
    (state.path / "jupyterhub_config.d" / "tests.py").write_text(
        "from vre_hub.spawner import DEFAULT_PROFILES\n"
        "c.VRESpawner.profiles = DEFAULT_PROFILES + [\n"
        "    {'name': 'tiny', 'display_name': 'Tiny (tests)', 'mem_limit': '400M', 'cpu_limit': 0.5},\n"
        "    {'name': 'starved', 'display_name': 'Starved (tests)', 'mem_limit': '32M', 'cpu_limit': 0.5}]\n"
    )
    process = start_hub(
        state, {"VRE_PROXY_COMMAND": proxy_command, "VRE_USER_IMAGE": user_image, "VRE_CULL_TIMEOUT": "86400"}
    )
    hub = Hub(process, HubClient(process.url, state.admin_token), prefix=f"t{secrets.token_hex(2)}")
    try:
        yield hub
    finally:
        hub.stop()
