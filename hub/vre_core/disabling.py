"""Disabling an account so that nothing it holds keeps working.

``vre users disable NAME`` and ``vre workshop end`` (for each participant) do, in order:

1. turn login off (NativeAuthenticator's ``is_authorized``); the hub's
   :meth:`vre_hub.accounts.VREAuthenticator.refresh_user` then also refuses the account's
   existing hub cookies and tokens within seconds, on every request;
2. revoke its tokens (API tokens, its server's, and the OAuth tokens behind its cookies in
   services such as the jobs page, which asks the hub about every request);
3. stop its server (the home stays);
4. cancel its queued and running jobs (``cancelled: account disabled``) and pause its
   schedules, through the jobs service's admin API.

Nothing is deleted, and running it again is safe. ``vre users enable NAME`` lets the
person log in again; their schedules stay paused until they resume them.
"""

from collections.abc import Iterator
from urllib.parse import quote

from . import accounts
from .errors import VREError
from .hub import APIError, HubClient
from .naming import JOBS_SERVICE


class AccountError(VREError, RuntimeError):
    """A one-line reason the account could not be (fully) disabled, with what to do."""


def stop_jobs(hub: HubClient, name: str) -> str:
    """Cancel ``name``'s jobs and pause its schedules in the jobs service; what was done."""
    jobs = hub.service(JOBS_SERVICE)
    if jobs is None:
        return "no jobs service"
    try:
        response = jobs.request("POST", f"/api/users/{quote(name, safe='')}/disable", check=False)
    except APIError as error:  # no answer
        raise AccountError(f"the jobs service did not stop {name}'s jobs ({error.what})", "run the command again once it answers") from None
    if response.status_code != 200:
        raise AccountError(
            f"the jobs service did not stop {name}'s jobs (HTTP {response.status_code})",
            "run the command again once it answers",
        )
    done = response.json()
    return f"{done['cancelled']} job(s) cancelled, {done['paused_schedules']} schedule(s) paused"


def disable_account(hub: HubClient, name: str, db_url: str) -> Iterator[str]:
    """Disable ``name`` (see the module's docstring), saying what was done step by step."""
    if hub.request("GET", hub.user_path(name), check=False).status_code == 404:
        raise AccountError(f"no user {name!r} on this hub; check the name (`vre status` lists users)")
    if accounts.set_authorized(name, False, db_url):
        yield "login disabled"
    else:
        yield "no password account here (single sign-on?): block the person at the identity provider too"
    yield f"{hub.revoke_tokens(name)} token(s) revoked"
    if (hub.get(hub.user_path(name)).get("servers") or {}).get(""):
        try:
            hub.stop_server(name, wait=120)
        except APIError as error:
            raise AccountError(f"{name}'s server did not stop ({error}); run the command again") from None
        yield "server stopped (home kept)"
    yield stop_jobs(hub, name)


def enable_account(name: str, db_url: str) -> str:
    if not accounts.set_authorized(name, True, db_url):
        raise AccountError(f"no password account {name!r}; create it with `vre users add {name}`")
    return "login enabled; the person logs in again (old tokens stay revoked, schedules stay paused)"
