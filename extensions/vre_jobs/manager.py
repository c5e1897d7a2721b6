"""The jobs service's engine: submissions, the queue, containers, schedules, restarts.

One asyncio loop owns the database; blocking Docker calls run in worker threads.
Each started job has a watcher task waiting on its container; the dispatch loop
(woken on every change, else every ``tick`` seconds) fires due schedules and
starts queued jobs within the global and per-user limits, fairly: each free slot
goes to the user with the fewest running jobs (ties: the one served longest ago),
so one user's long sweep cannot starve the others. A restarted service
rebuilds the watchers from the database and the containers' labels, so no job is
lost: queued ones stay queued, running ones are followed to their end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from vre_core.naming import CONTAINER_LOG, RESULT_FILES

from . import db
from .backend import JobBackend
from .containers import engine_unavailable
from .cron import check_cron, next_runs
from .db import Job, Schedule, utcnow
from .report import MAX_STATUS_BYTES, bounded_text, parse_status
from .parameters import (
    SubmissionError,
    expand_sweep,
    inspect_notebook_bytes,
    resolve_notebook_path,
    resolve_output_root,
    validate_parameters,
)

log = logging.getLogger("vre_jobs")
_KERNEL_RE = re.compile(r"^[\w.+-]{1,100}$")


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    pass


class QuotaExceeded(RuntimeError):
    """A user's submission would exceed their share of the queue (HTTP 429)."""


@dataclass
class Limits:
    max_concurrent: int = 2
    max_per_user: int = 1
    max_queued_per_user: int = 500
    default_timeout: int = 3600
    max_timeout: int = 24 * 3600
    max_retries: int = 3
    tick: float = 1.0
    keep_containers: bool = False


@dataclass
class Prepared:
    notebook: str
    parameter_sets: list[dict]
    kernel: str | None
    timeout: int
    output_root: str
    retries: int


