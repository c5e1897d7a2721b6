"""A real one-node Slurm cluster for tests, started without systemd (fixture module).

Debian's ``slurm-wlm`` and ``munge`` (installed by ``tests/run``): ``munged`` runs as user
``munge`` with the key the package made in /etc/munge, ``slurmctld`` as user ``slurm`` and
``slurmd`` as root (it must be, to start each job as the user who submitted it), with a
minimal ``slurm.conf`` naming this host. Configuration, state, spool and logs are in a
temporary folder; the commands find it through ``SLURM_CONF``, which the fixture sets for the
whole session. Jobs run as the unprivileged accounts tests make with ``unix_user`` (never
root). ``SLURM_CONF`` already set to a cluster that answers ``scontrol ping``: that cluster is
used as it is and left running.

Use from a test folder's conftest.py: ``from slurm_cluster import slurm_cluster, unix_user``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from vre_testing import free_port, need

MUNGE_SOCKET = Path("/run/munge/munge.socket.2")

# The test node declares more CPUs and memory than a 2-core CI machine has
# (SlurmdParameters=config_overrides), so that a scheduler and several one-core workers can
# all be running at once; the kernel shares the real cores between them.
NODE_CPUS = 8
NODE_MEMORY_MB = 8192

SLURM_CONF = """\
ClusterName=vretest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=slurm
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
AuthType=auth/munge
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=5
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@dataclass
class SlurmCluster:
    conf: Path
    env: dict  # os.environ plus SLURM_CONF: for the Slurm commands

    def run(self, *args: str, user: str | None = None, check: bool = True, input: str | None = None):
        """Run a Slurm command (as ``user`` if given: an unprivileged account)."""
        cmd = list(args)
        if user:
            cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *cmd]
        return subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, check=check, input=input, timeout=60
        )

    def queue(self) -> dict[str, str]:
        """Job id -> state letters (squeue %t) of every job Slurm still lists."""
        out = self.run("squeue", "-h", "-o", "%i %t").stdout
        return dict(line.split() for line in out.splitlines())

    def wait_job(self, job_id: str, timeout: float = 60) -> None:
        """Wait until ``job_id`` has left the queue."""
        deadline = time.monotonic() + timeout
        while job_id in self.queue():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Slurm job {job_id} still queued after {timeout:.0f} s")
            time.sleep(0.5)


def _munge_works() -> bool:
    if not shutil.which("munge"):
        return False
    encoded = subprocess.run(["munge", "-n"], capture_output=True)
    if encoded.returncode != 0:
        return False
    return subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True).returncode == 0


def _ping(env: dict) -> bool:
    ping = subprocess.run(["scontrol", "ping"], env=env, capture_output=True, text=True)
    return ping.returncode == 0 and "UP" in ping.stdout


def _node_idle(env: dict) -> bool:
    info = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True)
    return info.returncode == 0 and info.stdout.strip() in {"idle", "mix", "alloc"}


def _wait(what: str, condition, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} did not come up within {timeout:.0f} s\n{tail}")
        time.sleep(0.3)


#: Test sessions running at once share one munged (its socket is the host's): who uses it.
MUNGED_RECORD = Path(tempfile.gettempdir()) / "vre-test-munged.json"


