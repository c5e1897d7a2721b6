# JupyterHub configuration of DATA TERRA VRE.
#
# Read top to bottom: where state lives, how the hub is reached, who can log in, how user
# servers are spawned (image, storage, limits, profiles), then the hub-managed services.
# Deployment values come from VRE_* environment variables set by `vre up` (or Ansible);
# everything else is plain traitlets config, overridable in a jupyterhub_config.d/ file.
import os
import sys
from pathlib import Path

from vre_core.naming import HUB_API_PORT, HUB_PORT, JOBS_SERVICE, PROXY_API_PORT, user_image_tag
from vre_core.state import StateDir

c = get_config()  # noqa: F821 (provided by JupyterHub)
env = os.environ.get

# --- state: database, secrets, logs ------------------------------------------------------
state = StateDir().ensure()
c.JupyterHub.db_url = env("VRE_DB_URL", state.db_url)
c.JupyterHub.cookie_secret_file = str(state.cookie_secret_file)
c.JupyterHub.pid_file = str(state.pid_file)
c.ConfigurableHTTPProxy.auth_token = state.secret("proxy_token")
c.ConfigurableHTTPProxy.pid_file = str(state.path / "proxy.pid")
c.JupyterHub.cleanup_servers = False  # a hub restart leaves running servers alone

# --- how the hub is reached ----------------------------------------------------------------
# User and job containers are on their own Docker network (VRE_NETWORK, default vre-users,
# made with its host firewall rules by `vre up`, see vre_hub/network.py). The hub API and
# the jobs service listen on its gateway, the host's side of the bridge, which containers
# reach; the public port and the proxy API stay on 127.0.0.1, which they cannot.
# VRE_NETWORK=host (every container in the host's network, reaching every loopback service
# and every user's kernels) is unsafe: only for a test that shows it.
from vre_hub import network  # noqa: E402

user_network = network.network_name()
hub_api_ip = env("VRE_HUB_API_IP") or network.hub_address(user_network)
c.JupyterHub.bind_url = f"http://{env('VRE_HUB_IP', '127.0.0.1')}:{env('VRE_HUB_PORT', HUB_PORT)}"
c.JupyterHub.hub_bind_url = f"http://{hub_api_ip}:{env('VRE_HUB_API_PORT', HUB_API_PORT)}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('VRE_PROXY_API_PORT', PROXY_API_PORT)}"
if env("VRE_PROXY_COMMAND"):
    c.ConfigurableHTTPProxy.command = [env("VRE_PROXY_COMMAND")]
# Per-user subdomains (origin isolation, see vre_hub/subdomains.py): with
# VRE_SUBDOMAIN_HOST=https://vre.example.org the hub is there and each user's server at
# <user>.vre.example.org, so what a user serves cannot act with a visitor's cookies on the
# hub or on another user's server. Needs wildcard DNS and a wildcard TLS certificate
# (Ansible: vre_wildcard_domain); http://vre.localhost:8000 works locally without DNS.
if env("VRE_SUBDOMAIN_HOST"):
    from vre_hub.subdomains import subdomain_hook  # noqa: E402

    c.JupyterHub.subdomain_host = env("VRE_SUBDOMAIN_HOST")
    c.JupyterHub.subdomain_hook = subdomain_hook

# --- who can log in ------------------------------------------------------------------------
# Default, safe on a single host: NativeAuthenticator. People sign up at /hub/signup and an
# admin approves them at /hub/authorize; `vre users add` creates approved accounts. The
# approval is the gate, so every approved account is allowed.
# Institutional SSO instead: set VRE_AUTHENTICATOR=oauth and the GenericOAuthenticator
# settings (client id/secret, authorize/token/userdata URLs) in a jupyterhub_config.d/ file.
# User names follow one rule (vre_core/naming.py: lower-case letters, digits, single
# '.-_' between them, at most 28), for every authenticator and the REST API: they name
# containers and volumes. With SSO, pick a username_claim (or username_map) that fits it.
from vre_core.naming import NAME_PATTERN  # noqa: E402

c.Authenticator.username_pattern = NAME_PATTERN
admin_user = env("VRE_ADMIN_USER", "admin")
c.Authenticator.admin_users = {admin_user}
if env("VRE_AUTHENTICATOR", "native") == "oauth":
    c.JupyterHub.authenticator_class = "generic-oauth"
    c.GenericOAuthenticator.allow_existing_users = True
else:
    # NativeAuthenticator whose sign-up refuses bad and reserved names (admins, services),
    # and which gives the admin its generated password while the hub starts, before it
    # accepts connections: nobody can sign up as the admin first.
    c.JupyterHub.authenticator_class = "vre_hub.accounts.VREAuthenticator"
    c.VREAuthenticator.admin_password_file = str(state.path / "admin_password")
    c.NativeAuthenticator.allow_all = True
    c.NativeAuthenticator.minimum_password_length = 10
    c.NativeAuthenticator.check_common_password = True
    c.NativeAuthenticator.allowed_failed_logins = 5
    c.NativeAuthenticator.seconds_before_next_try = 60
    import nativeauthenticator

    # Its sign-up and authorization pages.
    c.JupyterHub.template_paths = [str(Path(nativeauthenticator.__file__).parent / "templates")]

