"""The teacher's console: ``python -m vre_workshop.service``, a hub-managed service at
``/services/workshop/`` (wired by :func:`vre_workshop.hubconfig.service_config`).

Who may do what is decided here, at every request, from the caller's identity (asked of the
hub with the caller's own cookie or token, HubOAuth) and the workshop records:

* an admin acts on every workshop;
* a member of the hub group ``TEACHERS_GROUP`` may create workshops and acts on those whose
  teacher they are (and on their participants only);
* a hub service holding ``admin:users`` (``vre workshop`` with the vre-admin token) acts as an admin;
* anyone else (participants included) gets 403.

``/services/workshop/`` itself is the page (static/workshop.js, text only, CSP without inline script).

The service itself acts with its own token, whose role (``hubconfig.service_config``) holds
the admin scopes on users, groups, servers and shares it needs. So a new workshop's teacher
can act at once: no role to load, no hub restart. To open a participant's JupyterLab the
service shares that participant's server with the teacher (JupyterHub 5 sharing API,
``POST /hub/api/shares/<user>/``), which also takes effect at once.

    GET  api/whoami                                  name, admin, teacher
    GET  api/workshops                               the caller's workshops (all for an admin)
    GET  api/notebooks                               what create may copy: {shipped: [...], home: [the caller's]}
    POST api/workshops                               {name, seats, expires, profile, shipped: [notebook...],
                                                      home: [path of a notebook in the caller's home...],
                                                      shared_password, class_start, class_end, class_idle_minutes
                                                      [, teacher, notebooks (a path or git URL on the hub's host)]}
    GET  api/workshops/NAME                          the record
    GET  api/workshops/NAME/status[?idle_minutes=15] live table: one row per participant, from the
                                                     snapshot refreshed in the background (live.py), its age
    GET  api/workshops/NAME/roster.csv               seat list with passwords
    GET  api/workshops/NAME/cards                    printable cards (URL, login, password)
    POST api/workshops/NAME/prewarm                  {concurrency, rate, timeout, retries} (all optional):
                                                     start all servers (background); GET: progress
    POST api/workshops/NAME/participants/USER/open   share USER's server with the teacher; its URL
    POST api/workshops/NAME/push                     {"name": "x.ipynb", "content": {...}}: to every home, edits kept
    POST api/workshops/NAME/collect                  into the teacher's ~/collected/
    GET  api/workshops/NAME/collect.zip              the participants' notebooks, as a zip download
    POST api/workshops/NAME/end                      disable accounts, archive homes [{remove, archive}: admins]

Fields marked for admins name things on the hub's host (files, git clones) or delete
accounts before expiry: ``vre workshop`` run there by the operator, never a teacher.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import tarfile
from datetime import datetime, timezone
from pathlib import Path
import tempfile
from functools import cached_property
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado import web
from vre_core.errors import VREError
from vre_core.hub import HubClient
from vre_core.naming import RUN_AS
from vre_core.state import REPO_ROOT, StateDir, offered_profiles
from vre_core.web import static_settings

from . import collect, create, distribute, end, homes, notebooks, prewarm
from .context import Context
from .live import LiveTable, freshness
from .registry import NAME_PATTERN
from .roles import TEACHERS_GROUP
from .roster import read_roster


#: The page and the cards: their own script and style files only, no inline script, framed by
#: nothing but the hub's origin; everything else (JSON, CSV, zip) is never a document that runs.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
#: The project's notebooks (those the user image ships), offered at creation.
SHIPPED_NOTEBOOKS = REPO_ROOT / "notebooks"
#: A hub service whose token holds this scope acts as an admin here (``vre workshop`` on the
#: hub's host, with the state folder's vre-admin token); a service's default teacher is
#: ``<name>-teacher``, a person's is themselves.
OPERATOR_SCOPE = "admin:users"
#: How long the service trusts what the hub said about a caller (their token: HubOAuth's
#: cache; their groups and admin flag: the live table's snapshot, if that recent).
AUTH_CACHE_SECONDS = 5
#: What a prewarm request may tune (``vre workshop prewarm`` flags), with their types.
PREWARM_OPTIONS = {"concurrency": int, "rate": float, "timeout": float, "retries": int}


class Console:
    """What the handlers share: the state folder and a hub client acting with the service's token."""

    def __init__(self, state: StateDir, token: str, image: str | None):
        self.state, self.token, self.image = state, token, image
        self.progress: dict[str, dict] = {}  # workshop -> prewarm progress
        self._tasks: set[asyncio.Task] = set()

    @cached_property
    def hub(self) -> HubClient:
        # The public URL (written once the hub answers, after this service started): the
        # roster and cards give it to participants.
        return HubClient(self.state.hub_url, self.token)

    @cached_property
    def live(self) -> LiveTable:
        """The live table's snapshot, refreshed in the background from the first request on."""
        hub = HubClient(self.state.hub_url, self.token)  # its own connections, used from its threads
        live = LiveTable(hub, docker=None)
        try:  # as many connections as stats asked at once
            live.docker = homes.docker_client(connections=live.stats_concurrency)
        except VREError:  # the table still shows the hub's view; memory is left out
            pass
        self.keep(live.run())
        return live

    def recent_user(self, name: str) -> dict | None:
        """``name``'s hub model from a snapshot at most :data:`AUTH_CACHE_SECONDS` old, if any:
        the table's own refreshes then cost the hub no call per request."""
        live = self.__dict__.get("live")  # not started yet: nobody watched a table
        return live.recent_user(name, AUTH_CACHE_SECONDS) if live else None

    def keep(self, coroutine) -> None:
        """Run ``coroutine`` in the background, holding on to it until it ends."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def context(self, lines: list | None = None) -> Context:
        ctx = Context(state=self.state, image=self.image, say=(lines.append if lines is not None else lambda _m: None))
        ctx.__dict__["hub"] = self.hub  # the service's token, not the operator's
        return ctx


class Handler(HubOAuthenticated, web.RequestHandler):
    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", DATA_CSP)

    @property
    def console(self) -> Console:
        return self.settings["console"]

    async def prepare(self):
        model = await self.hub_auth.get_user(self, sync=False)
        if model is not None:
            try:
                model = self.check_hub_user(model)
            except UserNotAllowed:
                model = None
        if model is not None and model.get("kind") == "service" and OPERATOR_SCOPE in model.get("scopes", []):
            # the operator's `vre workshop` on the host (the vre-admin service, role admin)
            self.current_user = {"name": model["name"], "kind": "service", "admin": True, "groups": []}
            return
        if model is None and isinstance(self, Page):
            self.current_user = None  # a browser not logged in yet: @web.authenticated sends it to the hub
            return
        if model is None or model.get("kind", "user") != "user":
            raise web.HTTPError(403, "not authenticated: log in to the hub, or send a user's hub API token")
        # The caller's groups and admin flag as the hub has them now (not as cached in a token):
        # from the live table's snapshot if it is as recent as the hub-auth cache, else asked.
        user = self.console.recent_user(model["name"]) or await self.blocking(self.console.hub.user, model["name"])
        if user is None:
            raise web.HTTPError(403, "no such hub user")
        self.current_user = user

    @property
    def is_admin(self) -> bool:
        return bool(self.current_user.get("admin"))

    @property
    def is_teacher(self) -> bool:
        return TEACHERS_GROUP in (self.current_user.get("groups") or [])

    async def blocking(self, function, *args):
        """Run a (requests- and Docker-based) workshop function off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, function, *args)

    def workshop(self, name: str):
        """The record of ``name`` if the caller may act on it; 403 otherwise (also for unknown names,
        so that nobody learns which workshops exist)."""
        registry = self.console.context().registry
        found = NAME_PATTERN.match(name) and registry.exists(name) and registry.load(name)  # no "..": a folder name
        if found and (self.is_admin or (self.is_teacher and found.teacher == self.current_user["name"])):
            return found
        if self.is_admin:  # sees every workshop anyway
            raise web.HTTPError(404, f"no workshop called {name!r}; list them with `vre workshop list`")
        raise web.HTTPError(403, f"workshop {name!r} is not one of yours; ask an admin to give it to you")

    def body(self) -> dict:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the body is not a JSON object; send e.g. {\"name\": \"neo-2026\", \"seats\": 5}")
        return data

    def write_json(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def write_error(self, status_code, **kwargs):
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif exc is not None:  # as the CLI kit says it (vre_core.cli.run): a teacher can tell the admin
            message = f"{exc.__class__.__name__}: {exc}; see the hub log"
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "error": " ".join(str(message).split())}))

    async def run(self, function, *args):
        """Run a workshop step; its VREError (what; how to fix) becomes a 400."""
        try:
            return await self.blocking(function, *args)
        except VREError as error:
            raise web.HTTPError(400, str(error)) from None