class JobManager:
    def __init__(
        self,
        sessions,
        backend: JobBackend,
        volume_for: Callable[[str], str],
        limits: Limits,
        shipped_notebooks: str = "/opt/vre/notebooks",
        clock: Callable[[], dt.datetime] = utcnow,
    ):
        self.sessions = sessions
        self.backend = backend
        self.volume_for = volume_for
        self.limits = limits
        self.shipped_notebooks = shipped_notebooks
        self.clock = clock
        self._wake = asyncio.Event()
        self._last_start: dict[str, dt.datetime] = {}  # owner -> when a job of theirs last started
        self._cancel_reasons: dict[str, str] = {}  # job id -> why it is being cancelled, if not by request
        self._engine_lost: set[str] = set()  # jobs during whose run the Docker engine stopped answering
        self._watchers: dict[str, asyncio.Task] = {}
        self._loop_task: asyncio.Task | None = None

    # --- checking a submission -------------------------------------------------

    def _prepare_sync(self, owner: str, body: dict) -> Prepared:
        """Validate everything about a submission; blocking (reads the notebook)."""
        if not isinstance(body, dict):
            raise SubmissionError("the request body must be a JSON object; send {\"notebook\": ..., \"parameters\": {...}}")
        unknown = set(body) - {"notebook", "parameters", "sweep", "kernel", "timeout", "output_dir", "retries", "cron"}
        if unknown:
            raise SubmissionError(f"unknown field(s) {', '.join(sorted(unknown))}; see the API documentation")
        notebook = resolve_notebook_path(body.get("notebook", ""), self.shipped_notebooks)
        kernel = body.get("kernel") or None
        if kernel is not None and (not isinstance(kernel, str) or not _KERNEL_RE.match(kernel)):
            raise SubmissionError(f"invalid kernel name {kernel!r}; give a kernelspec name such as python3")
        timeout = body.get("timeout", self.limits.default_timeout)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or not 0 < timeout <= self.limits.max_timeout:
            raise SubmissionError(f"timeout must be a whole number of seconds between 1 and {self.limits.max_timeout}; e.g. 600")
        retries = body.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= self.limits.max_retries:
            raise SubmissionError(f"retries must be a whole number between 0 and {self.limits.max_retries}; e.g. 1")
        output_root = resolve_output_root(body.get("output_dir"))
        sets = expand_sweep(body.get("parameters") or {}, body.get("sweep"))
        self.backend.check_user(owner)  # e.g. a batch backend: the owner's Unix account exists

        display = body.get("notebook")
        content = self.backend.read_file(self.volume_for(owner), notebook)
        if content is None:
            where = "the shipped notebooks" if notebook.startswith(self.shipped_notebooks) else "your home"
            raise SubmissionError(f"notebook {display} not found in {where}; check the path (relative to your home)")
        declared = inspect_notebook_bytes(content, display)
        for values in sets:
            validate_parameters(values, declared, display)
        return Prepared(notebook, sets, kernel, timeout, output_root, retries)

    async def inspect(self, owner: str, path: str) -> dict:
        """The parameters a notebook declares (for the web form)."""

        def _inspect():
            notebook = resolve_notebook_path(path, self.shipped_notebooks)
            content = self.backend.read_file(self.volume_for(owner), notebook)
            if content is None:
                raise SubmissionError(f"notebook {path} not found; check the path (relative to your home)")
            return notebook, inspect_notebook_bytes(content, path)

        notebook, declared = await asyncio.to_thread(_inspect)
        from .parameters import parameter_type

        return {
            "notebook": notebook,
            "parameters": {  # the notebook is the user's: its texts are bounded like any
                name: {
                    "type": parameter_type(p),
                    "default": bounded_text(p.get("default")),
                    "help": bounded_text(p.get("help", "")),
                }
                for name, p in declared.items()
            },
        }

    # --- jobs --------------------------------------------------------------------

    def _new_jobs(self, session, owner: str, prep: Prepared, schedule_id: str | None = None) -> list[Job]:
        submission = db.new_id("u")
        jobs = []
        for values in prep.parameter_sets:
            job_id = db.new_id("j")
            job = Job(
                id=job_id,
                owner=owner,
                notebook=prep.notebook,
                kernel=prep.kernel,
                parameters=values,
                timeout=prep.timeout,
                output_dir=posixpath.join(prep.output_root, job_id),
                retries=prep.retries,
                submission=submission,
                schedule_id=schedule_id,
                image=self.backend.image,
                created=self.clock(),
            )
            session.add(job)
            jobs.append(job)
        return jobs

    async def submit(self, owner: str, body: dict) -> list[dict]:
        if isinstance(body, dict) and "cron" in body:
            raise SubmissionError("a body with 'cron' is a schedule; POST it to api/schedules")
        prep = await asyncio.to_thread(self._prepare_sync, owner, body)
        with self.sessions() as session:
            self._check_queue_quota(session, owner, len(prep.parameter_sets))
            jobs = self._new_jobs(session, owner, prep)
            session.commit()
            result = [j.to_dict() for j in jobs]
        log.info("%s submitted %d job(s) of %s", owner, len(result), prep.notebook)
        self._wake.set()
        return result

    def _queued_count(self, session, owner: str) -> int:
        return session.scalar(select(func.count()).select_from(Job).where(Job.owner == owner, Job.state == db.QUEUED))

    def _check_queue_quota(self, session, owner: str, adding: int) -> None:
        """Refuse what would leave more than ``max_queued_per_user`` of the owner's jobs waiting."""
        waiting, limit = self._queued_count(session, owner), self.limits.max_queued_per_user
        if waiting + adding > limit:
            raise QuotaExceeded(
                f"{owner} has {waiting} job(s) waiting and this adds {adding}; at most {limit} may wait per user "
                "(max_queued_per_user); wait for some to run, or cancel some with `vre jobs cancel`"
            )

    def list_jobs(self, owner: str | None, state: str | None = None, limit: int = 200) -> list[dict]:
        with self.sessions() as session:
            q = select(Job).order_by(Job.created.desc()).limit(limit)
            if owner is not None:
                q = q.where(Job.owner == owner)
            if state:
                q = q.where(Job.state == state)
            return [j.to_dict() for j in session.scalars(q)]

    def get_job(self, job_id: str) -> dict:
        with self.sessions() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise NotFound(job_id)
            return job.to_dict()

    async def cancel(self, job_id: str) -> dict:
        with self.sessions() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise NotFound(job_id)
            if job.state in db.FINAL_STATES:
                raise Conflict(f"job {job_id} is already {job.state}; nothing to cancel")
            job.cancel_requested = True
            if job.state == db.QUEUED:
                job.state, job.finished, job.error = db.CANCELLED, self.clock(), "cancelled before it started"
            session.commit()
            container, state = job.container, job.state
        if state in db.ACTIVE_STATES and container:
            await asyncio.to_thread(self.backend.kill, container)  # the watcher records it
        return self.get_job(job_id)

    async def disable_owner(self, owner: str, reason: str) -> dict:
        """The account is disabled: cancel its queued and running jobs, pause its schedules.

        Nothing is deleted (history, results and schedules stay); re-enabled, the owner
        resumes their schedules and submits again.
        """
        now, kill, running = self.clock(), [], []
        with self.sessions() as session:
            jobs = list(session.scalars(select(Job).where(Job.owner == owner, Job.state.in_((db.QUEUED, *db.ACTIVE_STATES)))))
            for job in jobs:
                job.cancel_requested = True
                if job.state == db.QUEUED:
                    job.state, job.finished, job.error = db.CANCELLED, now, reason
                else:
                    self._cancel_reasons[job.id] = reason
                    running.append(job.id)
                    if job.container:
                        kill.append(job.container)
            schedules = list(session.scalars(select(Schedule).where(Schedule.owner == owner, Schedule.paused.is_(False))))
            for s in schedules:
                s.paused = True
            session.commit()
        for container in kill:  # their watchers record them as cancelled
            await asyncio.to_thread(self.backend.kill, container)
        # Then let go of the home volume (`vre workshop end --remove` removes it next): once
        # the watchers have recorded the end (reading status.json) and removed the containers.
        watchers = [self._watchers[j] for j in running if j in self._watchers]
        if watchers:
            await asyncio.wait(watchers, timeout=60)
        await asyncio.to_thread(self.backend.expire_scratch, volume=self.volume_for(owner))
        self._wake.set()
        log.info("%s disabled: %d job(s) cancelled, %d schedule(s) paused", owner, len(jobs), len(schedules))
        return {"user": owner, "cancelled": len(jobs), "paused_schedules": len(schedules)}

    def read_result(self, job: dict, name: str) -> bytes | None:
        """A file of a job's results folder (blocking)."""
        if name not in (*RESULT_FILES, CONTAINER_LOG):
            return None
        return self.backend.read_file(self.volume_for(job["owner"]), posixpath.join(job["output_dir"], name))

    # --- schedules ---------------------------------------------------------------

    def _upcoming(self, s: Schedule, count: int = 3) -> list[dt.datetime]:
        return [] if s.paused else next_runs(s.cron, self.clock(), count)

    async def create_schedule(self, owner: str, body: dict) -> dict:
        cron = check_cron(body.get("cron", "") if isinstance(body, dict) else "")
        job_body = {k: v for k, v in body.items() if k != "cron"}
        prep = await asyncio.to_thread(self._prepare_sync, owner, job_body)
        if len(prep.parameter_sets) > self.limits.max_queued_per_user:
            raise SubmissionError(
                f"each run of this schedule submits {len(prep.parameter_sets)} jobs, more than the "
                f"{self.limits.max_queued_per_user} one user may have waiting (max_queued_per_user); split the sweep"
            )
        with self.sessions() as session:
            s = Schedule(
                owner=owner,
                cron=cron,
                notebook=prep.notebook,
                kernel=prep.kernel,
                parameter_sets=prep.parameter_sets,
                timeout=prep.timeout,
                output_root=prep.output_root,
                retries=prep.retries,
                next_run=next_runs(cron, self.clock())[0],
                created=self.clock(),
            )
            session.add(s)
            session.commit()
            log.info("%s scheduled %s at %r", owner, prep.notebook, cron)
            return s.to_dict(self._upcoming(s))

    def list_schedules(self, owner: str | None) -> list[dict]:
        with self.sessions() as session:
            q = select(Schedule).order_by(Schedule.created.desc())
            if owner is not None:
                q = q.where(Schedule.owner == owner)
            return [s.to_dict(self._upcoming(s)) for s in session.scalars(q)]

    def get_schedule(self, schedule_id: str) -> dict:
        with self.sessions() as session:
            s = session.get(Schedule, schedule_id)
            if s is None:
                raise NotFound(schedule_id)
            return s.to_dict(self._upcoming(s))

    def set_paused(self, schedule_id: str, paused: bool) -> dict:
        with self.sessions() as session:
            s = session.get(Schedule, schedule_id)
            if s is None:
                raise NotFound(schedule_id)
            s.paused = paused
            if not paused:
                # Resume from now: runs missed while paused are not made up.
                s.next_run = next_runs(s.cron, self.clock())[0]
            session.commit()
            return s.to_dict(self._upcoming(s))

    def delete_schedule(self, schedule_id: str) -> None:
        with self.sessions() as session:
            s = session.get(Schedule, schedule_id)
            if s is None:
                raise NotFound(schedule_id)
            session.delete(s)  # its past jobs stay in the history
            session.commit()

    def _fire_due_schedules(self, session) -> int:
        now = self.clock()
        fired = 0
        due = session.scalars(select(Schedule).where(Schedule.paused.is_(False), Schedule.next_run <= now))
        for s in due:
            # Fire once even if several times were missed (e.g. the service was down).
            s.next_run = next_runs(s.cron, now)[0]
            try:
                self._check_queue_quota(session, s.owner, len(s.parameter_sets))
            except QuotaExceeded as e:
                log.warning("schedule %s skipped this run: %s", s.id, e)
                continue
            prep = Prepared(s.notebook, s.parameter_sets, s.kernel, s.timeout, s.output_root, s.retries)
            self._new_jobs(session, s.owner, prep, schedule_id=s.id)
            s.last_run, s.runs = now, s.runs + 1
            fired += 1
            log.info("schedule %s of %s fired (%d job(s))", s.id, s.owner, len(s.parameter_sets))
        return fired

    # --- dispatching ---------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        await asyncio.to_thread(self.backend.remove_stale_scratch)
        await self.reconcile()
        self._loop_task = asyncio.create_task(self._dispatch_loop())

    async def stop(self) -> None:
        """Stop following jobs; their containers keep running for the next start."""
        tasks = [self._loop_task, *self._watchers.values()]
        for t in tasks:
            if t:
                t.cancel()
        await asyncio.gather(*(t for t in tasks if t), return_exceptions=True)
        await asyncio.to_thread(self.backend.expire_scratch, True)

    async def _dispatch_loop(self) -> None:
        last_expiry = 0.0
        while True:
            self._wake.clear()
            try:
                self.dispatch_once()
                if asyncio.get_running_loop().time() - last_expiry > 10:
                    last_expiry = asyncio.get_running_loop().time()
                    await asyncio.to_thread(self.backend.expire_scratch)
            except Exception:
                log.exception("dispatch failed; retrying at the next tick")
            try:
                await asyncio.wait_for(self._wake.wait(), self.limits.tick)
            except TimeoutError:
                pass

    def dispatch_once(self) -> list[str]:
        """Fire due schedules, then claim queued jobs that fit in the limits, fairly.

        Each free slot goes to the owner with the fewest running jobs; among equals, to
        the one whose last job started longest ago (round robin), then to the oldest
        waiting job. Each owner's own jobs start in submission order.
        """
        started = []
        with self.sessions() as session:
            self._fire_due_schedules(session)
            session.commit()
            active = dict(
                session.execute(
                    select(Job.owner, func.count()).where(Job.state.in_(db.ACTIVE_STATES)).group_by(Job.owner)
                ).all()
            )
            total = sum(active.values())
            oldest = dict(
                session.execute(
                    select(Job.owner, func.min(Job.created)).where(Job.state == db.QUEUED).group_by(Job.owner)
                ).all()
            )
            never = dt.datetime.min
            while total < self.limits.max_concurrent:
                ready = [o for o in oldest if active.get(o, 0) < self.limits.max_per_user]
                if not ready:
                    break
                owner = min(ready, key=lambda o: (active.get(o, 0), self._last_start.get(o, never), oldest[o], o))
                waiting = select(Job).where(Job.owner == owner, Job.state == db.QUEUED).order_by(Job.created, Job.id)
                job, following = (list(session.scalars(waiting.limit(2))) + [None])[:2]
                job.state = db.STARTING
                job.container = self.backend.container_name(job.id, job.attempt)
                job.backend, job.backend_id = self.backend.name, None
                job.started, job.finished = self.clock(), None
                self._last_start[owner] = job.started
                active[owner] = active.get(owner, 0) + 1
                total += 1
                started.append(job.id)
                if following is None:
                    del oldest[owner]
                else:
                    oldest[owner] = following.created
            session.commit()
        for job_id in started:
            self._follow(job_id, self._launch(job_id))
        return started

    def _follow(self, job_id: str, coro) -> None:
        task = asyncio.create_task(self._guarded(job_id, coro))
        self._watchers[job_id] = task
        task.add_done_callback(lambda t, j=job_id: self._watchers.pop(j, None))

    async def _guarded(self, job_id: str, coro, attempts: int = 5) -> None:
        """Run a job's watcher so that an unexpected error never leaves the job *running* for ever:
        follow it again after a pause (the engine or the disk may come back), and after
        ``attempts`` errors end it as failed, saying why."""
        for attempt in range(1, attempts + 1):
            try:
                return await coro
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.exception("job %s: following it failed (attempt %d of %d)", job_id, attempt, attempts)
                reason = f"{type(e).__name__}: {e}"
            await asyncio.sleep(2 * attempt)
            with self.sessions() as session:
                if session.get(Job, job_id).state != db.RUNNING:  # ended (or requeued) meanwhile
                    return
            coro = self._watch(job_id)
        with self.sessions() as session:  # not through _finish: it may be what keeps failing
            job = session.get(Job, job_id)
            job.state, job.finished = db.FAILED, self.clock()
            job.error = f"the jobs service lost track of the job ({reason}); see the service log, run it again"
            session.commit()

    async def _launch(self, job_id: str) -> None:
        with self.sessions() as session:
            job = session.get(Job, job_id)
            volume = self.volume_for(job.owner)
        try:
            backend_id = await asyncio.to_thread(self.backend.start, job, volume)
        except Exception as e:
            if engine_unavailable(e):  # restarting: the job waits, queued, for the engine
                log.warning("job %s queued again: the Docker engine does not answer (%s)", job_id, type(e).__name__)
                with self.sessions() as session:
                    job = session.get(Job, job_id)
                    job.state, job.started = db.QUEUED, None
                    session.commit()
                return
            log.exception("could not start job %s", job_id)
            await self._finish(job_id, None, error=f"{self.backend.start_error}: {e}")
            return
        with self.sessions() as session:
            job = session.get(Job, job_id)
            job.state, job.backend_id = db.RUNNING, backend_id
            cancel = job.cancel_requested
            session.commit()
        if cancel:  # cancelled while its container was being created
            await asyncio.to_thread(self.backend.kill, job.container)
        log.info("job %s of %s running in %s", job_id, job.owner, job.container)
        await self._watch(job_id)

    async def _watch(self, job_id: str) -> None:
        with self.sessions() as session:
            job = session.get(Job, job_id)
            name, deadline = job.container, job.started + dt.timedelta(seconds=job.timeout)
        timed_out = False
        while True:
            remaining = (deadline - self.clock()).total_seconds()
            if remaining <= 0:
                log.info("job %s over its timeout: killing %s", job_id, name)
                await self._through_outage(job_id, self.backend.kill, name)
                timed_out = True
                code = await self._through_outage(job_id, self.backend.wait, name, 30)
                break
            # Wait in short slices: a vanished container is noticed, and a stopping
            # service does not keep a thread blocked for long.
            code = await self._through_outage(job_id, self.backend.wait, name, min(remaining, 10))
            if code is not None:
                break
            status, code = await self._through_outage(job_id, self.backend.status, name)
            if status is None:
                await self._finish(job_id, None, error=self.backend.gone_reason(name))
                return
            if status == "pending":  # waiting in a batch scheduler's queue: the timeout counts from its start
                deadline = self.clock() + dt.timedelta(seconds=job.timeout)
            if status == "exited":
                break
        await self._finish(job_id, code, timed_out=timed_out)

    async def _through_outage(self, job_id: str, call, *args):
        """``call(*args)`` in a thread; while the Docker engine does not answer (stopped, restarting),
        wait for it, and remember that it went away under this job."""
        while True:
            try:
                return await asyncio.to_thread(call, *args)
            except Exception as e:
                if not engine_unavailable(e):
                    raise
                if job_id not in self._engine_lost:
                    log.warning("job %s: the Docker engine does not answer (%s); waiting for it", job_id, type(e).__name__)
                self._engine_lost.add(job_id)
                await asyncio.sleep(2)

    async def _finish(self, job_id: str, code: int | None, timed_out: bool = False, error: str | None = None) -> None:
        with self.sessions() as session:
            job = session.get(Job, job_id)
            volume, name, output_dir = self.volume_for(job.owner), job.container, job.output_dir
        if name:
            try:  # a batch run's results into the home; what is missing shows as a failure below
                await asyncio.to_thread(self.backend.collect, name, volume, output_dir)
            except Exception:
                log.exception("could not copy the results of job %s into the home", job_id)
        report = await self._through_outage(job_id, self._collect, volume, name, output_dir)
        now = self.clock()
        with self.sessions() as session:
            job = session.get(Job, job_id)
            job.finished, job.exit_code = now, code
            job.error_cell = job.error_name = None
            if job.cancel_requested:
                job.state, job.error = db.CANCELLED, self._cancel_reasons.pop(job_id, "cancelled by request")
            elif timed_out:
                job.state, job.error = db.TIMEOUT, f"killed after its timeout of {job.timeout} s"
            elif job_id in self._engine_lost and not (code == 0 and report.get("state") == db.COMPLETED):
                # Stopping, the engine stopped the job's container (an upgrade, a crash): say so.
                job.state = db.FAILED
                job.error = f"engine restarted: the Docker engine stopped while the job ran (exit code {code}); run it again"
            elif error:
                job.state, job.error = db.FAILED, error
            elif code == 0 and report.get("state") == db.COMPLETED:
                job.state, job.error = db.COMPLETED, None
            elif "unreadable" in report:  # written over by the notebook or the user: trust none of it
                job.state = db.FAILED
                job.error = f"unreadable status: {report['unreadable']} (exit code {code}); see job.log"
            else:
                job.state = db.FAILED
                job.error = report.get("error") or report.get("reason") or f"job container exited with code {code}"
                job.error_cell, job.error_name = report.get("error_cell"), report.get("error_name")
            retry = job.state in (db.FAILED, db.TIMEOUT) and job.attempt <= job.retries
            record = job.to_dict()
            record["runner"] = {k: report.get(k) for k in ("execution_seconds", "execution_count") if k in report}
            if retry:
                log.info("job %s attempt %d %s; retrying", job_id, job.attempt, job.state)
                job.error = f"attempt {job.attempt} {job.state}: {job.error}"
                job.attempt += 1
                job.state, job.container, job.cancel_requested = db.QUEUED, None, False
            # The home's status.json first: once the API says a job ended, its record is final.
            await asyncio.to_thread(self._record, volume, name, output_dir, record, report)
            session.commit()
        self._engine_lost.discard(job_id)
        log.info("job %s %s%s", job_id, record["state"], f": {record['error']}" if record["error"] else "")
        if name and not self.limits.keep_containers:
            await asyncio.to_thread(self.backend.remove, name)
        self._wake.set()

    def _collect(self, volume: str, name: str | None, output_dir: str) -> dict:
        """What the job wrote in status.json (untrusted: typed and bounded), plus why the container stopped."""
        path = posixpath.join(output_dir, "status.json")
        report = parse_status(self.backend.read_file(volume, path, max_bytes=MAX_STATUS_BYTES))
        reason = self.backend.end_reason(name) if name else None
        if reason:
            report["reason"] = reason
        return report

    def _record(self, volume: str, name: str | None, output_dir: str, record: dict, report: dict) -> None:
        """Final status.json (and the container's log when the runner did not finish)."""
        files = {"status.json": json.dumps({**report, **record}, indent=2).encode()}
        if name and report.get("state") in (None, "running"):
            files[CONTAINER_LOG] = bounded_text(self.backend.logs(name), 1_000_000).encode()
        try:
            self.backend.write_files(volume, output_dir, files)
        except Exception:
            log.exception("could not write the status of %s into the user's home", record["id"])

    async def reconcile(self) -> None:
        """After a (re)start: follow running jobs again, requeue those never started."""
        containers = await asyncio.to_thread(self.backend.job_containers)
        with self.sessions() as session:
            active = list(session.scalars(select(Job).where(Job.state.in_(db.ACTIVE_STATES))))
            follow, requeued = [], []
            for job in active:
                status = None
                if job.container:
                    status, _ = await asyncio.to_thread(self.backend.status, job.container)
                if status is None and job.state == db.STARTING:
                    job.state, job.container, job.started = db.QUEUED, None, None
                    requeued.append(job.id)
                else:
                    job.state = db.RUNNING if status else job.state
                    follow.append((job.id, status is None))
            final = {
                j.id
                for j in session.scalars(select(Job).where(Job.id.in_(list(containers)), Job.state.in_(db.FINAL_STATES)))
            }
            session.commit()
        for job_id, gone in follow:
            if gone:
                self._follow(job_id, self._finish(job_id, None, error="its container disappeared while the service was down"))
            else:
                self._follow(job_id, self._watch(job_id))
        # Containers of jobs already recorded as finished: the service stopped before removing them.
        if not self.limits.keep_containers:
            for job_id in final:
                await asyncio.to_thread(self.backend.remove, containers[job_id])
        log.info("reconciled: following %d job(s), requeued %d", len(follow), len(requeued))
