"""Where a workshop command finds the hub, its database, Docker and the workshop records."""

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from vre_core.hub import APIError
from vre_core.state import StateDir

from .errors import WorkshopError
from .registry import Registry


@dataclass
class Context:
    state: StateDir = field(default_factory=StateDir)
    hub_url: str | None = None  # default: the running hub's URL from the state folder
    image: str | None = None  # default: the spawner's user image
    say: callable = print

    @property
    def state_dir(self) -> Path:
        return self.state.path

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.state.path)

    @property
    def db_url(self) -> str:
        return self.state.db_url

    @property
    def url(self) -> str:
        """The hub's public URL."""
        return self.hub_url or self.state.hub_url

    @property
    def admin_token(self) -> str:
        """The ``vre-admin`` token kept in the state folder."""
        if not (self.state.path / "admin_token").exists():
            raise WorkshopError(
                f"no admin token in {self.state.path}",
                "start the hub with `vre up` first (a teacher: pass --token or set $JUPYTERHUB_API_TOKEN)",
            )
        return self.state.admin_token

    @cached_property
    def hub(self):
        from vre_core.hub import HubClient

        url = self.url
        hub = HubClient(url, self.admin_token)
        try:
            hub.request("GET", "/", timeout=5)
        except APIError:
            raise WorkshopError(f"the hub does not answer at {url}", "start it with `vre up`") from None
        return hub

    @cached_property
    def docker(self):
        from . import homes

        client = homes.docker_client()
        homes.check_image(client, self.user_image)
        return client

    @cached_property
    def user_image(self) -> str:
        from . import homes

        return self.image or homes.user_image()
