"""A hub of our own for the workshop tests: they restart it (teacher roles load at start).

Started like the shared ``hub`` fixture (vre_hub.launcher, project config, temporary state
folder, free loopback ports); everything a test makes carries the prefix ``ws<hex>`` so the
clean-up removes our containers and volumes only.
"""

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from vre_hub import images
from vre_hub.client import HubClient
from vre_hub.launcher import HubProcess
from vre_hub.naming import escape_name
from vre_hub.state import StateDir
from vre_workshop import cli
from vre_testing import free_port, own_network, remove_network


@dataclass
class WorkshopHub:
    process: HubProcess
    image: str
    prefix: str

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def state_dir(self) -> Path:
        return self.process.state.path

    @property
    def client(self) -> HubClient:
        return HubClient(self.url, self.process.state.admin_token)

    def vre(self, *argv: str) -> int:
        """Run ``vre workshop ...`` against this hub, in-process."""
        return cli.main(["--state-dir", str(self.state_dir), "--url", self.url, "--image", self.image, *argv])

    def restart(self) -> None:
        self.process.stop()
        self.process.start()

    def api(self, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
        return HubClient(self.url, token or self.process.state.admin_token).request(method, path, check=False, **kw)

    def server_get(self, user: str, path: str, token: str) -> requests.Response:
        """A request to ``user``'s single-user server through the proxy, with ``token``."""
        return requests.get(
            f"{self.url}/user/{user}/{path}", headers={"Authorization": f"token {token}"}, timeout=30, allow_redirects=False
        )

    def names(self, kind: str) -> list[str]:
        """Our Docker containers or volumes (by name prefix)."""
        escaped = escape_name(self.prefix)
        if kind == "container":
            prefixes = (f"vre-user-{escaped}",)
            command = ["docker", "ps", "-a", "--format", "{{.Names}}"]
        else:
            prefixes = (f"vre-home-{escaped}", f"vre-work-{escaped}")
            command = ["docker", "volume", "ls", "-q"]
        out = subprocess.run(command, capture_output=True, text=True).stdout.split()
        return [n for n in out if n.startswith(prefixes)]


@pytest.fixture(scope="session")
def user_image(docker_engine) -> str:
    """The user image; an existing one is used even if the sources changed since it was built.

    The workshop code under test runs on the host; the image only has to serve JupyterLab,
    so these tests do not wait for a rebuild each time a package file changes.
    """
    tag = images.user_image_tag()
    if images.image_exists(tag):
        return tag
    return images.build_user_image(log=lambda m: print(f"[image] {m}"))


@pytest.fixture(scope="module")
def ws_hub(tmp_path_factory, user_image, proxy_command):
    state = StateDir(tmp_path_factory.mktemp("workshop-state"))
    extra = os.environ.get("VRE_TEST_HUB_EXTRA_CONFIG")  # e.g. a local debugging override
    if extra:
        (state.path / "jupyterhub_config.d").mkdir(parents=True, exist_ok=True)
        shutil.copy(extra, state.path / "jupyterhub_config.d" / "99-test-extra.py")
    process = HubProcess(
        state,
        port=free_port(),
        api_port=free_port(),
        proxy_api_port=free_port(),
        env={"VRE_PROXY_COMMAND": proxy_command, "VRE_USER_IMAGE": user_image, "VRE_CULL_TIMEOUT": "86400",
             **own_network()},
    )
    process.start()
    hub = WorkshopHub(process, user_image, prefix=f"ws{secrets.token_hex(2)}")
    try:
        yield hub
    finally:
        try:
            for user in hub.client.get("/users"):
                if user["name"].startswith(hub.prefix) and user.get("servers"):
                    hub.client.stop_server(user["name"], wait=30)
        except Exception:
            pass
        process.stop()
        for name in hub.names("container"):
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        for name in hub.names("volume"):
            subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True)
        remove_network(process.env["VRE_NETWORK"])
