"""What runs inside the job container: papermill, then the HTML rendering.

This file is sent to the container as ``python -c <source> <spec-json>``, so it needs
only what the user image has (papermill, nbconvert) and the standard library. It
writes into the job's folder in the user's home:

    notebook.ipynb   the executed notebook, parameters injected
    notebook.html    its HTML rendering (nbconvert), also for failed runs
    parameters.json  the parameters of this run
    job.log          papermill's log, with the cells' outputs
    status.json      state, timings, and for a failure the cell index and error

Exit code: 0 completed, 1 the notebook raised, 2 anything else went wrong.
"""

import datetime
import importlib
import json
import logging
import os
import sys
import threading
import time


def _now():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, default=str)
    os.replace(tmp, path)


def _failed_cell_index(executed, fallback):
    """Index of the failing cell in the saved notebook.

    papermill's ``cell_index`` counts cells before it inserts its error banner at the
    top; the index a person needs is the one in the notebook they open.
    """
    try:
        with open(executed) as f:
            cells = json.load(f)["cells"]
        for index, cell in enumerate(cells):
            if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
                return index
    except (OSError, ValueError, KeyError):
        pass
    return fallback


def main(spec):
    out = spec["output_dir"]
    os.makedirs(out, exist_ok=True)
    executed = os.path.join(out, "notebook.ipynb")
    status_path = os.path.join(out, "status.json")
    status = {
        "job": spec["job"],
        "attempt": spec.get("attempt", 1),
        "notebook": spec["notebook"],
        "state": "running",
        "started": _now(),
        "files": ["notebook.ipynb", "notebook.html", "parameters.json", "job.log", "status.json"],
    }
    _write_json(os.path.join(out, "parameters.json"), spec["parameters"])
    _write_json(status_path, status)

    handler = logging.FileHandler(os.path.join(out, "job.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    stream = logging.StreamHandler(sys.stderr)
    logging.basicConfig(level=logging.INFO, handlers=[handler, stream])
    log = logging.getLogger("vre_jobs.run")
    log.info("job %s attempt %s: %s", spec["job"], status["attempt"], spec["notebook"])

    t0 = time.monotonic()
    code = 0
    # jsonschema (under nbformat) builds an IRI grammar at import when rfc3987_syntax is
    # installed: seconds per job, for format checks nbformat's validation never makes. The
    # VRE user image does not ship it; this keeps jobs fast in an operator's own image.
    sys.modules.setdefault("rfc3987_syntax", None)
    try:
        import papermill
        from papermill.exceptions import PapermillExecutionError

        # Import the HTML exporter while the kernel starts and runs, not after.
        threading.Thread(target=importlib.import_module, args=("nbconvert",), daemon=True).start()

        # Run where the notebook lives, so its relative paths work; shipped notebooks
        # are read-only, so those run in the results folder.
        cwd = os.path.dirname(spec["notebook"])
        if not os.access(cwd, os.W_OK):
            cwd = out
        try:
            papermill.execute_notebook(
                spec["notebook"],
                executed,
                parameters=spec["parameters"],
                kernel_name=spec.get("kernel") or None,
                cwd=cwd,
                log_output=True,
                progress_bar=False,
                request_save_on_cell_execute=True,
            )
            status["state"] = "completed"
        except PapermillExecutionError as e:
            status.update(state="failed", error_name=e.ename, error=f"{e.ename}: {e.evalue}")
            status["error_cell"] = _failed_cell_index(executed, e.cell_index)
            status["execution_count"] = e.exec_count
            code = 1
    except Exception as e:  # kernel died, notebook unreadable, missing kernel...
        log.exception("papermill could not run the notebook")
        status.update(state="failed", error=f"{type(e).__name__}: {e}", error_name=type(e).__name__)
        code = 2
    status["execution_seconds"] = round(time.monotonic() - t0, 3)

    if os.path.exists(executed):
        try:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_filename(executed)
            with open(os.path.join(out, "notebook.html"), "w", encoding="utf-8") as f:
                f.write(body)
        except Exception:
            log.exception("nbconvert could not render HTML")
    status["finished"] = _now()
    _write_json(status_path, status)
    log.info("job %s %s in %.1f s", spec["job"], status["state"], status["execution_seconds"])
    return code


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
