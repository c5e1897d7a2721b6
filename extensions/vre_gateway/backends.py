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
import json
import os
import pwd
import shutil
import sys
from pathlib import Path

from dask_gateway_server.backends.base import ClusterConfig, PublicException
from dask_gateway_server.backends.db_base import DBBackendBase
from dask_gateway_server.backends.jobqueue.slurm import SlurmBackend
from dask_gateway_server.backends.local import LocalBackend
from dask_gateway_server.models import ClusterStatus
from dask_gateway_server.traitlets import Type
from traitlets import Dict, Float, Integer, Unicode, default
from vre_core.errors import VREError
from vre_core.unix import account_groups, unix_account

# The launcher, scheduler and worker commands of the gateway's own Python environment.
BIN = Path(sys.executable).parent


class VREBackend(DBBackendBase):
    """What the VRE backends add: a cap on each user's clusters, and clusters stopped when
    their user's server stops."""

    max_clusters_per_user = Integer(
        2,
        min=1,
        help="Clusters (pending or running) one user may have at once; one more is refused.",
        config=True,
    )
    server_check_period = Float(
        30,
        min=0,
        help="Every this many seconds, the clusters of users whose server has stopped since "
        "the last check are stopped (users who never had a server, e.g. API clients, keep "
        "theirs until idle). 0: never.",
        config=True,
    )

    async def setup(self, app):
        await super().setup(app)
        self._had_server: set[str] = set()
        self._start_locks: dict[str, asyncio.Lock] = {}
        if self.server_check_period:
            self._server_watch = asyncio.ensure_future(self._stop_clusters_of_stopped_servers())

    async def cleanup(self):
        if getattr(self, "_server_watch", None):
            self._server_watch.cancel()
        await super().cleanup()

    async def _users_with_servers(self) -> set[str]:
        """Names of the users with a running server (hub API, the service's own token)."""
        names, offset, limit = set(), 0, 200
        headers = {"Authorization": f"token {os.environ['JUPYTERHUB_API_TOKEN']}"}
        while True:
            url = f"{os.environ['JUPYTERHUB_API_URL']}/users?state=active&offset={offset}&limit={limit}"
            async with self.session.get(url, headers=headers) as response:
                response.raise_for_status()
                page = await response.json()
            names.update(user["name"] for user in page)
            if len(page) < limit:
                return names
            offset += limit

    async def _stop_clusters_of_stopped_servers(self):
        while True:
            await asyncio.sleep(self.server_check_period)
            try:
                with_server = await self._users_with_servers()
                stopped = self._had_server - with_server
                self._had_server = with_server
                for cluster in await self.list_clusters(statuses=[ClusterStatus.PENDING, ClusterStatus.RUNNING]):
                    if cluster.username in stopped:
                        self.log.info("Stopping cluster %s: %s's server stopped", cluster.name, cluster.username)
                        await self.stop_cluster(cluster.name)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.warning("Could not check users' servers", exc_info=True)

    async def start_cluster(self, user, cluster_options):
        # One request of a user at a time from the count to the new cluster's record:
        # processing options may wait (an operator's options callable), and two requests
        # interleaved there would both pass the cap.
        async with self._start_locks.setdefault(user.name, asyncio.Lock()):
            active = await self.list_clusters(
                username=user.name, statuses=[ClusterStatus.PENDING, ClusterStatus.RUNNING]
            )
            if len(active) >= self.max_clusters_per_user:
                raise PublicException(
                    f"{user.name} already has {len(active)} Dask clusters, the most allowed; "
                    "shut one down (cluster.shutdown()) and try again"
                )
            return await super().start_cluster(user, cluster_options)

    async def _check_cluster_proxied(self, cluster):
        # dask-gateway-server 2026.3.0 would also route /clusters/<name> to the dashboard,
        # unauthenticated; without that route the path reaches the gateway's own app, where
        # vre_gateway.dashboards lets only the cluster's owner through.
        if not cluster.added_to_proxies:
            await self.proxy.add_route(kind="SNI", sni=cluster.name, target=cluster.scheduler_address)
            cluster.added_to_proxies = True


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
        try:  # the account named like the hub user, never root (shared with the jobs service)
            account = unix_account(user)
        except VREError as e:
            raise PublicException(str(e)) from None
        groups = account_groups(account)
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


class DockerClusterConfig(ClusterConfig):
    """Cluster settings of ``VREDockerBackend``: the image's own Dask commands."""

    @default("scheduler_cmd")
    def _default_scheduler_cmd(self):
        return ["dask", "scheduler"]

    @default("worker_cmd")
    def _default_worker_cmd(self):
        return ["dask", "worker"]


