"""Dask Gateway for the VRE (issue 16): users' Dask clusters, on this host or on a Slurm cluster.

* ``backends``: the gateway's backends with the VRE's per-user limits (local processes run
  as the user's account, or Slurm jobs submitted as the user);
* ``gateway_config.py``: the gateway's configuration, read top to bottom;
* ``hubconfig``: the hub-managed ``dask-gateway`` service for ``jupyterhub_config.py``;
* ``client``: the one-line helper for notebooks (``vre_gateway.client.new_cluster``).
"""

SERVICE_NAME = "dask-gateway"
#: What a user's token needs to use the gateway (JupyterHub RBAC, checked by the gateway).
ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
