# Configuration of the VRE's Dask Gateway (dask-gateway-server -f <this file>), read top to
# bottom. The hub starts the gateway as its `dask-gateway` service (vre_gateway.hubconfig),
# with the VRE_GATEWAY_* variables below; any trait can be overridden in
# $VRE_STATE_DIR/vre_gateway_config.py, loaded last.
# ruff: noqa: F821  (`c` and `load_subconfig` are given by traitlets)
import json
import os
from pathlib import Path

from dask_gateway_server.options import Float, Integer, Options

from vre_gateway.backends import BIN

env = os.environ.get

# --- who may use it: the hub's users, with their tokens ----------------------------------
# The gateway asks the hub who a token belongs to; since the hub starts it as a service,
# tokens need `access:services!service=dask-gateway` (granted to users' tokens by the hub).
# Dashboards: only for the cluster's owner, logged in with the hub (vre_gateway/dashboards.py).
c.DaskGateway.authenticator_class = "vre_gateway.dashboards.DashboardAuthenticator"

# --- where it listens ----------------------------------------------------------------------
# HTTP (the API and dashboards) under the hub's service prefix: the hub's proxy forwards
# /services/dask-gateway/ here. TCP: clients' TLS connections to their schedulers. The hub
# gives both (vre_gateway.hubconfig.addresses: the users' network gateway).
c.Proxy.address = os.environ["VRE_GATEWAY_ADDRESS"]
c.Proxy.tcp_address = os.environ["VRE_GATEWAY_TCP_ADDRESS"]
c.Proxy.prefix = env("JUPYTERHUB_SERVICE_PREFIX", "/services/dask-gateway/")

# --- where clusters run ------------------------------------------------------------------
# docker: containers of the user image with the user's limits; local: processes of the
# user's Unix account on this host; slurm: Slurm jobs of the user (vre_gateway/backends.py
# says what isolates them).
BACKENDS = {
    "docker": "vre_gateway.backends.VREDockerBackend",
    "local": "vre_gateway.backends.VRELocalBackend",
    "slurm": "vre_gateway.backends.VRESlurmBackend",
}
backend = env("VRE_GATEWAY_BACKEND", "local")
if backend not in BACKENDS:
    raise ValueError(f"VRE_GATEWAY_BACKEND={backend!r}: use one of {', '.join(BACKENDS)}")
c.DaskGateway.backend_class = BACKENDS[backend]
# Clusters survive a gateway restart (state in the hub's state folder, secrets encrypted
# with DASK_GATEWAY_ENCRYPT_KEYS, which the hub generates).
c.DBBackendBase.db_url = env("VRE_GATEWAY_DB_URL", "sqlite:///:memory:")
# Scheduler and workers of local and slurm: the gateway's own Python environment (a Slurm
# site whose compute nodes do not see this path sets scheduler_cmd/worker_cmd to theirs);
# docker: the image's. (distributed >= 2025 has `dask scheduler`, no dask-scheduler script.)
for _config in ("LocalClusterConfig", "SlurmClusterConfig"):
    c[_config].scheduler_cmd = [str(BIN / "dask"), "scheduler"]
    c[_config].worker_cmd = [str(BIN / "dask"), "worker"]
c.VRESlurmBackend.listen_host = env("VRE_GATEWAY_LISTEN_HOST", "0.0.0.0")
# docker: the user image, the users' network and the spawner's host settings (the hub
# passes them: hubconfig.service_config).
c.VREDockerBackend.image = env("VRE_GATEWAY_IMAGE", "")
c.VREDockerBackend.network = env("VRE_GATEWAY_NETWORK", "")
c.VREDockerBackend.host_config = json.loads(env("VRE_GATEWAY_HOST_CONFIG", "{}"))
c.SlurmClusterConfig.partition = env("VRE_GATEWAY_SLURM_PARTITION", "")
c.SlurmClusterConfig.account = env("VRE_GATEWAY_SLURM_ACCOUNT", "")

# --- per-user limits -----------------------------------------------------------------------
# A user chooses cores and memory per worker up to these maxima (more is refused with
# "worker_cores must be <= ..."); a cluster gets at most MAX_WORKERS workers (a larger
# scale request is cut to it, saying so); a user has at most MAX_CLUSTERS clusters.
MAX_WORKER_CORES = int(env("VRE_GATEWAY_MAX_WORKER_CORES", "2"))
MAX_WORKER_MEMORY_GIB = float(env("VRE_GATEWAY_MAX_WORKER_MEMORY_GIB", "8"))
c.ClusterConfig.cluster_max_workers = int(env("VRE_GATEWAY_MAX_WORKERS", "4"))
c.VREBackend.max_clusters_per_user = int(env("VRE_GATEWAY_MAX_CLUSTERS", "2"))


def _worker_resources(options, user):
    return {"worker_cores": options.worker_cores, "worker_memory": f"{options.worker_memory}G"}


c.Backend.cluster_options = Options(
    Integer("worker_cores", default=1, min=1, max=MAX_WORKER_CORES, label="Worker cores"),
    Float("worker_memory", default=2, min=0.5, max=MAX_WORKER_MEMORY_GIB, label="Worker memory (GiB)"),
    handler=_worker_resources,
)

# --- idle clusters ---------------------------------------------------------------------------
# A cluster with no client and no work for this long is shut down (its workers freed); a
# user's clusters are also stopped when their server stops (checked every period).
c.ClusterConfig.idle_timeout = float(env("VRE_GATEWAY_IDLE_TIMEOUT", "1800"))
c.VREBackend.server_check_period = float(env("VRE_GATEWAY_SERVER_CHECK_PERIOD", "30"))

# --- local overrides -----------------------------------------------------------------------
_extra = Path(env("VRE_STATE_DIR", ".")) / "vre_gateway_config.py"
if _extra.exists():
    load_subconfig(str(_extra))
