"""Jobs on a site's batch scheduler: Slurm (``sbatch``) and PBS (``qsub``), one interface.

One run (an attempt of a job, :class:`vre_jobs.backend.JobBackend`) goes like this:

1. **stage**: the service makes ``<spool_dir>/<run>/`` (0700, owned by the user's Unix
   account, :func:`vre_core.unix.unix_account`) and puts there the notebook read from the
   user's home volume (:class:`vre_core.homes.HomeVolume`), the runner (``runjob.py``, the
   same as in containers), its spec and the batch script. ``spool_dir`` is seen at the same
   path by the service and every compute node (on a site: a shared filesystem).
2. **submit** as that account (a child process with its uid, gids and a clean environment):
   ``sbatch`` / ``qsub``. The scheduler's job id is kept beside the folder
   (``<run>.id``, the service's, out of the user's reach).
3. **poll**: ``scontrol show job`` / ``qstat -x -f -F json``. When the scheduler has
   forgotten a job, the ``exit_code`` its script wrote says it ended; without one it
   vanished, and the job says so in one line.
4. **collect**: the runner's ``out/`` (notebook, HTML, log, status) is copied into the job's
   results folder in the home, owned by jovyan, as the container backend leaves it.
5. **cancel**: ``scancel`` / ``qdel`` as the user. **Timeout**: the manager's deadline,
   counted from when the scheduler starts the job (waiting in its queue does not count),
   and the scheduler's own limit (``--time`` / ``walltime``) ``time_margin`` later, for
   when the service is down.

What a job writes in its folder is untrusted (the user's code runs there): the service,
root, reads only regular files owned by the account, one link, never through a symlink,
bounded in size.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

from traitlets import Float, Integer, List, Unicode, default
from traitlets.config import LoggingConfigurable
from vre_core.errors import VREError
from vre_core.unix import account_groups, unix_account

from .backend import JobBackend
from .containers import DockerBackend, _runjob_source
from .parameters import SubmissionError

RUN_RE = re.compile(r"^vre-job-(?P<job>[A-Za-z0-9]+)-a(?P<attempt>\d+)$")
#: Largest result file copied back into the home; the runner's own are far smaller.
MAX_RESULT_BYTES = 200_000_000
SCRIPT = """\
#!/bin/sh
# One attempt of a VRE job (vre_jobs.batch): papermill on the node, as the user.
cd {folder} || exit 2
{python} runjob.py "$(cat spec.json)"
code=$?
echo "$code" > exit_code.tmp && mv exit_code.tmp exit_code
exit "$code"
"""


def memory_mb(limit: str) -> int:
    """Megabytes of a Docker-style size (``512M``, ``2G``, ``1.5g``, bytes without a unit)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", str(limit), re.IGNORECASE)
    if not match:
        raise VREError(f"memory limit {limit!r} is not a size", "write it like 512M or 2G")
    scale = {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024, "t": 2**20}[match[2].lower()]
    return max(1, math.ceil(float(match[1]) * scale))


