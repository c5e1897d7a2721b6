"""What jupyterhub_config.py needs for workshops: ``apply(c)``, called after roles and services.

* one ``load_roles`` entry per open workshop: the teacher's role scoped to the group
  (JupyterHub 5.5 creates roles only from config, at startup, so a new workshop's teacher
  role takes effect when the hub restarts; ``vre workshop create`` says so);
* the idle culler service, if configured, gets the per-workshop timeout hook;
* a pre-spawn hook refuses servers to participants of an ended workshop (their login is
  disabled, but a browser session opened before ``end`` could otherwise start one).
"""

from pathlib import Path

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
