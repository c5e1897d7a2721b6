"""HTTP clients of the VRE: the JupyterHub REST API (:class:`HubClient`) and the hub's services
(:class:`ServiceClient`, e.g. the jobs service's ``api/``), both sending a hub token. Used by the
``vre`` commands, the workshop tools, the jobs CLI, readiness probes and tests."""

import time
from urllib.parse import quote

import requests

from .errors import VREError


class APIError(VREError):
    """A request was refused or got no answer; ``status`` is the HTTP code (0: no answer)."""

    def __init__(self, status: int, what: str, fix: str = ""):
        super().__init__(what, fix)
        self.status = status


#: The name the hub's calls have always raised.
HubAPIError = APIError


class ServiceClient:
    """Requests to ``<url><prefix>...`` with ``Authorization: token ...``; refusals raise
    :class:`APIError` with the server's own message (its JSON ``message`` or ``error``)."""

    prefix = ""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30, fix: str = "check the URL"):
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"token {token}"
        self.timeout = timeout
        self.fix = fix  # how to fix an unreachable or wrong URL, for the error line

    def request(self, method: str, path: str, check: bool = True, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, f"{self.url}{self.prefix}{path}", **kwargs)
        except requests.RequestException as error:
            raise APIError(0, f"cannot reach {self.url} ({type(error).__name__})", self.fix) from None
        if check and response.status_code >= 400:
            try:
                body = response.json()
                message = body.get("message") or body.get("error") or response.reason
            except (ValueError, AttributeError):
                message = response.reason
            raise self.refusal(method, path, response.status_code, message)
        return response

    def refusal(self, method: str, path: str, status: int, message: str) -> APIError:
        """The error for a refused request: a service's own message says what and how to fix."""
        return APIError(status, message if message else f"{method} {path}: HTTP {status}")

    def get(self, path, **kw):
        return self.request("GET", path, **kw).json()

    def call(self, method: str, path: str, body=None):
        """A JSON request and its JSON answer ({} for 204)."""
        response = self.request(method, path, json=body)
        if response.status_code == 204:
            return {}
        try:
            return response.json()
        except ValueError:
            raise APIError(response.status_code, f"{self.url} answered HTTP {response.status_code} without JSON", self.fix) from None

    def wait_up(self, path: str = "/", timeout: float = 90, alive=lambda: None) -> None:
        """Readiness probe: return once ``path`` answers 200; ``alive()`` may raise to stop early
        (e.g. the process died)."""
        deadline = time.monotonic() + timeout
        while True:
            alive()
            try:
                if self.request("GET", path, check=False, timeout=2).status_code == 200:
                    return
            except APIError:
                pass
            if time.monotonic() > deadline:
                raise APIError(0, f"{self.url}{self.prefix}{path} did not answer within {timeout:.0f} s", self.fix)
            time.sleep(0.3)


class HubClient(ServiceClient):
    """Talk to ``<url>/hub/api`` with an API token; ``url`` is the hub's public URL."""

    prefix = "/hub/api"

    def __init__(self, url: str, token: str | None = None, timeout: float = 30):
        super().__init__(url, token, timeout, fix="check the hub URL (`vre status`) or start it with `vre up`")

    # -- users and servers -------------------------------------------------------

    def refusal(self, method: str, path: str, status: int, message: str) -> APIError:
        return APIError(status, f"{method} {path}: {status} {message}")  # the hub's messages name no call

    @staticmethod
    def user_path(name: str) -> str:
        return f"/users/{quote(name, safe='')}"

    def found(self, path: str) -> dict | None:
        """The model at ``path``, None if the hub has none (404, or no permission to see it)."""
        response = self.request("GET", path, check=False)
        return response.json() if response.status_code == 200 else None

    def user(self, name: str) -> dict | None:
        return self.found(self.user_path(name))

    def users(self, **params) -> list[dict]:
        """Every user model in one listing (``GET /users``, page after page: a large page, as
        many as the hub's ``api_page_max_limit`` allows), e.g. ``users(state="active")``. With
        a token holding ``read:servers`` the models include their servers' state."""
        found, offset = [], 0
        while True:
            page = self.request(
                "GET", "/users", params={**params, "offset": offset, "limit": 10_000},
                headers={"Accept": "application/jupyterhub-pagination+json"},
            ).json()
            found += page["items"]
            following = page["_pagination"].get("next")
            if not following:
                return found
            offset = following["offset"]

    def ensure_user(self, name: str, admin: bool = False) -> dict:
        user = self.user(name)
        if user is not None:
            return user
        self.request("POST", self.user_path(name), json={"admin": admin})
        return self.get(self.user_path(name))

    def create_users(self, names: list[str]) -> None:
        self.request("POST", "/users", json={"usernames": names})

    def delete_user(self, name: str) -> None:
        """Remove the user (NativeAuthenticator drops the password account with it)."""
        response = self.request("DELETE", self.user_path(name), check=False)
        if response.status_code not in (204, 404):
            self.request("DELETE", self.user_path(name))  # raise with the hub's message

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

    # -- groups ------------------------------------------------------------------

    @staticmethod
    def group_path(name: str) -> str:
        return f"/groups/{quote(name, safe='')}"

    def group(self, name: str) -> dict | None:
        return self.found(self.group_path(name))

    def create_group(self, name: str, users: list[str]) -> None:
        self.request("POST", self.group_path(name), json={"users": users})

    def delete_group(self, name: str) -> None:
        self.request("DELETE", self.group_path(name), check=False)

    # -- servers -----------------------------------------------------------------

    def server(self, name: str) -> dict | None:
        """The default server's model (running or pending), None if stopped or no such user."""
        user = self.user(name)
        return (user.get("servers") or {}).get("") if user else None

    def start_server(self, name: str, options: dict | None = None, wait: float = 120) -> dict:
        """Start the user's default server and wait until the hub says it is ready."""
        response = self.request("POST", f"{self.user_path(name)}/server", json=options or {})
        if response.status_code == 201:
            return self.get(self.user_path(name))
        return self.wait_server(name, ready=True, timeout=wait)

    def stop_server(self, name: str, wait: float = 60) -> None:
        response = self.request("DELETE", f"{self.user_path(name)}/server", check=False)
        if response.status_code not in (202, 204, 400):  # 400: not running
            raise APIError(response.status_code, f"stopping {name}'s server: {response.text[:200]}")
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
                raise APIError(500, f"{name}'s server failed to start", "see the hub log (`vre logs`)")
            if time.monotonic() > deadline:
                raise APIError(504, f"{name}'s server not {'ready' if ready else 'stopped'} after {timeout:.0f} s")
            time.sleep(0.25)

    # -- services ----------------------------------------------------------------

    def service(self, name: str) -> ServiceClient | None:
        """A client of the hub service ``name`` (through the hub's proxy, with this token), None
        if the hub has no such service."""
        if self.request("GET", f"/services/{quote(name, safe='')}", check=False).status_code == 404:
            return None
        client = ServiceClient(f"{self.url}/services/{quote(name, safe='')}", timeout=self.timeout)
        client.session.headers.update(self.session.headers)
        return client
