"""``JobsService``: the jobs service as a traitlets Application.

Started by the hub as a managed service (see :mod:`vre_jobs.hubconfig`); reads the
hub's ``JUPYTERHUB_*`` environment for its URL, prefix and OAuth client, and its own
options from the command line (``--JobsService.max_concurrent=4``) or a config file
(``-f vre_jobs_config.py``, ``c.JobsService.mem_limit = "4G"``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuth
from tornado import web
from traitlets import Bool, Enum, Float, Integer, Unicode, default
from traitlets.config import Application
from vre_core.errors import VREError
from vre_core.naming import RUN_AS, home_volume_name, user_image_tag
from vre_core.web import static_settings

from . import __version__
from .batch import BACKENDS, BatchBackend, PBSBackend, SlurmBackend
from .containers import ContainerLimits, DockerBackend
from .db import open_database
from .handlers import routes
from .manager import JobManager, Limits


#: Largest request body: a submission of the largest sweep is far smaller.
MAX_BODY_BYTES = 4 * 1024 * 1024


def default_volume_name(username: str) -> str:
    """The user's home volume, named as DockerSpawner names it for this hub."""
    return home_volume_name(username)


class JobsService(Application):
    name = "vre-jobs"
    description = "Scheduled parameterised notebooks (papermill) as a JupyterHub service."
    version = __version__

    config_file = Unicode("", help="Python config file to load (c.JobsService.<trait> = ...).").tag(config=True)

    classes = [BatchBackend, SlurmBackend, PBSBackend]  # noqa: RUF012 (traitlets' own convention)

    backend = Enum(
        ["docker", *BACKENDS],
        "docker",
        help="Where jobs run: 'docker', a container of the user image on this host; 'slurm' (sbatch) or "
        "'pbs' (qsub), a batch job of the user's Unix account on the site's cluster (c.BatchBackend.*: "
        "spool_dir, python, partition, account). Switch with no job running: runs are followed by the "
        "backend that started them.",
    ).tag(config=True)

    db_url = Unicode(
        "sqlite:///vre-jobs.sqlite",
        help="SQLAlchemy URL of the jobs database; relative SQLite paths are from the working directory. "
        "PostgreSQL: postgresql+psycopg://user:password@host/db",
    ).tag(config=True)

    image = Unicode(help="Docker image the jobs run in: the users' image, with papermill and nbconvert.").tag(config=True)

    @default("image")
    def _image_default(self):
        return user_image_tag()

    python = Unicode("python3", help="Python interpreter (in the image) that runs papermill.").tag(config=True)

    max_concurrent = Integer(2, help="Jobs running at once, all users together; the rest wait queued.").tag(config=True)
    max_per_user = Integer(2, help="Jobs of one user running at once.").tag(config=True)
    max_queued_per_user = Integer(
        500,
        help="Jobs of one user waiting at once; a submission (or a schedule's run) that would exceed it "
        "is refused (HTTP 429). Free slots go to the user with the fewest running jobs, so a long "
        "queue of one user delays the others by at most one job each.",
    ).tag(config=True)
    default_timeout = Integer(3600, help="Wall-clock limit (s) of a job that does not set one.").tag(config=True)
    max_timeout = Integer(24 * 3600, help="Largest timeout (s) a submission may ask for.").tag(config=True)
    max_retries = Integer(3, help="Largest number of retries a submission may ask for.").tag(config=True)

    mem_limit = Unicode("2G", help="Memory limit of a job container (docker syntax: 512M, 2G).").tag(config=True)
    cpu_limit = Float(1.0, help="CPU limit of a job container, in cores.").tag(config=True)
    run_as = Unicode(RUN_AS, help="uid:gid the job runs as: the image's jovyan user, never root.").tag(config=True)
    network_mode = Unicode(
        "none",
        help="Docker network of job containers: the hub sets its users' network (vre_hub.network); "
        "'none' (no network) when the service runs alone.",
    ).tag(config=True)

    volume_name_template = Unicode(
        "",
        help="Docker volume holding a user's home, e.g. 'jupyterhub-user-{username}'. "
        "Empty: vre_core.naming.home_volume_name, the volume the hub's DockerSpawner mounts.",
    ).tag(config=True)

    shipped_notebooks = Unicode("/opt/vre/notebooks", help="Folder of the notebooks shipped in the image.").tag(
        config=True
    )

    ip = Unicode("127.0.0.1", help="Address to listen on when not given by the hub (JUPYTERHUB_SERVICE_URL).").tag(
        config=True
    )
    port = Integer(10101, help="Port to listen on when not given by the hub (JUPYTERHUB_SERVICE_URL).").tag(config=True)

    auth_cache_seconds = Integer(
        5,
        help="Seconds the hub's answer to 'who is this token or login?' is reused; a token revoked or an "
        "account disabled at the hub is refused here within that time (at least 1).",
    ).tag(config=True)

    tick = Float(1.0, help="Seconds between checks of schedules and the queue (changes wake it at once).").tag(
        config=True
    )
    keep_containers = Bool(False, help="Keep finished job containers (for debugging) instead of removing them.").tag(
        config=True
    )

    aliases = {  # noqa: RUF012 (traitlets' own convention)
        "f": "JobsService.config_file",
        "config": "JobsService.config_file",
        "db-url": "JobsService.db_url",
        "image": "JobsService.image",
        "port": "JobsService.port",
        "log-level": "Application.log_level",
    }

    @default("log_level")
    def _log_level_default(self):
        return logging.INFO

    def volume_for(self, username: str) -> str:
        if self.volume_name_template:
            return self.volume_name_template.format(username=username)
        return default_volume_name(username)

    def initialize(self, argv=None):
        self.parse_command_line(argv)
        if self.config_file:
            path = Path(self.config_file)
            self.load_config_file(path.name, path=str(path.parent))
            self.parse_command_line(argv)  # the command line wins over the file
        # One logger for the whole service, formatted like the hub's log it ends up in.
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("[%(levelname)1.1s %(asctime)s vre-jobs %(module)s:%(lineno)d] %(message)s")
        )
        jobs_log = logging.getLogger("vre_jobs")
        jobs_log.setLevel(self.log_level)
        jobs_log.handlers = [handler]
        jobs_log.propagate = False
        self.log = jobs_log

    def make_manager(self) -> JobManager:
        files = DockerBackend(
            self.image,
            ContainerLimits(self.mem_limit, self.cpu_limit, self.run_as, self.network_mode),
            python=self.python,
            # Stable across restarts of this service, distinct from other services on the engine.
            identity="db-" + hashlib.sha256(self.db_url.encode()).hexdigest()[:12],
        )
        backend = files  # the container backend also reads and writes the homes for batch ones
        if self.backend != "docker":
            backend = BACKENDS[self.backend](files, parent=self, log=self.log)
            backend.check_config()
        limits = Limits(
            max_concurrent=self.max_concurrent,
            max_per_user=self.max_per_user,
            max_queued_per_user=self.max_queued_per_user,
            default_timeout=self.default_timeout,
            max_timeout=self.max_timeout,
            max_retries=self.max_retries,
            tick=self.tick,
            keep_containers=self.keep_containers,
        )
        return JobManager(open_database(self.db_url), backend, self.volume_for, limits, self.shipped_notebooks)

    async def serve(self) -> None:
        manager = self.make_manager()
        prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/jobs/")
        # The handlers' (singleton) hub client; 0 would mean "cache forever" to it.
        HubOAuth.instance(parent=self, cache_max_age=max(1, self.auth_cache_seconds))
        app = web.Application(
            routes(prefix),
            jobs_manager=manager,
            template_path=str(Path(__file__).with_name("templates")),
            **static_settings(prefix, Path(__file__).with_name("static")),  # + vre_core's vre.js
            cookie_secret=os.urandom(32),
        )
        ip, port = self.ip, self.port
        if os.environ.get("JUPYTERHUB_SERVICE_URL"):
            url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
            ip, port = url.hostname or ip, url.port or port
        await manager.start()
        server = app.listen(port, ip, xheaders=True, max_body_size=MAX_BODY_BYTES)
        self.log.info(
            "vre-jobs %s on http://%s:%d%s, image %s, backend %s, db %s",
            __version__, ip, port, prefix, self.image, self.backend, self.db_url,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        self.log.info("stopping; running jobs keep running and are followed again at the next start")
        server.stop()
        await manager.stop()

    def start(self):
        asyncio.run(self.serve())


def main(argv=None) -> None:
    app = JobsService.instance()
    app.initialize(argv)
    try:
        app.start()
    except VREError as e:  # a setting that cannot work here: one line in the hub's log
        app.log.critical("error: %s", e)
        raise SystemExit(1) from None
