"""REST API and web page of the jobs service (tornado, authenticated by the hub).

Users come through the hub: the page by OAuth (cookie), the CLI with a hub API
token (``Authorization: token ...``). Everyone sees and controls only their own
jobs and schedules; another user's id answers 404, as if it did not exist. Admins
see everything (``?all=1`` to list all users').

    GET    api/info                          who am I, limits
    GET    api/notebooks?path=P              parameters declared by a notebook
    GET    api/jobs[?all=1&state=S]          jobs, newest first
    POST   api/jobs                          submit: {notebook, parameters, sweep, kernel, timeout, output_dir, retries}
    GET    api/jobs/ID                       one job
    DELETE api/jobs/ID                       cancel (also POST api/jobs/ID/cancel)
    GET    api/jobs/ID/files/NAME            notebook.html, notebook.ipynb, job.log, parameters.json, status.json
    GET    api/schedules[?all=1]             schedules with their next run times
    POST   api/schedules                     a submission plus {"cron": "..."}
    GET    api/schedules/ID                  one schedule
    POST   api/schedules/ID/pause|resume
    DELETE api/schedules/ID
    POST   api/users/NAME/disable            admins: cancel NAME's jobs, pause its schedules

Every request is authenticated with the hub (a cached answer lives a few seconds,
``JobsService.auth_cache_seconds``), so a token or login the hub no longer accepts
(revoked, account disabled) is refused here too. What the API returns may come from
users (paths, parameters, what a job wrote about itself): the page inserts it as text
only, under a Content-Security-Policy without inline script.
"""

from __future__ import annotations

import asyncio
import json

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado import web

from . import __version__
from .manager import Conflict, NotFound, QuotaExceeded
from .parameters import SubmissionError

_CONTENT_TYPES = {
    "notebook.html": "text/html; charset=UTF-8",
    "notebook.ipynb": "application/x-ipynb+json",
    "parameters.json": "application/json",
    "status.json": "application/json",
    "job.log": "text/plain; charset=UTF-8",
    "container.log": "text/plain; charset=UTF-8",
}

#: The page: its own script and style files only (no inline script), no plugins, no <base>,
#: framed by nothing but the hub's own origin.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)
#: Everything else it serves (JSON, result files): never a document that runs anything.
DATA_CSP = "default-src 'none'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; sandbox"
#: A rendered notebook keeps its scripts (widgets, plots), in a sandbox away from this origin.
NOTEBOOK_CSP = "sandbox allow-scripts"

NOT_AUTHENTICATED = (
    "not authenticated: the hub accepts no login or token of this request (missing, expired, revoked, "
    "or the account is disabled); log in to the hub again or send a current hub API token"
)


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", DATA_CSP)

    async def prepare(self):
        """Ask the hub who this is, at every request (its answer cached for seconds only),
        without blocking the loop as the mixin's synchronous get_current_user would."""
        model = await self.hub_auth.get_user(self, sync=False)
        if model is not None:
            try:
                model = self.check_hub_user(model)
            except UserNotAllowed:
                raise web.HTTPError(403, "this token may not use the jobs service; it lacks access:services!service=jobs")
        self._hub_auth_user_cache = model
        self.current_user = model

    @property
    def manager(self):
        return self.settings["jobs_manager"]

    @property
    def user_name(self) -> str:
        return self.current_user["name"]

    @property
    def is_admin(self) -> bool:
        return bool(self.current_user.get("admin"))

    def owner_filter(self) -> str | None:
        """Whose items to list: the caller's, or everyone's for an admin asking ?all=1."""
        if self.get_argument("all", "") in ("1", "true", "yes"):
            if not self.is_admin:
                raise web.HTTPError(403, "only admins can list all users' jobs; drop ?all=1")
            return None
        return self.user_name

    def check_owner(self, item: dict) -> dict:
        # 404 rather than 403: do not tell others which ids exist.
        if item["owner"] != self.user_name and not self.is_admin:
            raise web.HTTPError(404, f"no job or schedule {item['id']} of yours; list yours with `vre jobs list`")
        return item


class APIHandler(BaseHandler):
    #: Whether hub services (the operator's CLI token) may call this handler; users only otherwise.
    services_allowed = False

    async def prepare(self):
        await super().prepare()
        if self.current_user is None:
            raise web.HTTPError(403, NOT_AUTHENTICATED)
        if self.current_user.get("kind", "user") != "user" and not self.services_allowed:
            raise web.HTTPError(403, "jobs belong to users; use a user's hub token")

    def write_json(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def json_body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "request body is not valid JSON; send a JSON object")
        if not isinstance(body, dict):
            raise web.HTTPError(400, "request body must be a JSON object")
        return body

    def write_error(self, status_code, **kwargs):
        message = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": status_code, "error": " ".join(str(message).split())}))

    async def guarded(self, coro_or_value):
        """Map our exceptions onto HTTP statuses with one-line messages."""
        try:
            if asyncio.iscoroutine(coro_or_value):
                return await coro_or_value
            return coro_or_value
        except SubmissionError as e:
            raise web.HTTPError(400, " ".join(str(e).split()))
        except QuotaExceeded as e:
            raise web.HTTPError(429, str(e))
        except Conflict as e:
            raise web.HTTPError(409, str(e))
        except NotFound as e:
            raise web.HTTPError(404, f"no job or schedule {e}; list yours with `vre jobs list`")

    def _job(self, job_id: str) -> dict:
        try:
            return self.check_owner(self.manager.get_job(job_id))
        except NotFound:
            raise web.HTTPError(404, f"no job {job_id} of yours; list yours with `vre jobs list`")

    def _schedule(self, schedule_id: str) -> dict:
        try:
            return self.check_owner(self.manager.get_schedule(schedule_id))
        except NotFound:
            raise web.HTTPError(404, f"no schedule {schedule_id} of yours; list yours with `vre jobs schedule list`")