class VREDockerBackend(VREBackend):
    """Scheduler and workers as containers of the user image, each with the user's limits.

    Like a user's server: uid 1000, all capabilities dropped, no new privileges, a pids
    limit (``host_config``, the spawner's ``extra_host_config``), memory (no swap beyond
    it) and CPUs set per container from the cluster's worker_memory/worker_cores, the
    user's home volume at /home/jovyan. The scheduler is on ``network`` (the users'
    network: no container-to-container traffic, only the allowed host ports); the workers
    share the scheduler's network namespace (they reach it on its loopback), so no other
    container — not another user's worker nor server — can reach a cluster. TLS key and
    certificate are copied into the containers (mode 0600, uid 1000), never in the image
    or the environment.
    """

    cluster_config_class = Type(
        "vre_gateway.backends.DockerClusterConfig",
        klass="dask_gateway_server.backends.base.ClusterConfig",
        help="The cluster config class to use",
        config=True,
    )
    image = Unicode(help="Image of schedulers and workers (the user image).", config=True)
    network = Unicode(help="Docker network of schedulers (the users' network).", config=True)
    host_config = Dict(
        help="Docker host settings of every container (the spawner's extra_host_config).", config=True
    )
    home_volume = Unicode(
        help="The user's home volume ({username} in it), mounted at /home/jovyan; "
        "default: the spawner's (vre_core.naming.home_volume_name).",
        config=True,
    )
    container_user = Unicode("1000:100", help="uid:gid of schedulers and workers (jovyan).", config=True)

    TLS_DIR = "/tmp/.dask-gateway"
    LABEL_CLUSTER = "org.dataterra.vre.dask-cluster"

    @property
    def default_host(self):
        return "0.0.0.0"  # inside the container's own network namespace

    def get_tls_paths(self, cluster):
        return f"{self.TLS_DIR}/dask.crt", f"{self.TLS_DIR}/dask.pem"

    @property
    def docker(self):
        import docker

        if not hasattr(self, "_docker"):
            self._docker = docker.from_env()
        return self._docker

    def _tls_archive(self, cluster) -> bytes:
        import io
        import tarfile

        uid, gid = (int(x) for x in self.container_user.split(":"))
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            folder = tarfile.TarInfo(self.TLS_DIR.lstrip("/"))
            folder.type, folder.mode, folder.uid, folder.gid = tarfile.DIRTYPE, 0o700, uid, gid
            tar.addfile(folder)
            for path, data in zip(self.get_tls_paths(cluster), (cluster.tls_cert, cluster.tls_key)):
                info = tarfile.TarInfo(path.lstrip("/"))
                info.size, info.mode, info.uid, info.gid = len(data), 0o600, uid, gid
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    def _run(self, cluster, name: str, command: list, env: dict, cores: float, memory: int, **network):
        """Create, fill (TLS files) and start one container; return its id."""
        container = self.docker.containers.create(
            self.image,
            entrypoint=command[:1],
            command=command[1:],
            name=name,
            user=self.container_user,
            working_dir="/tmp",
            environment=env,
            labels={self.LABEL_CLUSTER: cluster.name, "org.dataterra.vre.user": cluster.username},
            volumes={self._home(cluster.username): {"bind": "/home/jovyan", "mode": "rw"}},
            mem_limit=memory,
            memswap_limit=memory,  # no swap beyond the limit
            nano_cpus=int(cores * 1e9),
            init=True,
            **{"cap_drop": ["ALL"], "security_opt": ["no-new-privileges"], "pids_limit": 2048, **self.host_config},
            **network,
        )
        container.put_archive("/", self._tls_archive(cluster))
        container.start()
        return container.id

    def _home(self, username: str) -> str:
        from vre_core.naming import home_volume_name

        return self.home_volume.format(username=username) if self.home_volume else home_volume_name(username)

    def _remove(self, container_id: str) -> None:
        import docker.errors

        try:
            self.docker.containers.get(container_id).remove(force=True)
        except docker.errors.NotFound:
            pass

    def _running(self, container_id) -> bool:
        import docker.errors

        if not container_id:
            return False
        try:
            return self.docker.containers.get(container_id).status in ("created", "running")
        except docker.errors.NotFound:
            return False

    async def do_start_cluster(self, cluster):
        config = cluster.config
        container_id = await asyncio.to_thread(
            self._run,
            cluster,
            f"vre-dask-{cluster.name}",
            self.get_scheduler_command(cluster),
            self.get_scheduler_env(cluster),
            config.scheduler_cores,
            config.scheduler_memory,
            network=self.network,
        )
        yield {"container": container_id}

    async def do_stop_cluster(self, cluster):
        container_id = cluster.state.get("container")
        if container_id:
            # Workers share its network namespace: they go first.
            for worker in await asyncio.to_thread(
                self.docker.containers.list, all=True, filters={"label": f"{self.LABEL_CLUSTER}={cluster.name}"}
            ):
                if worker.id != container_id:
                    await asyncio.to_thread(self._remove, worker.id)
            await asyncio.to_thread(self._remove, container_id)

    async def do_check_clusters(self, clusters):
        return [await asyncio.to_thread(self._running, c.state.get("container")) for c in clusters]

    async def do_start_worker(self, worker):
        cluster = worker.cluster
        # The scheduler listens on 0.0.0.0 in its namespace, which the worker shares.
        port = cluster.scheduler_address.rsplit(":", 1)[1]
        container_id = await asyncio.to_thread(
            self._run,
            cluster,
            f"vre-dask-{cluster.name}-{worker.name}",
            self.get_worker_command(cluster, worker.name, scheduler_address=f"tls://127.0.0.1:{port}"),
            self.get_worker_env(cluster),
            cluster.config.worker_cores,
            cluster.config.worker_memory,
            network_mode=f"container:{cluster.state['container']}",
        )
        yield {"container": container_id}

    async def do_stop_worker(self, worker):
        if worker.state.get("container"):
            await asyncio.to_thread(self._remove, worker.state["container"])

    async def do_check_workers(self, workers):
        return [await asyncio.to_thread(self._running, w.state.get("container")) for w in workers]