class WhoAmI(Handler):
    def get(self):
        self.write_json({"name": self.current_user["name"], "admin": self.is_admin, "teacher": self.is_teacher})


class Workshops(Handler):
    def get(self):
        mine = [
            w for w in self.console.context().registry.all()
            if self.is_admin or (self.is_teacher and w.teacher == self.current_user["name"])
        ]
        self.write_json([summary(w) for w in mine])

    async def post(self):
        if not (self.is_admin or self.is_teacher):
            raise web.HTTPError(403, f"only teachers (hub group {TEACHERS_GROUP!r}) and admins create workshops")
        data = self.body()
        for field in ("teacher", "notebooks"):
            if data.get(field) and not self.is_admin:
                raise web.HTTPError(403, f"only admins give {field!r}; leave it out (teachers: shipped notebooks or push)")
        try:
            seats = int(data.get("seats"))
        except (TypeError, ValueError):
            raise web.HTTPError(400, "seats must be a whole number; give the number of participants") from None
        idle = data.get("class_idle_minutes")
        if idle is not None and (isinstance(idle, bool) or not isinstance(idle, int)):
            raise web.HTTPError(400, "class_idle_minutes must be a whole number of minutes, e.g. 30")
        for field in ("class_start", "class_end", "expires"):
            if data.get(field) is not None and not isinstance(data[field], str):
                raise web.HTTPError(400, f"{field} must be a string, e.g. '2026-12-01T09:00'")
        request = create.Request(
            name=str(data.get("name") or ""), seats=seats, expires=data.get("expires") or None,
            profile=data.get("profile") or None,
            teacher=data.get("teacher") or (None if self.current_user.get("kind") == "service" else self.current_user["name"]),
            notebooks=data.get("notebooks") or None, shared_password=bool(data.get("shared_password")),
            class_start=data.get("class_start"), class_end=data.get("class_end"),
            class_idle_minutes=data.get("class_idle_minutes"),
        )
        shipped = data.get("shipped") or []
        offered = shipped_notebooks()
        if not isinstance(shipped, list) or any(name not in offered for name in shipped):
            raise web.HTTPError(400, f"unknown shipped notebook in {shipped!r}; choose among: {', '.join(offered)}")
        own = data.get("home") or []
        if not isinstance(own, list):
            raise web.HTTPError(400, "home must be a list of notebook paths in your home, e.g. [\"work/lesson.ipynb\"]")
        if own and self.current_user.get("kind") == "service":
            raise web.HTTPError(400, "a service has no home to copy from; give notebooks (a path on the hub's host) instead")
        lines = []
        ctx = self.console.context(lines)
        # Read before any change: a bad path or a missing notebook makes nothing.
        packed = [await self.run(notebooks.load, str(SHIPPED_NOTEBOOKS / name)) for name in shipped]
        if own:
            files = await self.run(lambda: homes.read_notebooks(ctx.docker, ctx.user_image, self.current_user["name"], own))
            packed.append(pack(files))
        workshop = await self.run(create.create, ctx, request)
        for one in packed:
            await self.run(distribute.distribute, ctx, workshop, one)
        self.write_json({**summary(workshop), "log": lines}, status=201)