# --- user servers --------------------------------------------------------------------------
c.JupyterHub.spawner_class = "vre_hub.spawner.VRESpawner"
c.VRESpawner.image = env("VRE_USER_IMAGE", user_image_tag())
c.VRESpawner.default_url = "/lab"
c.VRESpawner.network_name = user_network  # no ports published on the host
c.JupyterHub.hub_connect_ip = env("VRE_HUB_CONNECT_IP", "")
# Profiles and limits: VRESpawner.profiles (standard 2G/1 CPU, large-memory 8G/2 CPU).
c.VRESpawner.extra_host_config = {
    "security_opt": ["no-new-privileges"],
    "cap_drop": ["ALL"],
    "pids_limit": 2048,
}
c.VRESpawner.http_timeout = 120  # many servers starting at once on a small host
c.VRESpawner.start_timeout = 120
c.JupyterHub.concurrent_spawn_limit = int(env("VRE_CONCURRENT_SPAWN_LIMIT", "40"))

# --- services ------------------------------------------------------------------------------
# vre-admin: the CLI's own token (generated, 0600 in the state folder).
c.JupyterHub.services = [{"name": "vre-admin", "api_token": state.admin_token}]
c.JupyterHub.load_roles = [
    {"name": "admin", "services": ["vre-admin"]},
]

# idle-culler: stop servers idle for VRE_CULL_TIMEOUT seconds (default 1 hour).
c.JupyterHub.services.append(
    {
        "name": "idle-culler",
        "command": [
            sys.executable, "-m", "jupyterhub_idle_culler",
            f"--timeout={env('VRE_CULL_TIMEOUT', '3600')}",
            f"--cull-every={env('VRE_CULL_EVERY', '300')}",
        ],
    }
)
c.JupyterHub.load_roles.append(
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
)

# --- jobs service (vre_jobs) ---------------------------------------------------------------
# Scheduled parameterised notebooks at /services/jobs/: runs jobs in containers of the user
# image with the user's home volume. Its options: VRE_JOBS_PORT, VRE_JOBS_DB_URL, and any
# JobsService trait in $VRE_STATE_DIR/vre_jobs_config.py.
from vre_jobs.hubconfig import grant_user_access, service_config  # noqa: E402

# It listens on a fixed port of the network's gateway and runs jobs on the same network.
_jobs_service, _jobs_role = service_config(
    state_dir=state.path, image=c.VRESpawner.image, ip=hub_api_ip, network=user_network
)
c.JupyterHub.services.append(_jobs_service)
c.JupyterHub.load_roles.append(_jobs_role)
grant_user_access(c.JupyterHub.load_roles)  # users' and servers' tokens may call it
# `vre jobs` in a session reaches the service directly, at an address that outlives hub
# restarts and that no container can bind (it is the host's).
c.VRESpawner.environment.update({"VRE_JOBS_URL": f"{_jobs_service['url']}/services/{JOBS_SERVICE}/"})

# --- Dask Gateway (vre_gateway, issue 16) ---------------------------------------------------
# Off unless VRE_GATEWAY_BACKEND is `docker` (containers of the user image), `local`
# (processes of the user's Unix account on this host) or `slurm` (Slurm jobs of the user);
# limits and addresses: VRE_GATEWAY_* variables,
# extensions/vre_gateway/gateway_config.py and $VRE_STATE_DIR/vre_gateway_config.py.
if env("VRE_GATEWAY_BACKEND"):
    from vre_gateway import hubconfig as gateway_hubconfig  # noqa: E402

    # It listens on the users' network gateway, as the jobs service (ports: vre_core.naming).
    _gateway_address, _gateway_tcp = gateway_hubconfig.addresses(hub_api_ip)
    # Browsers open dashboards through the hub's proxy; with per-user subdomains the
    # gateway, as every service, has its own origin (vre_hub.subdomains).
    _gateway_public = ""
    if env("VRE_SUBDOMAIN_HOST"):
        _scheme, _, _host = env("VRE_SUBDOMAIN_HOST").partition("://")
        _hostname, _, _port = _host.partition(":")
        _gateway_public = f"{_scheme}://{subdomain_hook(gateway_hubconfig.SERVICE_NAME, _hostname, 'service')}"
        _gateway_public += f":{_port}" if _port else ""
    _gateway_service, _gateway_role = gateway_hubconfig.service_config(
        state_dir=state.path,
        encrypt_key=state.secret("gateway_db_key"),
        address=_gateway_address,
        tcp_address=_gateway_tcp,
        # docker backend: workers as the user's servers are (image, network, host settings)
        image=c.VRESpawner.image,
        network=user_network,
        host_config=c.VRESpawner.extra_host_config,
        public_url=_gateway_public,
    )
    c.JupyterHub.services.append(_gateway_service)
    c.JupyterHub.load_roles.append(_gateway_role)
    for _role in c.JupyterHub.load_roles:  # users' and servers' tokens may use it
        if _role["name"] in ("user", "server"):
            _role["scopes"].append(gateway_hubconfig.ACCESS_SCOPE)
    c.VRESpawner.environment.update(
        gateway_hubconfig.client_environment(_gateway_address, _gateway_tcp, public_url=_gateway_public)
    )