@contextlib.contextmanager
def _record_lock():
    import fcntl

    with open(MUNGED_RECORD.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextlib.contextmanager
def shared_munged():
    """A working munged while the session needs it. Sessions running at once share the one a
    test session started (recorded with its pid and how many sessions use it); the last
    session to leave stops it, so that no session pulls munged from under another's jobs. A
    munged that no test session started (the host's) is used and never stopped."""
    import json
    import signal

    with _record_lock():
        record = json.loads(MUNGED_RECORD.read_text()) if MUNGED_RECORD.exists() else None
        if record and not _munge_works():
            record = None  # its munged is gone
        if record is None and not _munge_works():
            MUNGE_SOCKET.parent.mkdir(mode=0o755, exist_ok=True)
            shutil.chown(MUNGE_SOCKET.parent, "munge", "munge")
            # In the foreground (-F), as its own session: it outlives this one if others use it.
            munged = subprocess.Popen(
                ["setpriv", "--reuid=munge", "--regid=munge", "--clear-groups", "munged", "-F"],
                start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )
            _wait("munged", _munge_works, 15)
            record = {"pid": munged.pid, "sessions": 0}
        if record is not None:
            record["sessions"] += 1
            MUNGED_RECORD.write_text(json.dumps(record))
    try:
        yield
    finally:
        if record is not None:
            with _record_lock():
                record = json.loads(MUNGED_RECORD.read_text())
                record["sessions"] -= 1
                if record["sessions"] > 0:
                    MUNGED_RECORD.write_text(json.dumps(record))
                else:
                    MUNGED_RECORD.unlink()
                    try:
                        os.kill(record["pid"], signal.SIGTERM)  # the munged a test session started
                    except ProcessLookupError:
                        pass


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running one-node Slurm cluster (started here, or the one SLURM_CONF names)."""
    with running_slurm_cluster() as cluster:
        yield cluster


@contextlib.contextmanager
def running_slurm_cluster():
    """The fixture's body, for benchmarks too (``need`` skips outside pytest: call it in one)."""
    if os.environ.get("SLURM_CONF") and _ping(dict(os.environ)):
        yield SlurmCluster(Path(os.environ["SLURM_CONF"]), dict(os.environ))
        return
    need(
        all(shutil.which(c) for c in ("munged", "slurmctld", "slurmd", "sbatch")),
        "Slurm and munge are not installed (Debian: apt-get install slurm-wlm munge)",
    )
    need(os.geteuid() == 0, "the test Slurm cluster starts munged/slurmd, which needs root")
    started: list[subprocess.Popen] = []
    folder = Path(tempfile.mkdtemp(prefix="vre-slurm-"))
    folder.chmod(0o755)  # slurmctld (user slurm) and users' jobs read the configuration
    stack = contextlib.ExitStack()
    try:
        stack.enter_context(shared_munged())
        for sub in ("state", "spool"):
            (folder / sub).mkdir()
        shutil.chown(folder / "state", "slurm", "slurm")
        conf = folder / "slurm.conf"
        conf.write_text(
            SLURM_CONF.format(
                host=socket.gethostname(),
                ctld_port=free_port(),
                d_port=free_port(),
                dir=folder,
                cpus=NODE_CPUS,
                memory=NODE_MEMORY_MB,
            )
        )
        env = {**os.environ, "SLURM_CONF": str(conf)}
        for log in ("slurmctld.log", "slurmd.log"):  # slurmctld runs as slurm, writes its log
            (folder / log).touch()
            shutil.chown(folder / log, "slurm" if log == "slurmctld.log" else "root")
        # -D: in the foreground, so that these processes are ours to stop; -i: ignore state
        # a previous run could have left (there is none in a fresh folder).
        started.append(subprocess.Popen(["slurmctld", "-D", "-i"], env=env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        _wait("slurmctld", lambda: _ping(env), 30, folder / "slurmctld.log")
        started.append(subprocess.Popen(["slurmd", "-D"], env=env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
        _wait("slurmd (node idle)", lambda: _node_idle(env), 60, folder / "slurmd.log")
        os.environ["SLURM_CONF"] = str(conf)  # the gateway and jobs service under test see it
        yield SlurmCluster(conf, env)
    finally:
        os.environ.pop("SLURM_CONF", None)
        for process in reversed(started):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        stack.close()  # munged last: the daemons above used it
        shutil.rmtree(folder, ignore_errors=True)


def make_unix_user(name: str, home_root: Path) -> pwd.struct_passwd:
    """An unprivileged local account ``name`` with its home in ``home_root`` (made if missing)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    home_root.mkdir(parents=True, exist_ok=True)
    home_root.chmod(0o755)
    subprocess.run(
        ["useradd", "--create-home", "--home-dir", str(home_root / name), "--shell", "/bin/sh",
         "--user-group", name],
        check=True, capture_output=True,
    )
    return pwd.getpwnam(name)


def remove_unix_user(name: str) -> None:
    subprocess.run(["userdel", "--remove", name], capture_output=True)


@pytest.fixture(scope="session")
def unix_user():
    """Factory: ``unix_user("gwalice")`` makes an unprivileged account, removed at session end."""
    with unix_users() as make:
        yield make


@contextlib.contextmanager
def unix_users():
    need(os.geteuid() == 0, "making test accounts needs root")
    # Not under pytest's basetemp: its /tmp/pytest-of-root is 0700, closed to these accounts.
    homes = Path(tempfile.mkdtemp(prefix="vre-homes-"))
    made = []

    def make(name: str) -> pwd.struct_passwd:
        account = make_unix_user(name, homes)
        made.append(name)
        return account

    yield make
    for name in made:
        remove_unix_user(name)
    shutil.rmtree(homes, ignore_errors=True)
