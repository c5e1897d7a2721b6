"""What jupyterhub_config.py needs for workshops: ``apply(c)``, called after roles and services.

* one ``load_roles`` entry per open workshop: the teacher's role scoped to the group
  (JupyterHub 5.5 creates roles only from config, at startup, so a new workshop's teacher
  role takes effect when the hub restarts; ``vre workshop create`` says so);
* the idle culler service, if configured, gets the per-workshop timeout hook;
* a pre-spawn hook refuses servers to participants of an ended workshop (their login is
  disabled, but a browser session opened before ``end`` could otherwise start one).
"""

from pathlib import Path

from vre_core.naming import JOBS_SERVICE

from .registry import Registry
from .roles import teacher_role

CULLER_CONFIG = Path(__file__).with_name("idle_culler_config.py")


def workshop_roles(state_dir) -> list[dict]:
    return [teacher_role(w) for w in Registry(state_dir).all() if not w.ended]


def _is_culler(service: dict) -> bool:
    return any("jupyterhub_idle_culler" in str(part) for part in service.get("command") or [])


def refuse_ended_workshops(state_dir):
    """A ``Spawner.pre_spawn_hook`` refusing participants of ended workshops."""

    def hook(spawner):
        from tornado import web

        for workshop in Registry(state_dir).all():
            if workshop.ended and spawner.user.name in workshop.participants:
                raise web.HTTPError(403, f"workshop {workshop.name} has ended; ask its teacher")

    return hook


SERVICE_NAME = "workshop"
#: What a user's token needs to reach the teacher's console (the console then decides who may act).
ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
#: The console acts for teachers with its own token: on users, groups, servers, tokens and
#: shares (see service.py for who may ask it what). Admin scopes, so a new workshop needs no
#: role change and no hub restart.
SERVICE_SCOPES = [
    "admin:users", "admin:groups", "admin:servers", "tokens", "shares", "read:users:name",
    "access:servers",  # the live table reads each participant server's /api/sessions
    f"access:services!service={JOBS_SERVICE}",  # `end` cancels the participants' jobs there
]


def free_loopback_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_config(state_dir, python: str | None = None) -> tuple[dict, dict]:
    """The teacher's console (``/services/workshop/``): its ``c.JupyterHub.services`` entry and role.

    It listens on loopback (only the proxy reaches it, no container) at ``VRE_WORKSHOP_PORT``,
    else a free port chosen at each hub start (the hub restarts it and re-routes it then).
    """
    import os
    import sys

    port = int(os.environ.get("VRE_WORKSHOP_PORT") or free_loopback_port())
    service = {
        "name": SERVICE_NAME,
        "display": True,
        "info": {"description": "Teacher's console: create, prewarm, watch, collect and end workshops"},
        "url": f"http://127.0.0.1:{port}",
        "command": [python or sys.executable, "-m", "vre_workshop.service"],
        "cwd": str(state_dir),
        "oauth_no_confirm": True,
        # Services get a minimal environment: Docker (home volumes) and the VRE settings.
        "environment": {
            **{k: v for k, v in os.environ.items() if k.startswith(("DOCKER_", "VRE_"))},
            "VRE_STATE_DIR": str(state_dir),
        },
    }
    role = {
        "name": "vre-workshop-service",
        "description": "The teacher's console: acts on workshops' users, groups and servers for their teachers",
        "scopes": SERVICE_SCOPES,
        "services": [SERVICE_NAME],
    }
    return service, role


def grant_console_access(load_roles: list) -> None:
    """Let every user's login and API tokens reach the console (which answers 403 to non-teachers)."""
    role = next((r for r in load_roles if r.get("name") == "user"), None)
    if role is None:
        role = {"name": "user", "scopes": ["self"]}
        load_roles.append(role)
    scopes = role.setdefault("scopes", ["self"])
    if ACCESS_SCOPE not in scopes:
        scopes.append(ACCESS_SCOPE)


def apply(c, state_dir=None) -> None:
    """Add the workshops' teacher roles and culling hook to the JupyterHub config ``c``."""
    from vre_core.state import default_state_dir

    state_dir = Path(state_dir or default_state_dir())
    roles = list(c.JupyterHub.load_roles) if "load_roles" in c.JupyterHub else []
    taken = {role["name"] for role in roles}
    roles += [role for role in workshop_roles(state_dir) if role["name"] not in taken]
    c.JupyterHub.load_roles = roles

    if "services" in c.JupyterHub:
        for service in c.JupyterHub.services:
            if _is_culler(service):
                command = list(service["command"])
                if not any(str(part).startswith("--config") for part in command):
                    command.append(f"--config={CULLER_CONFIG}")
                service["command"] = command
                service.setdefault("environment", {})["VRE_STATE_DIR"] = str(state_dir)

    if "pre_spawn_hook" not in c.Spawner:
        c.Spawner.pre_spawn_hook = refuse_ended_workshops(state_dir)