# --- JupyterLab on a compute node (batchspawner, issue 16) ----------------------------------
# Off unless VRE_COMPUTE_NODE=slurm: then the spawn form (and {"profile": ...} in the REST
# API) offers, beside the container profiles, "compute-node": the user's JupyterLab as a
# Slurm batch job of the Unix account named like the user (vre_hub/compute_node.py: who
# runs it, what isolates it). The hub must run where sbatch works (SLURM_CONF, munge) and
# know the users' accounts; the job's node must reach the hub API and be reached by the
# proxy. Job resources: VRE_COMPUTE_NODE_{PARTITION,ACCOUNT,RUNTIME,MEMORY,CPUS}; where the
# server listens on the node: VRE_COMPUTE_NODE_IP; any other VRESlurmSpawner trait
# (req_prologue, batch_script...) in jupyterhub_config.d/.
if env("VRE_COMPUTE_NODE"):
    if env("VRE_COMPUTE_NODE") != "slurm":
        raise ValueError(f"VRE_COMPUTE_NODE={env('VRE_COMPUTE_NODE')!r}: use 'slurm' (or unset it)")
    import batchspawner  # noqa: E402, F401  (registers the hub API route its servers report their port to)

    c.JupyterHub.spawner_class = "vre_hub.compute_node.VREProfilesSpawner"
    c.VRESlurmSpawner.req_partition = env("VRE_COMPUTE_NODE_PARTITION", "")
    c.VRESlurmSpawner.req_account = env("VRE_COMPUTE_NODE_ACCOUNT", "")
    c.VRESlurmSpawner.req_runtime = env("VRE_COMPUTE_NODE_RUNTIME", "8:00:00")
    c.VRESlurmSpawner.req_memory = env("VRE_COMPUTE_NODE_MEMORY", "8G")
    c.VRESlurmSpawner.req_nprocs = env("VRE_COMPUTE_NODE_CPUS", "2")
    c.VRESlurmSpawner.ip = env("VRE_COMPUTE_NODE_IP", "0.0.0.0")
    c.VRESlurmSpawner.start_timeout = 300  # a job may wait in the queue

# --- workshops (vre_workshop) ---------------------------------------------------------------
# Each workshop recorded by `vre workshop create` gets its teacher role (scoped to the
# workshop's group); the idle culler keeps workshop servers longer during class; servers are
# refused to participants of an ended workshop. Roles load at start: restart after `create`.
from vre_workshop import hubconfig as workshop_hubconfig  # noqa: E402

workshop_hubconfig.apply(c, state.path)
# The teacher's console at /services/workshop/: teachers (hub group `teachers`) create and
# run their workshops from a browser; it acts with its own token, so no restart is needed.
_workshop_service, _workshop_role = workshop_hubconfig.service_config(state.path)
c.JupyterHub.services.append(_workshop_service)
c.JupyterHub.load_roles.append(_workshop_role)
workshop_hubconfig.grant_console_access(c.JupyterHub.load_roles)

# --- harvested catalogues (issue 15) -------------------------------------------------------
# `vre catalog harvest` (by hand or the Ansible cron task) writes the poles' catalogues on this host; every
# user server sees that folder read-only, and $VRE_HARVESTED_CATALOG names its root for intake and the
# DatasetBrowser. Created here if missing, so a first harvest after the hub started is seen without a restart.
from vre_catalog.harvest import HARVESTED_DIR, HARVESTED_MOUNT, ROOT_NAME  # noqa: E402

harvested_dir = Path(env("VRE_HARVESTED_DIR", str(HARVESTED_DIR))).resolve()
try:
    harvested_dir.mkdir(parents=True, exist_ok=True)
except OSError as error:  # e.g. a read-only checkout: no mount, the hub still starts
    print(f"harvested catalogues not mounted: cannot create {harvested_dir} ({error})", file=sys.stderr)
else:
    c.VRESpawner.volumes.update({str(harvested_dir): {"bind": HARVESTED_MOUNT, "mode": "ro"}})
    c.VRESpawner.environment.update({"VRE_HARVESTED_CATALOG": f"{HARVESTED_MOUNT}/{ROOT_NAME}"})

# --- a killed hub leaves no service behind (issue 17) ----------------------------------------
# Every service above ends when its hub dies (SIGKILL, crash): a hub started again never finds
# an old service on its port. Running jobs and servers are containers: they keep running.
from vre_hub.launcher import die_with_hub  # noqa: E402

die_with_hub(c.JupyterHub.services)

# --- local overrides -----------------------------------------------------------------------
# Files in $VRE_STATE_DIR/jupyterhub_config.d/*.py are loaded last (operator settings, SSO).
for extra in sorted((state.path / "jupyterhub_config.d").glob("*.py")):
    load_subconfig(str(extra))  # noqa: F821