class Notebooks(Handler):
    async def get(self):
        if not (self.is_admin or self.is_teacher):
            raise web.HTTPError(403, f"only teachers (hub group {TEACHERS_GROUP!r}) and admins create workshops")
        own = []
        if self.current_user.get("kind") != "service":  # a person: their own home, nobody else's
            ctx = self.console.context()
            own = await self.run(lambda: homes.notebooks_in(ctx.docker, ctx.user_image, self.current_user["name"]))
        self.write_json({"shipped": shipped_notebooks(), "home": own})


class Workshop(Handler):
    def get(self, name):
        self.write_json(summary(self.workshop(name)))


class Page(Handler):
    @web.authenticated
    def get(self):
        if not (self.is_admin or self.is_teacher):
            raise web.HTTPError(403, f"this page is for teachers (hub group {TEACHERS_GROUP!r}); ask an admin")
        self.set_header("Content-Security-Policy", PAGE_CSP)
        try:
            profiles = offered_profiles(self.console.state)
        except VREError:
            profiles = []
        xsrf = self.xsrf_token
        self.render("index.html", user=self.current_user["name"], admin=self.is_admin, profiles=profiles,
                    shipped=shipped_notebooks(),
                    xsrf=xsrf.decode() if isinstance(xsrf, bytes) else xsrf)


