"""What ``jupyterhub_config.py`` needs to run the Dask Gateway as a hub-managed service.

In the config's gateway section::

    from vre_gateway import hubconfig as gateway
    address, tcp_address = gateway.addresses(hub_api_ip)
    service, role = gateway.service_config(state.path, state.secret("gateway_db_key"), address, tcp_address)
    c.JupyterHub.services.append(service)
    c.JupyterHub.load_roles.append(role)
    c.VRESpawner.environment.update(gateway.client_environment(address, tcp_address))

The gateway's own settings are in ``gateway_config.py`` (VRE_GATEWAY_* variables, and
``$VRE_STATE_DIR/vre_gateway_config.py`` for any trait).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path

from vre_gateway import ACCESS_SCOPE, SERVICE_NAME  # noqa: F401 (ACCESS_SCOPE: for jupyterhub_config)

CONFIG_FILE = Path(__file__).with_name("gateway_config.py")
# Passed on to the gateway (services get a minimal environment): its settings, and where
# the Slurm commands find their cluster, the Docker engine.
PASSED_ON = ("VRE_", "SLURM_CONF", "DOCKER_")


def addresses(ip: str) -> tuple[str, str]:
    """Where the gateway listens: HTTP and scheduler (TLS) ``host:port``.

    ``VRE_GATEWAY_ADDRESS``/``VRE_GATEWAY_TCP_ADDRESS`` if set, else ``ip`` (the users'
    network gateway, where the hub API and the jobs service listen, so that servers and the
    docker backend's schedulers reach it) at ``VRE_GATEWAY_PORT``/``VRE_GATEWAY_TCP_PORT``
    (fixed defaults in vre_core.naming; the launcher opens them in the users' firewall).
    """
    from vre_core.naming import GATEWAY_PORT, GATEWAY_TCP_PORT

    env = os.environ.get
    return (
        env("VRE_GATEWAY_ADDRESS") or f"{ip}:{env('VRE_GATEWAY_PORT') or GATEWAY_PORT}",
        env("VRE_GATEWAY_TCP_ADDRESS") or f"{ip}:{env('VRE_GATEWAY_TCP_PORT') or GATEWAY_TCP_PORT}",
    )


def service_config(
    state_dir: str | os.PathLike,
    encrypt_key: str,
    address: str,
    tcp_address: str,
    image: str = "",
    network: str = "",
    host_config: dict | None = None,
    python: str = sys.executable,
    public_url: str = "",
) -> tuple[dict, dict]:
    """The ``c.JupyterHub.services`` entry and the gateway's role.

    ``encrypt_key``: a generated hex secret of 32 bytes (the hub's state folder keeps it);
    the gateway encrypts the clusters' TLS keys with it in its database. ``image``,
    ``network``, ``host_config``: the spawner's, for the docker backend's containers
    (``VRE_GATEWAY_NETWORK`` overrides the network). ``public_url``: the gateway's own
    origin when services have subdomains (dashboards' websockets from elsewhere refused). The gateway checks each user's token
    by asking the hub with that token; its own role only lists whose servers run.
    """
    state_dir = Path(state_dir)
    environment = {k: v for k, v in os.environ.items() if k.startswith(PASSED_ON)}
    environment.update(VRE_GATEWAY_ADDRESS=address, VRE_GATEWAY_TCP_ADDRESS=tcp_address)
    environment.setdefault("VRE_GATEWAY_DB_URL", f"sqlite:///{state_dir / 'vre-gateway.sqlite'}")
    environment["VRE_STATE_DIR"] = str(state_dir)
    environment["VRE_GATEWAY_IMAGE"] = image
    environment.setdefault("VRE_GATEWAY_NETWORK", network)
    environment["VRE_GATEWAY_HOST_CONFIG"] = json.dumps(host_config or {})
    environment["VRE_GATEWAY_PUBLIC_URL"] = public_url
    environment["DASK_GATEWAY_ENCRYPT_KEYS"] = base64.urlsafe_b64encode(bytes.fromhex(encrypt_key)).decode()
    service = {
        "name": SERVICE_NAME,
        "url": f"http://{address}",
        "command": [python, "-m", "dask_gateway_server", "-f", str(CONFIG_FILE)],
        "cwd": str(state_dir),
        "environment": environment,
        # Browsers log in to the dashboards with the hub (OAuth); the gateway is part of
        # the hub, so no "authorize this service" page.
        "oauth_no_confirm": True,
    }
    role = {
        "name": "vre-dask-gateway",
        "description": "The Dask Gateway: sees whose servers run (to stop their clusters with them)",
        "scopes": ["list:users", "read:servers"],
        "services": [SERVICE_NAME],
    }
    return service, role


def client_environment(address: str, tcp: str, public_url: str = "") -> dict:
    """What ``dask_gateway.Gateway()`` in a user's server reads: the gateway's HTTP and
    scheduler addresses, authentication with the server's JupyterHub token, and where a
    browser opens dashboards (``cluster.dashboard_link``): through the hub's proxy, at
    ``public_url`` (the gateway's origin when services have their own subdomain; default:
    the page's own origin, a path)."""
    return {
        "DASK_GATEWAY__ADDRESS": f"http://{address}/services/{SERVICE_NAME}",
        "DASK_GATEWAY__PROXY_ADDRESS": f"gateway://{tcp}",
        "DASK_GATEWAY__PUBLIC_ADDRESS": f"{public_url.rstrip('/')}/services/{SERVICE_NAME}",
        "DASK_GATEWAY__AUTH__TYPE": "jupyterhub",
    }
