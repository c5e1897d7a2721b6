"""VRESpawner: DockerSpawner with DATA TERRA storage, profiles and the users' network.

Storage follows the DATA TERRA vocabulary:

* *Datahome*: one persistent volume per user, mounted as the home directory;
* *Dataref*: shared reference data, mounted read-only for everyone;
* *Datawork*: one volume per JupyterHub group, mounted for the group's members.

Profiles (``standard``, ``large-memory``...) set memory and CPU limits; they are offered
in the spawn form and accepted as ``{"profile": name}`` through the REST API.

Containers join ``network_name`` (vre_hub.network: a bridge without container-to-container
traffic); ``"host"`` is the unsafe host-network mode, kept for a test that shows why.
Values of one start (group mounts) are computed at each start and never written back into
the configuration traits, which outlive the start.
"""

import asyncio
import html

import docker.errors
from dockerspawner import DockerSpawner
from jupyterhub.utils import random_port
from tornado import web
from traitlets import Dict, Float, List, Unicode, default

from vre_core.homes import HomeVolume
from vre_core.naming import DATAREF_VOLUME, HOME, RUN_AS, BadName, check_name, escape_name, work_volume_name

from .network import DEFAULT_NETWORK, HOST

DEFAULT_PROFILES = [
    {
        "name": "standard",
        "display_name": "Standard: 2 GiB memory, 1 CPU",
        "mem_limit": "2G",
        "cpu_limit": 1.0,
    },
    {
        "name": "large-memory",
        "display_name": "Large memory: 8 GiB memory, 2 CPUs",
        "mem_limit": "8G",
        "cpu_limit": 2.0,
    },
]


