"""What ``jupyterhub_config.py`` needs to run the jobs service as a hub-managed service.

In the config's jobs section::

    from vre_jobs.hubconfig import service_config, grant_user_access
    service, role = service_config(state_dir=state.path, image=c.VRESpawner.image)
    c.JupyterHub.services.append(service)
    c.JupyterHub.load_roles.append(role)
    grant_user_access(c.JupyterHub.load_roles)

Settings come from the arguments, then ``VRE_JOBS_*`` environment variables, and any
``JobsService`` trait can be set in ``<state_dir>/vre_jobs_config.py``
(``c.JobsService.max_concurrent = 4``), which the service loads at each start.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vre_core.naming import JOBS_PORT, JOBS_SERVICE

SERVICE_NAME = JOBS_SERVICE
#: What a user's token needs to use the service (OAuth tokens issued for it carry it).
ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"


def service_config(
    state_dir: str | os.PathLike,
    image: str | None = None,
    port: int | None = None,
    db_url: str | None = None,
    python: str = sys.executable,
    extra_args: list[str] | None = None,
    ip: str = "127.0.0.1",
    network: str | None = None,
) -> tuple[dict, dict]:
    """The ``c.JupyterHub.services`` entry and the service's role.

    The role is empty on purpose: the service checks users' tokens with the hub using
    those tokens themselves and runs containers through Docker, so its own token needs
    no scope. It listens on ``ip`` (the users' network gateway, see vre_hub.network) at
    ``port``: ``VRE_JOBS_PORT``, else the fixed JOBS_PORT, so that the ``VRE_JOBS_URL`` of
    running servers stays right across hub restarts. ``network``: Docker network of job
    containers.
    """
    state_dir = Path(state_dir)
    port = port or int(os.environ.get("VRE_JOBS_PORT") or JOBS_PORT)
    db_url = db_url or os.environ.get("VRE_JOBS_DB_URL") or f"sqlite:///{state_dir / 'vre-jobs.sqlite'}"
    command = [python, "-m", "vre_jobs", f"--JobsService.db_url={db_url}"]
    if image:
        command.append(f"--JobsService.image={image}")
    if network:
        command.append(f"--JobsService.network_mode={network}")
    config_file = state_dir / "vre_jobs_config.py"
    command.append(f"--JobsService.config_file={config_file}")
    command += extra_args or []
    service = {
        "name": SERVICE_NAME,
        "display": True,
        "info": {"description": "Run notebooks with parameters, as sweeps or on a schedule (papermill)"},
        "url": f"http://{ip}:{port}",
        "command": command,
        "cwd": str(state_dir),
        "oauth_no_confirm": True,
        # Services get a minimal environment; the Docker SDK needs DOCKER_HOST if set, the
        # batch backends' commands SLURM_CONF / PBS_CONF_FILE, PBS_SERVER (vre_jobs.batch).
        "environment": {k: v for k, v in os.environ.items() if k.startswith(("DOCKER_", "VRE_", "SLURM_CONF", "PBS_"))},
    }
    role = {
        "name": "vre-jobs-service",
        "description": "The jobs service: no hub scopes needed (it authenticates users with their own tokens)",
        "scopes": [],
        "services": [SERVICE_NAME],
    }
    return service, role


def grant_user_access(load_roles: list, roles: tuple[str, ...] = ("user", "server")) -> None:
    """Let every user's API tokens (``user``) and server tokens (``server``, the
    ``JUPYTERHUB_API_TOKEN`` the CLI uses in a session) call the service.

    Extends these roles where the config defines them, else defines them with
    JupyterHub's default scopes plus access to the service.
    """
    defaults = {"user": ["self"], "server": ["users:activity!user", "access:servers!server"]}
    for name in roles:
        role = next((r for r in load_roles if r.get("name") == name), None)
        if role is None:
            role = {"name": name, "scopes": list(defaults[name])}
            load_roles.append(role)
        scopes = role.setdefault("scopes", list(defaults[name]))
        if ACCESS_SCOPE not in scopes:
            scopes.append(ACCESS_SCOPE)