class Cards(Handler):
    def get(self, name):
        workshop = self.workshop(name)
        rows = read_roster(self.console.context().registry.roster_file(workshop.name))
        self.set_header("Content-Security-Policy", PAGE_CSP)
        self.set_header("Cache-Control", "no-store")  # passwords
        self.render("cards.html", workshop=workshop.name, rows=[r for r in rows if r["role"] == "participant"])


class Status(Handler):
    async def get(self, name):
        workshop = self.workshop(name)
        try:
            idle_minutes = float(self.get_query_argument("idle_minutes", "15"))
        except ValueError:
            raise web.HTTPError(400, "idle_minutes must be a number; give minutes, e.g. 15") from None
        rows, snapshot = await self.console.live.table(workshop, idle_minutes)
        self.write_json({"workshop": workshop.name, "teacher": workshop.teacher, "participants": rows,
                         "prewarm": self.console.progress.get(name), "snapshot": freshness(snapshot)})


class Roster(Handler):
    def get(self, name):
        workshop = self.workshop(name)
        path = self.console.context().registry.roster_file(workshop.name)
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", f'attachment; filename="{workshop.name}-seats.csv"')
        self.set_header("Cache-Control", "no-store")  # passwords
        self.finish(path.read_bytes())


class Prewarm(Handler):
    def get(self, name):
        self.workshop(name)
        self.write_json(self.console.progress.get(name) or {"state": "not started"})

    async def post(self, name):
        workshop = self.workshop(name)
        progress = self.console.progress.get(name)
        if progress and progress["state"] == "running":
            return self.write_json(progress, status=202)
        data = self.body()
        try:
            options = {key: kind(data[key]) for key, kind in PREWARM_OPTIONS.items() if data.get(key) is not None}
        except (TypeError, ValueError):
            raise web.HTTPError(400, f"prewarm options are numbers: {', '.join(PREWARM_OPTIONS)}") from None
        progress = self.console.progress[name] = {"state": "running", "total": len(workshop.participants), "done": 0, "failed": []}

        last = {}  # user -> their latest outcome line: a server retried and then ready is not failed

        def say(line):
            if ": ready" in line or ": FAILED" in line:
                last[line.split(":")[0].strip()] = line.strip()
                progress["done"] = len(last)
                progress["failed"] = [one for one in last.values() if ": FAILED" in one]

        async def background():
            ctx = self.console.context()
            ctx.say = say
            try:
                await asyncio.get_running_loop().run_in_executor(None, lambda: prewarm.prewarm(ctx, workshop, **options))
                progress["state"] = "done"
            except Exception as error:  # shown in the page; the hub log has the rest
                progress["state"], progress["error"] = "failed", str(error)
            self.console.live.changed_now()  # the table shows the servers started, at once

        self.console.keep(background())
        self.write_json(progress, status=202)


class Open(Handler):
    async def post(self, name, user):
        workshop = self.workshop(name)
        if user not in workshop.participants:
            raise web.HTTPError(403, f"{user!r} is not a participant of {workshop.name}")
        teacher = self.current_user["name"]
        if not self.is_admin:  # admins reach every server already
            response = await self.blocking(
                lambda: self.console.hub.request("POST", f"/shares/{user}/", json={"user": teacher}, check=False)
            )
            if response.status_code == 404:
                raise web.HTTPError(409, f"{user} has no server yet; prewarm or let them log in first")
            if response.status_code >= 300:
                raise web.HTTPError(502, f"the hub refused to share {user}'s server: {response.text[:200]}")
        self.write_json({"url": f"/user/{user}/lab"})


class Push(Handler):
    async def post(self, name):
        workshop = self.workshop(name)
        data = self.body()
        filename = str(data.get("name") or "")
        if not filename.endswith(".ipynb") or "/" in filename or filename.startswith("."):
            raise web.HTTPError(400, f"bad notebook name {filename!r}; give a plain file name ending in .ipynb")
        if not isinstance(data.get("content"), dict):
            raise web.HTTPError(400, "content must be the notebook (a JSON object)")
        packed = pack({filename: json.dumps(data["content"]).encode()})
        lines = []
        await self.run(distribute.distribute, self.console.context(lines), workshop, packed)
        self.write_json({"pushed": filename, "log": lines})


