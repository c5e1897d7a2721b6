"""Where jobs run: the interface the manager drives, whatever the backend.

Two families implement it: containers of the user image on this host's Docker engine
(:class:`vre_jobs.containers.DockerBackend`) and batch schedulers
(:mod:`vre_jobs.batch`: Slurm, PBS). Each attempt of a job is one *run*, named
``vre-job-<id>-a<attempt>`` (a container, or a batch job and its spool folder), so that a
restarted service finds it again. Every method blocks; the manager calls them in threads.

================  ============================================================
submit            ``start(job, volume)`` -> what the run is known as (container
                  name, the scheduler's job id)
poll              ``status(name)`` -> (``pending`` | ``running`` | ``exited`` | a
                  Docker state | None if gone, exit code); ``wait(name, timeout)``
cancel            ``kill(name)``
logs              ``logs(name)``: the tail of the run's own output
collect results   ``collect(name, volume, output_dir)``: the results folder into
                  the user's home (a no-op where the run wrote it there itself)
why it ended      ``end_reason(name)``, ``gone_reason(name)``: one line each
clean up          ``remove(name)``, ``job_containers()`` (every run that exists)
================  ============================================================

All backends read notebooks and write results in the users' Docker home volumes through
:class:`vre_core.homes.HomeVolume` (``read_file``, ``write_files``).
"""

from __future__ import annotations


class JobBackend:
    """The methods the manager calls (not an ABC: the batch backends are traitlets Configurables)."""

    #: Recorded with each job (``backend`` in the API): which backend ran it.
    name: str = ""
    #: The job's state when ``start`` fails, before the error itself.
    start_error: str = "could not start the job"
    #: The image whose files (shipped notebooks) and home layout jobs see.
    image: str = ""

    @staticmethod
    def container_name(job_id: str, attempt: int) -> str:
        """Name of one attempt's run (container, batch job name, spool folder)."""
        return f"vre-job-{job_id}-a{attempt}"

    # --- the user's home ------------------------------------------------------------

    def read_file(self, volume: str | None, path: str, max_bytes: int = 50_000_000) -> bytes | None:
        raise NotImplementedError

    def write_files(self, volume: str, folder: str, files: dict[str, bytes]) -> None:
        raise NotImplementedError

    def expire_scratch(self, all_: bool = False, volume: str | None = None) -> None:
        """Let go of file-access containers (all, unused, or the one holding ``volume``)."""

    def remove_stale_scratch(self) -> None:
        """Remove file-access containers a killed earlier run of the service left."""

    def check_user(self, owner: str) -> None:
        """Raise (one line) if ``owner``'s jobs cannot run here; called before queueing."""

    # --- runs --------------------------------------------------------------------------

    def start(self, job, volume: str) -> str:
        raise NotImplementedError

    def status(self, name: str) -> tuple[str | None, int | None]:
        raise NotImplementedError

    def wait(self, name: str, timeout: float) -> int | None:
        """Exit code, or None if still running after ``timeout`` seconds (or gone)."""
        raise NotImplementedError

    def kill(self, name: str) -> None:
        raise NotImplementedError

    def logs(self, name: str, tail: int = 200) -> str:
        raise NotImplementedError

    def collect(self, name: str, volume: str, output_dir: str) -> None:
        """Bring the run's results into ``output_dir`` of the home (nothing to do by default)."""

    def end_reason(self, name: str) -> str | None:
        """Why the run ended, when the runner could not say it (killed, out of memory...)."""
        return None

    def gone_reason(self, name: str) -> str:
        """Why a run the service was following no longer exists (one line)."""
        return f"its run {name} disappeared (removed outside the service)"

    def remove(self, name: str) -> None:
        raise NotImplementedError

    def job_containers(self) -> dict[str, str]:
        """job id -> run name of every run of this backend that still exists."""
        raise NotImplementedError
