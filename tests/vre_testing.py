"""Helpers shared by the test folders (imported as `vre_testing`; conftest names clash)."""

import os
import secrets
import socket
import subprocess
from dataclasses import dataclass, field

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(condition: bool, why: str):
    """Skip (printing why) when a requirement is missing; fail instead in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {why}")
    pytest.skip(why)


def _form(session, url: str) -> dict:
    """The _xsrf field of the hub form page at ``url`` (its cookie stays in ``session``)."""
    import re

    page = session.get(url, timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    return {"_xsrf": xsrf.group(1)} if xsrf else {}


def login(url: str, username: str, password: str):
    """A requests session logged in to the hub at ``url`` (if the password is right)."""
    import requests

    session = requests.Session()
    data = {**_form(session, f"{url}/hub/login"), "username": username, "password": password}
    session.post(f"{url}/hub/login?next=/hub/home", data=data, timeout=30, allow_redirects=True)
    return session


#: Debian chromium as the browser tests launch it (Playwright, ``executable_path="/usr/bin/chromium"``).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]


def browser_login(page, url: str, username: str, password: str, then: str) -> None:
    """Log a Playwright ``page`` in through the hub's login form; wait until it is at ``then``
    (a path such as ``/services/workshop/``, reached through the hub's OAuth)."""
    page.goto(f"{url}/hub/login?next={then}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(f"**{then}")


def signup(url: str, username: str, password: str):
    """POST the hub's /hub/signup form as a browser does; returns (response, alert text)."""
    import html
    import re

    import requests

    session = requests.Session()
    data = {
        **_form(session, f"{url}/hub/signup"),
        "username": username,
        "signup_password": password,
        "signup_password_confirmation": password,
    }
    response = session.post(f"{url}/hub/signup", data=data, timeout=30)
    alert = re.search(r'<div class="alert [^"]*" role="alert">\s*<p>(.*?)</p>', response.text, re.S)
    return response, html.unescape(alert.group(1)).strip() if alert else ""


def own_network() -> dict:
    """The environment of one test hub's users' network: its own, so that concurrent sessions
    never share firewall rules (``vre_hub.network`` makes it when the hub starts;
    ``remove_network`` after). VRE_NETWORK=host: the unsafe host-network mode, to watch the
    security tests fail; the loopback is then shared, so the jobs port is a free one."""
    if os.environ.get("VRE_NETWORK") == "host":
        return {"VRE_NETWORK": "host", "VRE_JOBS_PORT": str(free_port())}
    return {"VRE_NETWORK": f"vre-test-{secrets.token_hex(3)}"}


def remove_network(name: str) -> None:
    """Remove a test hub's network, its firewall rules and any container a failed test left on it."""
    from vre_hub import network

    if name == network.HOST:
        return
    leftover = subprocess.run(["docker", "ps", "-aq", "--filter", f"network={name}"], capture_output=True, text=True)
    if leftover.stdout.split():
        subprocess.run(["docker", "rm", "-f", *leftover.stdout.split()], capture_output=True)
    network.remove(name)


def start_hub(state, env: dict):
    """Start a hub as ``vre up`` does (``vre_hub.launcher``) with ``state`` (a StateDir) on free
    loopback ports and its own users' network (``own_network``), ``env`` on top; returns the
    started HubProcess."""
    from vre_hub.launcher import HubProcess

    process = HubProcess(state, port=free_port(), api_port=free_port(), proxy_api_port=free_port(),
                         env={**own_network(), **env})
    process.start(log=lambda m: print(f"[hub] {m}"))
    return process


@dataclass
class RunningHub:
    """A test hub (a started ``vre_hub.launcher.HubProcess``), its admin ``HubClient`` and the
    users a test made; ``stop()`` removes all of it."""

    process: object
    client: object
    users: list = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.process.url

    def stop(self) -> None:
        """Stop the users' servers and the hub, remove their containers, homes and the hub's network."""
        from vre_core import naming

        for name in self.users:
            try:
                self.client.stop_server(name, wait=30)
            except Exception:
                pass
        self.process.stop()
        for name in self.users:
            subprocess.run(["docker", "rm", "-f", naming.container_name(name)], capture_output=True)
            subprocess.run(["docker", "volume", "rm", "-f", naming.home_volume_name(name)], capture_output=True)
        remove_network(self.process.env["VRE_NETWORK"])