class Collect(Handler):
    async def post(self, name):
        workshop = self.workshop(name)
        lines = []
        target, counts = await self.run(collect.collect, self.console.context(lines), workshop)
        self.write_json({"folder": target, "notebooks": counts, "log": lines})


class CollectZip(Handler):
    async def get(self, name):
        workshop = self.workshop(name)
        with tempfile.TemporaryFile(prefix="vre-collect-zip-") as out:
            await self.run(collect.collect_zip, self.console.context(), workshop, out)
            out.seek(0)
            self.set_header("Content-Type", "application/zip")
            self.set_header("Content-Disposition", f'attachment; filename="{workshop.name}-collected.zip"')
            while chunk := out.read(1 << 20):  # streamed: one chunk in memory at a time
                self.write(chunk)
                await self.flush()
        self.finish()


class End(Handler):
    async def post(self, name):
        workshop = self.workshop(name)
        data = self.body()
        if (data.get("archive") or data.get("remove")) and not self.is_admin:
            raise web.HTTPError(403, "only admins choose the archive file or remove accounts early; leave them out")
        archive_to = Path(data["archive"]) if data.get("archive") else None
        lines = []
        try:
            archive = await self.run(end.end, self.console.context(lines), workshop, archive_to, bool(data.get("remove")))
        finally:
            self.console.live.changed_now()  # servers stopped, accounts disabled (some, if it failed)
        self.write_json({"ended": True, "archive": archive.name, "log": lines})


def shipped_notebooks() -> list[str]:
    """The notebooks shipped with the project, which a teacher may give a new workshop."""
    return sorted(path.name for path in SHIPPED_NOTEBOOKS.glob("*.ipynb"))


def pack(files: dict[str, bytes]) -> bytes:
    """Files (relative path -> content) as the tar that :func:`distribute.distribute` unpacks,
    owned by jovyan (folders on the way are made by the unpacking, as jovyan)."""
    uid, gid = (int(part) for part in RUN_AS.split(":"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for filename, content in files.items():
            info = tarfile.TarInfo(filename)
            info.size, info.mode, info.uid, info.gid = len(content), 0o644, uid, gid
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def summary(workshop) -> dict:
    return {
        "name": workshop.name, "teacher": workshop.teacher, "participants": workshop.participants,
        "profile": workshop.profile, "expires": workshop.expires, "created": workshop.created, "ended": workshop.ended,
    }


def routes(prefix: str) -> list:
    w = rf"{prefix}api/workshops/(?P<name>[^/]+)"
    return [
        (rf"{prefix}?", Page),
        (rf"{prefix}oauth_callback", HubOAuthCallbackHandler),
        (rf"{prefix}api/whoami", WhoAmI),
        (rf"{prefix}api/notebooks", Notebooks),
        (rf"{prefix}api/workshops", Workshops),
        (rf"{w}", Workshop),
        (rf"{w}/status", Status),
        (rf"{w}/roster.csv", Roster),
        (rf"{w}/cards", Cards),
        (rf"{w}/prewarm", Prewarm),
        (rf"{w}/participants/(?P<user>[^/]+)/open", Open),
        (rf"{w}/push", Push),
        (rf"{w}/collect", Collect),
        (rf"{w}/collect.zip", CollectZip),
        (rf"{w}/end", End),
    ]


async def serve() -> None:
    state = StateDir(os.environ.get("VRE_STATE_DIR") or None)
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/workshop/")
    HubOAuth.instance(cache_max_age=AUTH_CACHE_SECONDS)
    app = web.Application(
        routes(prefix), console=Console(state, os.environ["JUPYTERHUB_API_TOKEN"], image=None),  # None: the spawner's
        cookie_secret=os.urandom(32),
        template_path=str(Path(__file__).with_name("templates")),
        **static_settings(prefix, Path(__file__).with_name("static")),  # + vre_core's vre.js
    )
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    server = app.listen(url.port, url.hostname, xheaders=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()


if __name__ == "__main__":
    asyncio.run(serve())
