"""The project's hub client (:class:`vre_hub.client.HubClient`) plus the group and
account calls the workshop commands need."""

from urllib.parse import quote

from ..client import HubClient


class WorkshopHub(HubClient):
    def user(self, name: str) -> dict | None:
        response = self.request("GET", self.user_path(name), check=False)
        return response.json() if response.status_code == 200 else None

    def create_users(self, names: list[str]) -> None:
        self.request("POST", "/users", json={"usernames": names})

    def delete_user(self, name: str) -> None:
        """Remove the user (NativeAuthenticator drops the password account with it)."""
        response = self.request("DELETE", self.user_path(name), check=False)
        if response.status_code not in (204, 404):
            self.request("DELETE", self.user_path(name))  # raise with the hub's message

    def group(self, name: str) -> dict | None:
        response = self.request("GET", f"/groups/{quote(name, safe='')}", check=False)
        return response.json() if response.status_code == 200 else None

    def create_group(self, name: str, users: list[str]) -> None:
        self.request("POST", f"/groups/{quote(name, safe='')}", json={"users": users})

    def delete_group(self, name: str) -> None:
        self.request("DELETE", f"/groups/{quote(name, safe='')}", check=False)

    def server(self, name: str) -> dict | None:
        """The default server's model (running or pending), None if stopped or no such user."""
        user = self.user(name)
        return (user.get("servers") or {}).get("") if user else None