def _format_bytes(size):
    """2147483648 -> '2 GiB' (traitlets stores "2G" as bytes)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:g} {unit}"
        size /= 1024
    return f"{size:g} TiB"


class ProfileError(web.HTTPError):
    """A spawn request named a profile that does not exist (HTTP 400)."""

    def __init__(self, name, known):
        message = f"unknown profile {name!r}; choose one of: {', '.join(known)}"
        super().__init__(400, message.replace("%", "%%"))


class VRESpawner(DockerSpawner):
    """Spawn a user's JupyterLab in the VRE user image."""

    profiles = List(
        Dict(),
        default_value=DEFAULT_PROFILES,
        help="""Resource profiles offered to users.

        Each is a dict with ``name``, ``display_name``, ``mem_limit`` (e.g. "2G") and
        ``cpu_limit`` (CPUs, float); optional ``image`` overrides the image.
        """,
    ).tag(config=True)

    default_profile = Unicode(
        "standard", help="Profile used when a spawn request names none."
    ).tag(config=True)

    home_mount = Unicode(HOME, help="Where the *Datahome* volume is mounted.").tag(
        config=True
    )

    dataref_volume = Unicode(
        DATAREF_VOLUME,
        help="Docker volume with the shared reference data (*Dataref*); empty to disable.",
    ).tag(config=True)

    dataref_mount = Unicode("/data/ref", help="Where *Dataref* is mounted, read-only.").tag(
        config=True
    )

    work_mount_root = Unicode(
        "/data/work",
        help="Each group's *Datawork* volume is mounted at <work_mount_root>/<group> for its members.",
    ).tag(config=True)

    work_volume_uid = Unicode(
        RUN_AS,
        help="Owner (uid:gid) given to a *Datawork* volume when it is first created, so members can write.",
    ).tag(config=True)

    ready_poll_interval = Float(
        0.1,
        help="""Seconds between checks that a starting server accepts connections.

        The hub checks a new server with exponential back-off (up to 5 s between tries);
        waiting here at a short, fixed interval hands it a server that answers at its first
        check, and says at once why a container exited during start-up. 0 leaves the
        waiting to the hub.""",
    ).tag(config=True)

    @default("network_name")
    def _default_network_name(self):
        return DEFAULT_NETWORK

    @default("use_internal_ip")
    def _default_use_internal_ip(self):
        # The hub reaches each server at its address on the network: nothing is published
        # on host interfaces (on the host network: 127.0.0.1).
        return self.network_name != "bridge"

    @default("ip")
    def _default_ip(self):
        return "127.0.0.1" if self.network_name == HOST else "0.0.0.0"

    @default("escape")
    def _escape_default(self):
        return escape_name

    @default("name_template")
    def _default_name_template(self):
        # as vre_hub.naming.container_name: "--", which escaping never makes, before a server name
        return "vre-user-{username}--{servername}" if self.name else "vre-user-{username}"

    @default("volumes")
    def _default_volumes(self):
        return {"vre-home-{username}": self.home_mount}

    @default("options_form")
    def _default_options_form(self):
        return self._render_options_form

    @default("options_from_form")
    def _default_options_from_form(self):
        return self._simple_options_from_form

    @default("remove")
    def _default_remove(self):
        # Containers are disposable; everything worth keeping lives in volumes.
        return True

    # -- profiles ---------------------------------------------------------------

    def _render_options_form(self, spawner):
        options = []
        for profile in self.profiles:
            selected = " selected" if profile["name"] == self.default_profile else ""
            options.append(
                f'<option value="{html.escape(profile["name"])}"{selected}>'
                f'{html.escape(profile.get("display_name", profile["name"]))}</option>'
            )
        return (
            '<label for="profile-select">Server profile</label>'
            '<select class="form-control" id="profile-select" name="profile">'
            + "".join(options)
            + "</select>"
        )

    def profile(self, name=None):
        """The profile dict called ``name`` (the default if None); ProfileError if unknown."""
        name = name or self.default_profile
        for profile in self.profiles:
            if profile["name"] == name:
                return profile
        raise ProfileError(name, [p["name"] for p in self.profiles])

    @default("apply_user_options")
    def _default_apply_user_options(self):
        return VRESpawner._apply_profile

    @staticmethod
    def _apply_profile(spawner, user_options):
        """Apply the requested profile's limits (JupyterHub turns ProfileError into HTTP 400)."""
        chosen = (user_options or {}).get("profile")
        if isinstance(chosen, list):  # raw form data
            chosen = chosen[0] if chosen else None
        profile = spawner.profile(chosen)
        spawner.mem_limit = profile.get("mem_limit")
        spawner.cpu_limit = profile.get("cpu_limit")
        if profile.get("image"):
            spawner.image = profile["image"]
        spawner.profile_name = profile["name"]

    # -- storage ----------------------------------------------------------------

    def _group_volumes(self):
        return {
            work_volume_name(group.name): f"{self.work_mount_root}/{group.name}"  # the rule makes it a safe path
            for group in self.user.groups
        }

    async def _ensure_work_volume(self, volume):
        """Create a *Datawork* volume owned by the users' uid (Docker makes new ones root-owned)."""
        work = HomeVolume(self.client, self.image, volume)
        await asyncio.to_thread(work.ensure, self.work_volume_uid, {"org.dataterra.vre.kind": "datawork"})

    # -- lifecycle --------------------------------------------------------------

    # This start's values, set by start() (never in the configuration traits).
    _start_volumes: dict = {}
    _host_port: int = 0

    def _check_names(self):
        """Refuse, before anything is made or mounted, an account or group named before the
        user-name rule: its Docker names could be another's (vre_hub.naming)."""
        try:
            check_name(self.user.name)
            for group in self.user.groups:
                check_name(group.name, "group name")
        except BadName as error:
            message = (
                f"The server of {self.user.name!r} cannot start: {error}; "
                "an admin must move the account (or the group) to an allowed name"
            )
            raise web.HTTPError(403, message.replace("%", "%%")) from None

    async def start(self):
        self._check_names()
        self.log.info("Starting %s with profile %s", self.user.name, getattr(self, "profile_name", "?"))
        volumes = {self.dataref_volume: {"bind": self.dataref_mount, "mode": "ro"}} if self.dataref_volume else {}
        group_volumes = self._group_volumes()
        for volume in group_volumes:
            await self._ensure_work_volume(volume)
        self._start_volumes = {**volumes, **group_volumes}
        if self.network_name == HOST:  # unsafe mode: a free port on the host's loopback
            self._host_port = random_port()
        started = asyncio.get_running_loop().time()
        ip, port = await super().start()
        if self.ready_poll_interval > 0:
            # within start_timeout; the hub's own check still has its http_timeout after.
            await self._wait_accepting(ip, port, deadline=started + self.start_timeout - 1)
        return ip, port

    @property
    def volume_binds(self):
        """The configured volumes (*Datahome*) and this start's *Dataref* and *Datawork*."""
        return self._volumes_to_binds(self._start_volumes, super().volume_binds)

    def docker(self, method, *args, **kwargs):
        if method == "create_container" and kwargs.get("name") == self.container_name:
            # This start's host settings, added to the call DockerSpawner.create_object builds
            # from the configured extra_host_config (which is left as configured).
            host_config = kwargs["host_config"]
            # Docker's auto_remove would erase a container that dies before anyone reads why
            # (killed for memory...); with remove=True, stop() or the next start removes it.
            host_config["AutoRemove"] = False
            if host_config.get("Memory"):
                host_config["MemorySwap"] = host_config["Memory"]  # no swap beyond the memory limit
        return super().docker(method, *args, **kwargs)

    def get_env(self):
        env = super().get_env()
        if self.network_name == HOST:
            env["JUPYTERHUB_SERVICE_URL"] = f"http://127.0.0.1:{self._host_port}{self.server.base_url}"
        return env

    async def _wait_accepting(self, ip, port, deadline):
        """Return once ip:port accepts a connection, or raise if the container exited."""
        loop = asyncio.get_running_loop()
        # DockerSpawner sends every Docker call of every user through one thread: inspect
        # rarely (0.5 s, doubling to 5 s) so that 30 starts at once do not queue behind it.
        poll_every = 0.5
        next_poll = loop.time() + poll_every
        while loop.time() < deadline:
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout=1)
            except OSError:  # refused, or no answer within 1 s (TimeoutError is an OSError)
                pass
            else:
                writer.close()
                return
            if loop.time() >= next_poll:
                poll_every = min(2 * poll_every, 5)
                next_poll = loop.time() + poll_every
                if await super().poll() is not None:
                    why = await self._stop_reason()
                    message = f"The server of {self.user.name} stopped while starting: {why}"
                    raise web.HTTPError(500, message.replace("%", "%%"))
            await asyncio.sleep(self.ready_poll_interval)

    async def _stop_reason(self):
        """Why the container stopped, in words, with its last log line."""
        try:  # a container (a Swarm service has no container of its own here)
            state = (await self.docker("inspect_container", self.container_id))["State"]
            last = (await self.docker("logs", self.container_id, tail=1)).decode(errors="replace").strip()
        except docker.errors.DockerException:  # gone, or never a container
            return "it exited"
        if state.get("OOMKilled"):
            why = f"it ran out of memory (limit {_format_bytes(self.mem_limit)}); choose a larger profile"
        else:
            why = f"it exited with code {state.get('ExitCode')}"
        return f"{why} (last log line: {last[:200]})" if last else why

    async def get_ip_and_port(self):
        if self.network_name == HOST:
            return "127.0.0.1", self._host_port
        return await super().get_ip_and_port()

    async def get_url(self):
        """Where the server answers, from its container. JupyterHub asks after a restart: a start
        that a killed hub had not finished has no address in its database yet (only a random port)."""
        try:
            ip, port = await self.get_ip_and_port()
        except (docker.errors.DockerException, KeyError, RuntimeError):  # gone, or off the network
            return self.server.url
        return f"{self.server.proto}://{ip}:{port}{self.server.base_url}"

    async def poll(self):
        status = await super().poll()
        if status is not None and self.container_id:  # stopped by itself, not by stop()
            if await self._never_started():
                # Made by a start that did not finish (the hub was killed while starting it):
                # remove it, else a start still queued in the engine would run it unknown to the hub.
                self.log.warning("Removing %s: the start that made it was interrupted", self.container_name)
                try:
                    await self.docker("remove_container", self.container_id, v=True, force=True)
                except docker.errors.NotFound:
                    pass
                self.object_id = ""
                return status
            self.log.warning(
                "Server of %s stopped: %s; files in the home are kept.", self.user.name, await self._stop_reason()
            )
        return status

    async def _never_started(self) -> bool:
        """Whether the container was created and never started."""
        try:
            state = (await self.docker("inspect_container", self.container_id))["State"]
        except docker.errors.DockerException:
            return False
        return state.get("Status") == "created"
