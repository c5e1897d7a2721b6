"""A small client of the JupyterHub REST API, for the CLI, the workshop tools and tests."""

import time
from urllib.parse import quote

import requests


class HubAPIError(RuntimeError):
    """The hub refused a request; ``status`` is the HTTP code."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class HubClient:
    """Talk to ``<url>/hub/api`` with an API token."""

    def __init__(self, url: str, token: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout

    def request(self, method: str, path: str, check: bool = True, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, f"{self.url}/hub/api{path}", **kwargs)
        if check and response.status_code >= 400:
            try:
                message = response.json().get("message", response.reason)
            except ValueError:
                message = response.reason
            raise HubAPIError(response.status_code, f"{method} {path}: {response.status_code} {message}")
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw).json()

    # -- users and servers -------------------------------------------------------

    @staticmethod
    def user_path(name: str) -> str:
        return f"/users/{quote(name, safe='')}"

    def ensure_user(self, name: str, admin: bool = False) -> dict:
        response = self.request("GET", self.user_path(name), check=False)
        if response.status_code == 200:
            return response.json()
        self.request("POST", self.user_path(name), json={"admin": admin})
        return self.get(self.user_path(name))

    def token_for(self, name: str, note: str = "vre", scopes=None, expires_in: int | None = None) -> str:
        body = {"note": note}
        if scopes is not None:
            body["scopes"] = scopes
        if expires_in:
            body["expires_in"] = expires_in
        return self.request("POST", f"{self.user_path(name)}/tokens", json=body).json()["token"]

    def revoke_tokens(self, name: str) -> int:
        """Delete every token of ``name`` (API tokens, its server's, and the OAuth tokens behind
        the cookies of its sessions in services such as the jobs page); how many there were."""
        response = self.request("GET", f"{self.user_path(name)}/tokens", check=False)
        if response.status_code != 200:
            return 0
        tokens = response.json().get("api_tokens", [])
        for token in tokens:
            self.request("DELETE", f"{self.user_path(name)}/tokens/{token['id']}", check=False)
        return len(tokens)

    def start_server(self, name: str, options: dict | None = None, wait: float = 120) -> dict:
        """Start the user's default server and wait until the hub says it is ready."""
        response = self.request("POST", f"{self.user_path(name)}/server", json=options or {})
        if response.status_code == 201:
            return self.get(self.user_path(name))
        return self.wait_server(name, ready=True, timeout=wait)

    def stop_server(self, name: str, wait: float = 60) -> None:
        response = self.request("DELETE", f"{self.user_path(name)}/server", check=False)
        if response.status_code not in (202, 204, 400):  # 400: not running
            raise HubAPIError(response.status_code, f"stopping {name}'s server: {response.text[:200]}")
        self.wait_server(name, ready=False, timeout=wait)

    def wait_server(self, name: str, ready: bool, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            user = self.get(self.user_path(name))
            server = user.get("servers", {}).get("")
            if ready and server and server.get("ready"):
                return user
            if not ready and not server:
                return user
            if ready and not user.get("pending") and not server:
                raise HubAPIError(500, f"{name}'s server failed to start; see the hub log")
            if time.monotonic() > deadline:
                raise HubAPIError(504, f"{name}'s server not {'ready' if ready else 'stopped'} after {timeout:.0f} s")
            time.sleep(0.25)
