"""The few JupyterHub REST API calls the workshop commands make, with readable errors."""

import time
from urllib.parse import quote

import requests

from .errors import WorkshopError


class HubAPI:
    """JupyterHub REST API at ``hub_url`` with an API ``token``."""

    def __init__(self, hub_url: str, token: str, timeout: float = 30):
        self.base = hub_url.rstrip("/") + "/hub/api"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    def request(self, method: str, path: str, ok=(200, 201, 202, 204), **kw) -> requests.Response:
        url = self.base + path
        try:
            response = self.session.request(method, url, timeout=kw.pop("timeout", self.timeout), **kw)
        except requests.ConnectionError:
            raise WorkshopError(
                f"the hub does not answer at {self.base}", "start it with `vre up` or set VRE_HUB_URL"
            ) from None
        if response.status_code not in ok:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text[:200]
            raise WorkshopError(
                f"hub refused {method} {path}: HTTP {response.status_code} {message}".strip(),
                "check the admin token (state dir) and the hub log",
            )
        return response

    # -- users -----------------------------------------------------------------

    def user(self, name: str) -> dict | None:
        response = self.request("GET", f"/users/{quote(name)}", ok=(200, 404))
        return response.json() if response.status_code == 200 else None

    def create_users(self, names: list[str]) -> None:
        self.request("POST", "/users", json={"usernames": names})

    def delete_user(self, name: str) -> None:
        self.request("DELETE", f"/users/{quote(name)}", ok=(204, 404))

    # -- groups ----------------------------------------------------------------

    def group(self, name: str) -> dict | None:
        response = self.request("GET", f"/groups/{quote(name)}", ok=(200, 404))
        return response.json() if response.status_code == 200 else None

    def create_group(self, name: str, users: list[str], properties: dict | None = None) -> None:
        self.request("POST", f"/groups/{quote(name)}", json={"users": users})
        if properties:
            self.request("PUT", f"/groups/{quote(name)}/properties", json=properties)

    def delete_group(self, name: str) -> None:
        self.request("DELETE", f"/groups/{quote(name)}", ok=(204, 404))

    # -- servers ---------------------------------------------------------------

    def start_server(self, name: str, options: dict | None = None) -> int:
        """Ask the hub to start ``name``'s default server: 201 started, 202 pending, 400 running."""
        response = self.request("POST", f"/users/{quote(name)}/server", ok=(201, 202, 400), json=options or {})
        if response.status_code == 400 and "already running" not in response.text:
            raise WorkshopError(
                f"hub refused to start {name}'s server: {response.text[:200]}", "check the profile and hub log"
            )
        return response.status_code

    def stop_server(self, name: str) -> None:
        self.request("DELETE", f"/users/{quote(name)}/server", ok=(202, 204, 400))

    def server(self, name: str) -> dict | None:
        """The default server's model, or None when it is not running or pending."""
        user = self.user(name)
        if not user:
            return None
        return (user.get("servers") or {}).get("")

    def wait_ready(self, name: str, timeout: float, interval: float = 0.5) -> dict:
        """Poll until ``name``'s server is ready; WorkshopError on timeout or failure."""
        deadline = time.monotonic() + timeout
        while True:
            server = self.server(name)
            if server and server.get("ready"):
                return server
            if server is None:
                raise WorkshopError(f"{name}'s server stopped while starting", "see the hub log for the spawn error")
            if time.monotonic() > deadline:
                raise WorkshopError(f"{name}'s server not ready after {timeout:.0f} s", "see the hub log")
            time.sleep(interval)

    def wait_stopped(self, name: str, timeout: float, interval: float = 0.5) -> None:
        deadline = time.monotonic() + timeout
        while self.server(name) is not None:
            if time.monotonic() > deadline:
                raise WorkshopError(f"{name}'s server still running after {timeout:.0f} s", "see the hub log")
            time.sleep(interval)

    def revoke_tokens(self, name: str) -> None:
        """Delete every API token of ``name`` (a disabled account keeps no way in)."""
        response = self.request("GET", f"/users/{quote(name)}/tokens", ok=(200, 404))
        if response.status_code == 404:
            return
        for token in response.json().get("api_tokens", []):
            self.request("DELETE", f"/users/{quote(name)}/tokens/{token['id']}", ok=(204, 404))
