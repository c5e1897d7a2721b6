"""Durable state of the jobs service: jobs and schedules in one SQL database.

SQLite by default; any SQLAlchemy URL works (``postgresql+psycopg://...``), the
code uses only portable column types (JSON, DateTime, String, Integer).
All timestamps are naive UTC.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, create_engine, event, inspect, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

# Lifecycle of a job. "starting" covers the short window between claiming a queued
# job and its container existing, so a restart there can tell "never started".
QUEUED, STARTING, RUNNING = "queued", "starting", "running"
COMPLETED, FAILED, TIMEOUT, CANCELLED = "completed", "failed", "timeout", "cancelled"
ACTIVE_STATES = (STARTING, RUNNING)
FINAL_STATES = (COMPLETED, FAILED, TIMEOUT, CANCELLED)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def isoformat(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One papermill run of one notebook with one parameter set."""

    __tablename__ = "vre_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("j"))
    owner: Mapped[str] = mapped_column(String(255), index=True)
    notebook: Mapped[str] = mapped_column(Text)  # absolute path inside the user container
    kernel: Mapped[str | None] = mapped_column(String(255), nullable=True)
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    timeout: Mapped[int] = mapped_column(Integer)  # wall-clock seconds per attempt
    output_dir: Mapped[str] = mapped_column(Text)  # absolute results folder of this job
    retries: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(16), index=True, default=QUEUED)
    submission: Mapped[str] = mapped_column(String(32), index=True)
    schedule_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    image: Mapped[str] = mapped_column(String(255))
    container: Mapped[str | None] = mapped_column(String(255), nullable=True)  # the run's name (vre_jobs.backend)
    backend: Mapped[str | None] = mapped_column(String(16), nullable=True)  # which backend ran it (docker, slurm, pbs)
    backend_id: Mapped[str | None] = mapped_column(String(255), nullable=True)  # container, or the scheduler's job id
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_cell: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error_name: Mapped[str | None] = mapped_column(String(255), nullable=True)

    def to_dict(self) -> dict:
        duration = None
        if self.started and self.finished:
            duration = round((self.finished - self.started).total_seconds(), 3)
        return {
            "id": self.id,
            "owner": self.owner,
            "notebook": self.notebook,
            "kernel": self.kernel,
            "parameters": self.parameters,
            "timeout": self.timeout,
            "output_dir": self.output_dir,
            "retries": self.retries,
            "attempt": self.attempt,
            "state": self.state,
            "submission": self.submission,
            "schedule": self.schedule_id,
            "created": isoformat(self.created),
            "started": isoformat(self.started),
            "finished": isoformat(self.finished),
            "duration": duration,
            "exit_code": self.exit_code,
            "backend": self.backend,
            "backend_id": self.backend_id,
            "error": self.error,
            # Rows written before status.json was parsed typed may hold anything here.
            "error_cell": self.error_cell if isinstance(self.error_cell, int) else None,
            "error_name": self.error_name,
        }


class Schedule(Base):
    """A cron expression that submits the same notebook (or sweep) again and again."""

    __tablename__ = "vre_job_schedules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("s"))
    owner: Mapped[str] = mapped_column(String(255), index=True)
    cron: Mapped[str] = mapped_column(String(255))
    notebook: Mapped[str] = mapped_column(Text)
    kernel: Mapped[str | None] = mapped_column(String(255), nullable=True)
    parameter_sets: Mapped[list] = mapped_column(JSON)  # one job per set at each firing
    timeout: Mapped[int] = mapped_column(Integer)
    output_root: Mapped[str] = mapped_column(Text)  # job folders go below it
    retries: Mapped[int] = mapped_column(Integer, default=0)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    next_run: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    last_run: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def to_dict(self, upcoming: list[dt.datetime] | None = None) -> dict:
        return {
            "id": self.id,
            "owner": self.owner,
            "cron": self.cron,
            "notebook": self.notebook,
            "kernel": self.kernel,
            "parameter_sets": self.parameter_sets,
            "timeout": self.timeout,
            "output_root": self.output_root,
            "retries": self.retries,
            "paused": self.paused,
            "next_run": None if self.paused else isoformat(self.next_run),
            "upcoming": [isoformat(t) for t in upcoming or []],
            "last_run": isoformat(self.last_run),
            "runs": self.runs,
            "created": isoformat(self.created),
        }


def open_database(url: str) -> sessionmaker:
    """Create the tables if needed and return a session factory."""
    kwargs = {}
    if url.startswith("sqlite"):
        # The dispatcher and tornado share one thread, but docker calls run in a pool.
        kwargs["connect_args"] = {"check_same_thread": False}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL keeps readers (the REST API) from blocking on the dispatcher's writes.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    Base.metadata.create_all(engine)
    _add_new_columns(engine)
    return sessionmaker(engine, expire_on_commit=False)


def _add_new_columns(engine) -> None:
    """Columns added since a database was made (create_all makes only missing tables); all
    nullable, so old rows read as "not recorded"."""
    for table in Base.metadata.sorted_tables:
        present = {c["name"] for c in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                kind = column.type.compile(dialect=engine.dialect)
                with engine.begin() as connection:
                    connection.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