def last_line(text: str) -> str:
    """The last non-empty line of a command's output: where the scheduler's error is."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _read_owned(dir_fd: int, name: str, uid: int, max_bytes: int) -> bytes | None:
    """The file ``name`` in ``dir_fd`` if it is a regular file of ``uid`` with one link (never
    through a symlink, never a FIFO that would block); at most ``max_bytes``."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != uid or info.st_nlink != 1 or info.st_size > max_bytes:
            return None
        chunks, left = [], max_bytes
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class BatchBackend(JobBackend, LoggingConfigurable):
    """Runs each attempt as a batch job of the user's Unix account (see the module's docstring).

    Subclasses say how to talk to their scheduler: ``submit_command``, ``parse_submit``,
    ``status_command``, ``parse_status``, ``cancel_command`` and ``describe``.
    """

    #: Human name of the scheduler, in messages.
    label = ""
    #: Environment variables of the service passed on to the scheduler's commands and jobs.
    scheduler_env: tuple[str, ...] = ()

    spool_dir = Unicode(
        "/var/spool/vre-jobs",
        help="Folder where each run's input is staged and its results written: one 0700 folder per "
        "run, owned by the user's account. Must be the same path for the service and every compute "
        "node (on a site, a shared filesystem); made (0711, root's) if missing.",
    ).tag(config=True)
    python = Unicode(
        help="Python on the compute nodes with papermill, nbconvert and a Jupyter kernel (ipykernel), "
        "readable and executable by the users' accounts; runs each job. Default: the service's own."
    ).tag(config=True)

    @default("python")
    def _python_default(self):
        return sys.executable

    partition = Unicode("", help="Slurm partition / PBS queue of the jobs; empty: the scheduler's default.").tag(
        config=True
    )
    account = Unicode("", help="Account (project) the jobs are charged to; empty: the user's default.").tag(config=True)
    extra_args = List(Unicode(), help="More options of the submit command, e.g. ['--qos=short'].").tag(config=True)
    time_margin = Integer(
        60, help="Seconds the scheduler's own time limit exceeds the job's timeout (the service kills it first)."
    ).tag(config=True)
    poll_interval = Float(1.0, help="Seconds between two queries of a running job's state.").tag(config=True)

    def __init__(self, files: DockerBackend, **kwargs):
        super().__init__(**kwargs)
        self.files = files  # the users' home volumes
        self.image, self.limits = files.image, files.limits
        self._seen: dict[str, dict] = {}  # run -> what the scheduler last said of it
        self.start_error = f"could not submit the job to {self.label}"

    def check_config(self) -> None:
        """One line about what keeps this backend from working here, at the service's start."""
        if os.geteuid() != 0:
            raise VREError(
                f"the {self.name} backend submits each job as its user's Unix account, which needs root",
                "run the jobs service as root, or use JobsService.backend = 'docker'",
            )
        if not os.access(self.python, os.X_OK):
            raise VREError(f"{self.python} (BatchBackend.python) is not an executable", "give a Python with papermill")
        for command in (self.submit_command("x", Path("/"), None)[0], self.cancel_command("1")[0]):
            if not shutil.which(command):
                raise VREError(f"{command} is not on the PATH", f"install the {self.label} client commands")
        memory_mb(self.limits.mem_limit)
        spool = Path(self.spool_dir)
        spool.mkdir(mode=0o711, parents=True, exist_ok=True)
        info = spool.lstat()
        # Users must not be able to put or rename anything beside their runs' folders.
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
            raise VREError(
                f"the spool folder {spool} must be a folder of root that only root can write in",
                f"chown root {spool} && chmod 0711 {spool}",
            )

    # --- the user's home: through the container backend's file access --------------

    def read_file(self, volume, path, max_bytes=50_000_000):
        return self.files.read_file(volume, path, max_bytes)

    def write_files(self, volume, folder, files):
        self.files.write_files(volume, folder, files)

    def expire_scratch(self, all_=False, volume=None):
        self.files.expire_scratch(all_, volume)

    def remove_stale_scratch(self):
        self.files.remove_stale_scratch()

    def check_user(self, owner: str) -> None:
        try:
            unix_account(owner)
        except VREError as e:
            raise SubmissionError(str(e)) from None

    # --- runs ----------------------------------------------------------------------------

    def _folder(self, name: str) -> Path:
        if not RUN_RE.match(name):
            raise ValueError(f"not a run name: {name!r}")
        return Path(self.spool_dir) / name

    def _id_file(self, name: str) -> Path:
        return Path(self.spool_dir) / f"{name}.id"

    def batch_id(self, name: str) -> str | None:
        """The scheduler's id of the run; looked up by job name when the service stopped between
        submitting it and noting its id (so that no run is left behind unfollowed)."""
        try:
            return self._id_file(name).read_text().strip() or None
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            return None
        if not self._folder(name).is_dir():
            return None
        found = self._query(self.find_command(name))
        ids = found.stdout.split() if found.returncode == 0 else []
        if not ids:
            return None
        self._id_file(name).write_text(ids[-1])
        return ids[-1]

    def _environment(self, extra: dict | None = None) -> dict:
        keep = {k: os.environ[k] for k in ("PATH", *self.scheduler_env) if k in os.environ}
        return {"LANG": "C.UTF-8", **keep, **(extra or {})}

    def _as_user(self, account: pwd.struct_passwd, command: list[str], env: dict, cwd: Path | str = "/"):
        """Run a scheduler command as ``account`` (never root: unix_account refuses uid 0)."""
        return subprocess.run(
            command,
            user=account.pw_uid,
            group=account.pw_gid,
            extra_groups=account_groups(account),
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def _query(self, command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self._environment(), capture_output=True, text=True, timeout=60)

    def start(self, job, volume: str) -> str:
        account = unix_account(job.owner)
        notebook = self.files.read_file(volume, job.notebook)
        if notebook is None:
            raise VREError(f"{job.notebook} is no longer in the home", "put the notebook back and submit again")
        name = self.container_name(job.id, job.attempt)
        self.remove(name)  # a leftover of a start interrupted by a restart
        folder = self._folder(name)
        folder.mkdir(mode=0o700)
        staged = folder / posixpath.basename(job.notebook)
        spec = {
            "job": job.id,
            "attempt": job.attempt,
            "notebook": str(staged),
            "parameters": job.parameters,
            "kernel": job.kernel,
            "output_dir": str(folder / "out"),
        }
        staged.write_bytes(notebook)
        (folder / "runjob.py").write_text(_runjob_source())
        (folder / "spec.json").write_text(json.dumps(spec))
        script = folder / "job.sh"
        script.write_text(SCRIPT.format(folder=shlex.quote(str(folder)), python=shlex.quote(self.python)))
        for path in (folder, *folder.iterdir()):
            os.chown(path, account.pw_uid, account.pw_gid)
        env = self._environment({
            # The run's folder is its home: the kernel's runtime files and caches stay in it.
            "HOME": str(folder),
            "PATH": f"{os.path.dirname(self.python)}:/usr/local/bin:/usr/bin:/bin",
            "JUPYTERHUB_USER": job.owner,
            "VRE_JOB_ID": job.id,
        })
        submitted = self._as_user(account, self.submit_command(name, folder, job), env, cwd=folder)
        if submitted.returncode != 0:
            why = last_line(submitted.stderr) or last_line(submitted.stdout) or f"exit code {submitted.returncode}"
            raise VREError(why, f"check the {self.label} options (BatchBackend.partition, account, extra_args)")
        batch_id = self.parse_submit(submitted.stdout)
        self._id_file(name).write_text(batch_id)
        self.log.info("%s submitted as %s job %s of %s", name, self.label, batch_id, account.pw_name)
        return batch_id

    def _exit_code(self, name: str) -> int | None:
        """What the job's script wrote when the runner ended (the user's file: bounded, an int)."""
        folder = self._folder(name)
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            text = _read_owned(fd, "exit_code", os.fstat(fd).st_uid, 64)
        finally:
            os.close(fd)
        try:
            return int(text.decode().strip()) if text else None
        except ValueError:
            return None

    def status(self, name: str) -> tuple[str | None, int | None]:
        batch_id = self.batch_id(name)
        if batch_id is None:
            return None, None
        info = self.parse_status(self._query(self.status_command(batch_id)), batch_id)
        if info is not None:
            self._seen[name] = info
            return info["phase"], info["code"]
        code = self._exit_code(name)  # the scheduler forgot it (e.g. Slurm's MinJobAge)
        return ("exited", code) if code is not None else (None, None)

    def wait(self, name: str, timeout: float) -> int | None:
        deadline = time.monotonic() + max(timeout, 0.1)
        while True:
            phase, code = self.status(name)
            if phase == "exited":
                return code if code is not None else -1
            if phase is None or time.monotonic() >= deadline:
                return None
            time.sleep(min(self.poll_interval, max(deadline - time.monotonic(), 0.05)))

    def kill(self, name: str) -> None:
        batch_id = self.batch_id(name)
        if batch_id is None:
            return
        try:
            account = unix_account(pwd.getpwuid(self._folder(name).stat().st_uid).pw_name)
        except (OSError, KeyError, VREError):
            return  # no folder, or not a user's: nothing of ours to cancel
        done = self._as_user(account, self.cancel_command(batch_id), self._environment())
        if done.returncode != 0:
            self.log.info("%s of %s: %s", self.cancel_command(batch_id)[0], name, last_line(done.stderr))

    def logs(self, name: str, tail: int = 200) -> str:
        folder = self._folder(name)
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return ""
        try:
            text = _read_owned(fd, "batch.out", os.fstat(fd).st_uid, 10_000_000) or b""
        finally:
            os.close(fd)
        return "\n".join(text.decode("utf-8", "replace").splitlines()[-tail:])

    def collect(self, name: str, volume: str, output_dir: str) -> None:
        """The runner's ``out/`` into ``output_dir`` of the home (regular files of the user only)."""
        try:
            top = os.open(self._folder(name), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return
        try:
            uid = os.fstat(top).st_uid
            try:
                out = os.open("out", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=top)
            except OSError:
                return
            try:
                files = {}
                for entry in os.listdir(out):
                    content = _read_owned(out, entry, uid, MAX_RESULT_BYTES)
                    if content is not None:
                        files[entry] = content
                    else:
                        self.log.warning("%s: %s not copied back (not a regular file of the user, or too large)", name, entry)
            finally:
                os.close(out)
        finally:
            os.close(top)
        if files:
            self.files.write_files(volume, output_dir, files)

    def end_reason(self, name: str) -> str | None:
        info = self._seen.get(name)
        return self.describe(info) if info else None

    def gone_reason(self, name: str) -> str:
        batch_id = self.batch_id(name)
        if batch_id is None:
            return f"it was never submitted to {self.label} (the service stopped while submitting it); submit it again"
        return (
            f"{self.label} job {batch_id} vanished: {self.label} no longer knows it and it wrote no exit status "
            "(cancelled or purged outside the service, or its node failed)"
        )

    def remove(self, name: str) -> None:
        phase, _ = self.status(name)
        if phase in ("pending", "running"):
            self.kill(name)
        shutil.rmtree(self._folder(name), ignore_errors=True)  # never follows the user's symlinks
        self._id_file(name).unlink(missing_ok=True)
        self._seen.pop(name, None)

    def job_containers(self) -> dict[str, str]:
        runs = {}
        try:
            names = sorted(os.listdir(self.spool_dir), key=lambda n: (len(n), n))
        except OSError:
            return runs
        for entry in names:
            match = RUN_RE.match(entry)
            if match:
                runs[match["job"]] = entry  # the latest attempt last
        return runs

    # --- the scheduler's commands (subclasses) -------------------------------------------

    def _minutes(self, job) -> int:
        return math.ceil((job.timeout + self.time_margin) / 60) if job is not None else 1

    def submit_command(self, name: str, folder: Path, job) -> list[str]:
        raise NotImplementedError

    def parse_submit(self, stdout: str) -> str:
        raise NotImplementedError

    def status_command(self, batch_id: str) -> list[str]:
        raise NotImplementedError

    def find_command(self, name: str) -> list[str]:
        """Lists (one per line) the ids of the queued or running jobs named ``name``."""
        raise NotImplementedError

    def parse_status(self, done: subprocess.CompletedProcess, batch_id: str) -> dict | None:
        """``{"phase": pending|running|exited, "code", "state", "reason", "id"}``; None if the
        scheduler no longer knows the job."""
        raise NotImplementedError

    def cancel_command(self, batch_id: str) -> list[str]:
        raise NotImplementedError

    def describe(self, info: dict) -> str | None:
        raise NotImplementedError


class SlurmBackend(BatchBackend):
    """``sbatch`` / ``scontrol show job`` / ``scancel``; ``SLURM_CONF`` is passed on."""

    name, label = "slurm", "Slurm"
    scheduler_env = ("SLURM_CONF",)
    PHASES = {
        **dict.fromkeys(("PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"), "pending"),
        # COMPLETING: Slurm shows it instead of the end state (CANCELLED, TIMEOUT...) while the
        # job's processes are cleaned up; the end state, and so why it ended, comes after.
        **dict.fromkeys(("RUNNING", "COMPLETING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESIZING", "STOPPED"), "running"),
    }  # every other state (COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL...) has ended

    def submit_command(self, name: str, folder: Path, job) -> list[str]:
        command = [
            "sbatch", "--parsable", f"--job-name={name}", f"--chdir={folder}", f"--output={folder}/batch.out",
            "--nodes=1", "--ntasks=1", f"--cpus-per-task={max(1, math.ceil(self.limits.cpu_limit))}",
            f"--mem={memory_mb(self.limits.mem_limit)}M", f"--time={self._minutes(job)}",
        ]
        command += [f"--partition={self.partition}"] if self.partition else []
        command += [f"--account={self.account}"] if self.account else []
        return [*command, *self.extra_args, str(folder / "job.sh")]

    def parse_submit(self, stdout: str) -> str:
        return stdout.strip().splitlines()[-1].split(";")[0]  # "<id>[;<cluster>]"

    def status_command(self, batch_id: str) -> list[str]:
        return ["scontrol", "show", "job", "-o", batch_id]

    def find_command(self, name: str) -> list[str]:
        return ["squeue", "--noheader", f"--name={name}", "--format=%i"]

    def parse_status(self, done, batch_id):
        if done.returncode != 0:
            if "Invalid job id" in done.stderr:
                return None
            raise VREError(f"scontrol show job {batch_id} failed: {last_line(done.stderr)}", "check that slurmctld answers")
        fields = dict(re.findall(r"(\w+)=(\S*)", done.stdout))
        state = fields.get("JobState", "UNKNOWN")
        code = None
        if "ExitCode" in fields:
            status, _, signal = fields["ExitCode"].partition(":")
            code = 128 + int(signal) if signal not in ("", "0") else int(status)
        return {"id": batch_id, "state": state, "phase": self.PHASES.get(state, "exited"),
                "code": code, "reason": fields.get("Reason", "")}

    def cancel_command(self, batch_id: str) -> list[str]:
        return ["scancel", batch_id]

    def describe(self, info):
        state, job = info["state"], f"Slurm job {info['id']}"
        if state == "COMPLETED" and not info["code"]:
            return None
        return {
            "TIMEOUT": f"{job} reached its Slurm time limit (--time) and Slurm stopped it",
            "CANCELLED": f"{job} was cancelled outside the service (scancel)",
            "NODE_FAIL": f"the node running {job} failed (NODE_FAIL)",
            "OUT_OF_MEMORY": f"out of memory: {job} used more than --mem={memory_mb(self.limits.mem_limit)}M",
            "BOOT_FAIL": f"{job} could not start: its node failed to boot (BOOT_FAIL)",
            "PREEMPTED": f"{job} was preempted by Slurm",
            "DEADLINE": f"{job} reached its deadline",
        }.get(state, f"{job} ended {state} with exit code {info['code']} (reason {info['reason'] or 'none'}); see container.log")


class PBSBackend(BatchBackend):
    """OpenPBS / PBS Pro: ``qsub`` / ``qstat -x -f -F json`` / ``qdel``. Tested on recorded
    ``qstat`` output only (no PBS server runs here; see the README)."""

    name, label = "pbs", "PBS"
    scheduler_env = ("PBS_CONF_FILE", "PBS_SERVER")
    PHASES = {**dict.fromkeys("QHWTUM", "pending"), **dict.fromkeys("RESB", "running"), **dict.fromkeys("FX", "exited")}
    #: PBS's own negative exit statuses (OpenPBS src/include/job.h, JOB_EXEC_*).
    EXIT_STATUSES = {
        -1: "PBS could not start it (JOB_EXEC_FAIL1)",
        -2: "PBS could not start it after staging files (JOB_EXEC_FAIL2)",
        -3: "PBS could not start it (JOB_EXEC_RETRY)",
        -10: "its account is not valid on the node (JOB_EXEC_FAILUID)",
        -25: "it used more CPUs than it asked (JOB_EXEC_KILL_NCPUS_SUM)",
        -26: "out of memory: it used more virtual memory than it asked (JOB_EXEC_KILL_VMEM)",
        -27: "out of memory: it used more memory than it asked (JOB_EXEC_KILL_MEM)",
        -29: "it reached its PBS walltime and PBS stopped it (JOB_EXEC_KILL_WALLTIME)",
    }

    def submit_command(self, name: str, folder: Path, job) -> list[str]:
        minutes = self._minutes(job)
        select = f"select=1:ncpus={max(1, math.ceil(self.limits.cpu_limit))}:mem={memory_mb(self.limits.mem_limit)}mb"
        command = [
            "qsub", "-N", name, "-o", f"{folder}/batch.out", "-j", "oe", "-V",
            "-l", select, "-l", f"walltime={minutes // 60:02d}:{minutes % 60:02d}:00",
        ]
        command += ["-q", self.partition] if self.partition else []
        command += ["-A", self.account] if self.account else []
        return [*command, *self.extra_args, str(folder / "job.sh")]

    def parse_submit(self, stdout: str) -> str:
        return stdout.strip().splitlines()[-1]  # "<sequence>.<server>"

    def status_command(self, batch_id: str) -> list[str]:
        return ["qstat", "-x", "-f", "-F", "json", batch_id]  # -x: finished jobs too

    def find_command(self, name: str) -> list[str]:
        return ["qselect", "-N", name]

    def parse_status(self, done, batch_id):
        if done.returncode != 0 or not done.stdout.strip():
            if "Unknown Job Id" in done.stderr or "Job has finished" in done.stderr:
                return None
            raise VREError(f"qstat -f {batch_id} failed: {last_line(done.stderr)}", "check that the PBS server answers")
        jobs = json.loads(done.stdout).get("Jobs") or {}
        record = jobs.get(batch_id) or next(iter(jobs.values()), None)
        if record is None:
            return None
        state = record.get("job_state", "?")
        code = record.get("Exit_status")
        if isinstance(code, int) and code > 256:  # killed by signal code - 256 (e.g. qdel: 271)
            code = 128 + code - 256
        return {"id": batch_id, "state": state, "phase": self.PHASES.get(state, "running"),
                "code": code if isinstance(code, int) else None, "reason": record.get("comment", "")}

    def cancel_command(self, batch_id: str) -> list[str]:
        return ["qdel", batch_id]

    def describe(self, info):
        code, job = info["code"], f"PBS job {info['id']}"
        if info["phase"] != "exited" or code == 0:
            return None
        if code is None:
            return f"{job} ended without an exit status ({info['reason'] or 'no comment'})"
        if code in self.EXIT_STATUSES:
            return f"{job}: {self.EXIT_STATUSES[code]}"
        if code < 0:
            return f"{job}: PBS ended it with exit status {code} ({info['reason'] or 'see the MOM log'})"
        return f"{job} exited with code {code}; see container.log"


BACKENDS = {"slurm": SlurmBackend, "pbs": PBSBackend}
