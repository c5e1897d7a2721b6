"""The gateway's backends, with the VRE's per-user limit on clusters.

Where workers run, and what isolates them:

* ``VRELocalBackend`` (dask-gateway's ``LocalBackend``): scheduler and workers are
  processes on the gateway's host, started as the Unix account named like the hub user
  (setuid/setgid, that account's groups only), each cluster in a 0700 working folder
  with its own TLS key. Isolation is that of Unix accounts: one user's processes cannot
  signal, trace or read another's, but they share the host's CPUs and memory (the worker's
  memory limit is Dask's nanny, not the kernel) and its network namespace. Weaker than the
  user's container (no cgroup limits, capabilities of a normal account); kept for hosts
  where users have accounts. Needs the gateway to run as root.
* ``VRESlurmBackend`` (dask-gateway's ``SlurmBackend``): scheduler and each worker are Slurm
  jobs submitted as the user (``sbatch`` run under the user's uid), so Slurm's own limits
  (cores, memory, partition, account) and accounting apply, as for any batch job there.

Per-user limits: cores/memory per worker and workers per cluster are ``ClusterConfig``
traits and cluster options (gateway_config.py); clusters per user is
``VREBackend.max_clusters_per_user`` below.
"""

from __future__ import annotations

import asyncio
import grp
import json
import os
import pwd
import shutil
import sys
from pathlib import Path

from dask_gateway_server.backends.base import PublicException
from dask_gateway_server.backends.db_base import DBBackendBase
from dask_gateway_server.backends.jobqueue.slurm import SlurmBackend
from dask_gateway_server.backends.local import LocalBackend
from dask_gateway_server.models import ClusterStatus
from traitlets import Integer, Unicode, default

# The launcher, scheduler and worker commands of the gateway's own Python environment.
BIN = Path(sys.executable).parent


class VREBackend(DBBackendBase):
    """What both VRE backends add: a cap on each user's running clusters."""

    max_clusters_per_user = Integer(
        2,
        min=1,
        help="Clusters (pending or running) one user may have at once; one more is refused.",
        config=True,
    )

    async def start_cluster(self, user, cluster_options):
        active = await self.list_clusters(
            username=user.name, statuses=[ClusterStatus.PENDING, ClusterStatus.RUNNING]
        )
        if len(active) >= self.max_clusters_per_user:
            raise PublicException(
                f"{user.name} already has {len(active)} Dask clusters, the most allowed; "
                "shut one down (cluster.shutdown()) and try again"
            )
        return await super().start_cluster(user, cluster_options)


class VRELocalBackend(VREBackend, LocalBackend):
    """Workers as local processes of the user's Unix account (see the module's docstring)."""

    def set_file_permissions(self, paths, username):
        # dask-gateway-server 2026.3.0 passes the TLS files' paths as single characters
        # (`paths.extend(path)`), so their owner stays root and the user's scheduler cannot
        # read its key: give the user the whole working folder (paths[0]) instead.
        account = pwd.getpwnam(username)
        for folder, _, files in os.walk(paths[0]):
            for path in [folder, *(os.path.join(folder, f) for f in files)]:
                os.chown(path, account.pw_uid, account.pw_gid)


class VRESlurmBackend(VREBackend, SlurmBackend):
    """Scheduler and workers as Slurm jobs of the user.

    Differences from ``SlurmBackend``: without ``sudo`` on the host, the gateway (as root)
    runs the submit helper under the user's uid itself; ``SLURM_CONF`` (a cluster whose
    configuration is not in /etc/slurm) reaches sbatch, scancel and squeue; schedulers
    listen on ``listen_host``.
    """

    listen_host = Unicode(
        "0.0.0.0",
        help="Address schedulers and workers listen on: 0.0.0.0 where compute nodes are "
        "other hosts; 127.0.0.1 on a one-node cluster (the tests).",
        config=True,
    )

    @property
    def default_host(self):
        return self.listen_host

    @default("dask_gateway_jobqueue_launcher")
    def _default_launcher_path(self):
        own = BIN / "dask-gateway-jobqueue-launcher"
        return str(own) if own.exists() else super()._default_launcher_path()

    def _slurm_env(self) -> dict:
        return {"SLURM_CONF": os.environ["SLURM_CONF"]} if os.environ.get("SLURM_CONF") else {}

    def get_submit_cmd_env_stdin(self, cluster, worker=None):
        cmd, env, script = super().get_submit_cmd_env_stdin(cluster, worker)
        return cmd, {**env, **self._slurm_env()}, script

    def get_stop_cmd_env(self, job_id):
        cmd, env = super().get_stop_cmd_env(job_id)
        return cmd, {**env, **self._slurm_env()}

    def get_status_cmd_env(self, job_ids):
        cmd, env = super().get_status_cmd_env(job_ids)
        return cmd, {**env, **self._slurm_env()}

    async def do_as_user(self, user, action, **kwargs):
        if os.geteuid() != 0 or shutil.which("sudo"):
            return await super().do_as_user(user, action, **kwargs)
        account = pwd.getpwnam(user)
        if account.pw_uid == 0:
            raise PublicException("Dask clusters are not started for root")
        groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
        proc = await asyncio.create_subprocess_exec(
            self.dask_gateway_jobqueue_launcher,
            user=account.pw_uid,
            group=account.pw_gid,
            extra_groups=groups,
            env={"HOME": account.pw_dir},  # what `sudo -H` gives the launcher
            cwd=account.pw_dir,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await proc.communicate(json.dumps({**kwargs, "action": action}).encode())
        if proc.returncode != 0:
            raise Exception(
                f"dask-gateway-jobqueue-launcher failed ({proc.returncode}): {stderr.decode(errors='replace')}"
            )
        result = json.loads(stdout)
        if not result["ok"]:
            raise Exception(result["error"])
        return result["returncode"], result["stdout"], result["stderr"]