class InfoHandler(APIHandler):
    def get(self):
        limits = self.manager.limits
        self.write_json(
            {
                "version": __version__,
                "user": self.user_name,
                "admin": self.is_admin,
                "image": self.manager.backend.image,
                "max_concurrent": limits.max_concurrent,
                "max_per_user": limits.max_per_user,
                "max_queued_per_user": limits.max_queued_per_user,
                "default_timeout": limits.default_timeout,
                "max_timeout": limits.max_timeout,
                "shipped_notebooks": self.manager.shipped_notebooks,
            }
        )


class NotebookHandler(APIHandler):
    async def get(self):
        path = self.get_argument("path", "")
        self.write_json(await self.guarded(self.manager.inspect(self.user_name, path)))


class JobsHandler(APIHandler):
    def get(self):
        state = self.get_argument("state", None)
        self.write_json({"jobs": self.manager.list_jobs(self.owner_filter(), state=state)})

    async def post(self):
        jobs = await self.guarded(self.manager.submit(self.user_name, self.json_body()))
        self.write_json({"submission": jobs[0]["submission"], "jobs": jobs}, status=201)


class JobHandler(APIHandler):
    def get(self, job_id):
        self.write_json(self._job(job_id))

    async def delete(self, job_id):
        self._job(job_id)
        self.write_json(await self.guarded(self.manager.cancel(job_id)))


class JobCancelHandler(JobHandler):
    async def post(self, job_id):
        await self.delete(job_id)


class JobFileHandler(APIHandler):
    async def get(self, job_id, name):
        job = self._job(job_id)
        if name not in _CONTENT_TYPES:
            raise web.HTTPError(404, f"no result file {name}; results are {', '.join(_CONTENT_TYPES)}")
        content = await asyncio.to_thread(self.manager.read_result, job, name)
        if content is None:
            raise web.HTTPError(404, f"job {job_id} has no {name} (yet); its state is {job['state']}")
        self.set_header("Content-Type", _CONTENT_TYPES[name])
        if name == "notebook.html":
            self.set_header("Content-Security-Policy", NOTEBOOK_CSP)
        self.finish(content)


class SchedulesHandler(APIHandler):
    def get(self):
        self.write_json({"schedules": self.manager.list_schedules(self.owner_filter())})

    async def post(self):
        self.write_json(await self.guarded(self.manager.create_schedule(self.user_name, self.json_body())), status=201)


class ScheduleHandler(APIHandler):
    def get(self, schedule_id):
        self.write_json(self._schedule(schedule_id))

    def delete(self, schedule_id):
        self._schedule(schedule_id)
        self.manager.delete_schedule(schedule_id)
        self.set_status(204)
        self.finish()


class ScheduleActionHandler(APIHandler):
    def post(self, schedule_id, action):
        self._schedule(schedule_id)
        self.write_json(self.manager.set_paused(schedule_id, paused=(action == "pause")))


class UserDisableHandler(APIHandler):
    """An account was disabled (``vre users disable``, ``vre workshop end``): its jobs stop."""

    services_allowed = True

    async def post(self, name):
        if not (self.is_admin or "admin:users" in self.current_user.get("scopes", [])):
            raise web.HTTPError(403, "only admins can disable an account's jobs")
        result = await self.manager.disable_owner(name, reason="cancelled: account disabled")
        self.hub_auth.cache.clear()  # the next request of anyone is checked with the hub again
        self.write_json(result)


class PageHandler(BaseHandler):
    @web.authenticated
    def get(self):
        self.set_header("Content-Security-Policy", PAGE_CSP)
        self.render(
            "index.html",
            user=self.user_name,
            admin=self.is_admin,
            xsrf=self.xsrf_token.decode() if isinstance(self.xsrf_token, bytes) else self.xsrf_token,
            shipped=self.manager.shipped_notebooks,
        )


def routes(prefix: str) -> list:
    p = prefix.rstrip("/")
    return [
        (rf"{p}/?", PageHandler),
        (rf"{p}/oauth_callback", HubOAuthCallbackHandler),
        (rf"{p}/api/info", InfoHandler),
        (rf"{p}/api/notebooks", NotebookHandler),
        (rf"{p}/api/jobs", JobsHandler),
        (rf"{p}/api/jobs/([\w-]+)", JobHandler),
        (rf"{p}/api/jobs/([\w-]+)/cancel", JobCancelHandler),
        (rf"{p}/api/jobs/([\w-]+)/files/([\w.]+)", JobFileHandler),
        (rf"{p}/api/schedules", SchedulesHandler),
        (rf"{p}/api/schedules/([\w-]+)", ScheduleHandler),
        (rf"{p}/api/schedules/([\w-]+)/(pause|resume)", ScheduleActionHandler),
        (rf"{p}/api/users/([^/]+)/disable", UserDisableHandler),
    ]
