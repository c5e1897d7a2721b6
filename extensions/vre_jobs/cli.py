"""``vre jobs``: submit, follow and schedule notebook jobs through the jobs service's REST API.

    vre jobs submit work/analysis.ipynb -p alpha 0.5 --grid region=north,south --wait
    vre jobs list [--all] [--state failed]
    vre jobs show JOB_ID
    vre jobs cancel JOB_ID
    vre jobs schedule create work/daily.ipynb --cron "0 6 * * *" -p day 1
    vre jobs schedule list | show ID | pause ID | resume ID | delete ID

The token is the user's hub token: ``--token``, else ``$JUPYTERHUB_API_TOKEN`` (set in
every user session). The service is found at ``--url``, else ``$VRE_JOBS_URL``, else by
asking the hub (``$JUPYTERHUB_API_URL``) where the ``jobs`` service is. Every command takes
``--json``. Errors, flags and exit codes follow the CLI kit (:mod:`vre_core.cli`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from vre_core.cli import add_json, add_url, print_json, run
from vre_core.errors import VREError
from vre_core.hub import HubClient, ServiceClient
from vre_core.naming import JOBS_SERVICE, RESULT_FILES

FINAL = {"completed", "failed", "timeout", "cancelled"}

#: The kit's error (what is wrong; how to fix it), under the name this module always used.
CLIError = VREError


def _value(text: str):
    """A -p value: JSON when it parses (1, 0.5, true, [1,2], "x"), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class Client(ServiceClient):
    """The jobs service's REST API (``<url>/api/...``)."""

    prefix = "/api/"

    def __init__(self, url: str, token: str):
        super().__init__(url, token, timeout=120, fix="check --url or VRE_JOBS_URL")


def _service_url(args) -> str:
    if args.url:
        return args.url
    if os.environ.get("VRE_JOBS_URL"):
        return os.environ["VRE_JOBS_URL"]
    api = os.environ.get("JUPYTERHUB_API_URL")  # <hub>/hub/api, as the hub gives it to servers
    if api:
        hub = HubClient(api.rstrip("/").removesuffix("/hub/api"), args.token, timeout=10)
        try:
            model = hub.get(f"/services/{JOBS_SERVICE}")
            if model.get("url"):
                return model["url"].rstrip("/") + model.get("prefix", f"/services/{JOBS_SERVICE}/")
        except (VREError, ValueError):
            pass
    raise CLIError("the jobs service URL is unknown", "pass --url http://HUB/services/jobs/ or set VRE_JOBS_URL")


def _submission(args) -> dict:
    body: dict = {"notebook": args.notebook}
    params = {}
    if args.parameters_json:
        try:
            params.update(json.loads(args.parameters_json))
        except ValueError:
            raise CLIError('--parameters-json is not valid JSON; e.g. --parameters-json \'{"alpha": 0.5}\'')
    for name, value in args.param or []:
        params[name] = _value(value)
    for name, value in args.raw or []:
        params[name] = value
    if params:
        body["parameters"] = params
    if args.sweep_json:
        try:
            body["sweep"] = json.loads(args.sweep_json)
        except ValueError:
            raise CLIError('--sweep-json is not valid JSON; e.g. --sweep-json \'{"grid": {"x": [1, 2]}}\'')
    elif args.grid:
        grid = {}
        for item in args.grid:
            name, sep, values = item.partition("=")
            if not sep or not name:
                raise CLIError(f"--grid {item!r} is not NAME=V1,V2,...; e.g. --grid alpha=0.1,0.5")
            parsed = _value(values)
            grid[name] = parsed if isinstance(parsed, list) else [_value(v) for v in values.split(",")]
        body["sweep"] = {"grid": grid}
    for key in ("kernel", "timeout", "output_dir", "retries"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    return body


def _print_job(job: dict, verbose: bool = False) -> None:
    params = json.dumps(job["parameters"], separators=(",", ":"))
    duration = f"{job['duration']:.1f}s" if job.get("duration") is not None else "-"
    print(f"{job['id']}  {job['state']:<9}  {job['owner']:<12}  {duration:>7}  {job['notebook']}  {params}")
    if verbose:
        for key in ("submission", "schedule", "kernel", "timeout", "attempt", "retries", "created", "started", "finished", "exit_code"):
            if job.get(key) is not None:
                print(f"  {key}: {job[key]}")
        if job.get("backend"):  # which backend ran it, and its name for the run there
            print(f"  backend: {job['backend']}" + (f" ({job['backend_id']})" if job.get("backend_id") else ""))
        print(f"  results: {job['output_dir']}/ ({', '.join(RESULT_FILES)})")
    if job.get("error"):
        cell = f"cell {job['error_cell']}: " if job.get("error_cell") is not None else ""
        print(f"  error: {cell}{job['error']}")


def _print_schedule(s: dict) -> None:
    state = "paused" if s["paused"] else f"next {s['next_run']}"
    print(f"{s['id']}  {s['cron']:<16}  {state}  runs={s['runs']}  {s['owner']}  {s['notebook']}")


def _show(args, data, text: str | None = None, each=None) -> None:
    """``--json``: ``data`` as JSON; else ``text`` and/or ``each(item)`` for the items of ``data``."""
    if args.json:
        print_json(data)
        return
    if text is not None:
        print(text)
    for item in data if each else ():
        each(item)


def cmd_submit(client: Client, args) -> int:
    result = client.call("POST", "jobs", _submission(args))
    jobs = result["jobs"]
    if not args.json:
        print(f"submitted {len(jobs)} job(s) (submission {result['submission']})")
        for job in jobs:
            _print_job(job)
    if not args.wait:
        if args.json:
            print_json(result)
        return 0
    pending = {j["id"] for j in jobs}
    final = {}
    while pending:
        time.sleep(1)
        for job_id in sorted(pending):
            job = client.call("GET", f"jobs/{job_id}")
            if job["state"] in FINAL:
                pending.discard(job_id)
                final[job_id] = job
                if not args.json:
                    _print_job(job)
    if args.json:
        print_json({"submission": result["submission"], "jobs": [final[j["id"]] for j in jobs]})
    return 0 if all(j["state"] == "completed" for j in final.values()) else 1


def cmd_list(client: Client, args) -> int:
    query = "&".join(q for q in ("all=1" if args.all else "", f"state={args.state}" if args.state else "") if q)
    jobs = client.call("GET", "jobs" + (f"?{query}" if query else ""))["jobs"]
    _show(args, jobs, None if jobs else "no jobs", _print_job)
    return 0


def cmd_show(client: Client, args) -> int:
    job = client.call("GET", f"jobs/{args.job}")
    if args.json:
        print_json(job)
    else:
        _print_job(job, verbose=True)
    return 0


def cmd_cancel(client: Client, args) -> int:
    job = client.call("DELETE", f"jobs/{args.job}")
    _show(args, job, f"cancelling {job['id']}: {job['state']}")
    return 0


def cmd_schedule_create(client: Client, args) -> int:
    args.notebook = args.notebook or args.notebook_path  # `schedule create NOTEBOOK --cron ...` too
    if not args.notebook:
        raise CLIError("schedule create needs a notebook", "e.g. vre jobs schedule create work/a.ipynb --cron '0 6 * * *'")
    body = _submission(args)
    body["cron"] = args.cron
    s = client.call("POST", "schedules", body)
    _show(args, s, f"created schedule {s['id']}; next runs: {', '.join(s['upcoming'])}")
    return 0


def cmd_schedule_list(client: Client, args) -> int:
    schedules = client.call("GET", "schedules" + ("?all=1" if args.all else ""))["schedules"]
    _show(args, schedules, None if schedules else "no schedules", _print_schedule)
    return 0


def cmd_schedule_show(client: Client, args) -> int:
    print_json(client.call("GET", f"schedules/{args.id}"))  # its fields, always as JSON
    return 0


def cmd_schedule_pause(client: Client, args) -> int:
    s = client.call("POST", f"schedules/{args.id}/{args.command_name}")
    _show(args, [s], None, _print_schedule)
    return 0


def cmd_schedule_delete(client: Client, args) -> int:
    client.call("DELETE", f"schedules/{args.id}")
    _show(args, {"deleted": args.id}, f"deleted schedule {args.id} (its past jobs stay listed)")
    return 0


def _submission_options(p: argparse.ArgumentParser, with_notebook: bool = True) -> None:
    if with_notebook:
        p.add_argument("notebook", help="path in your home (relative) or under /opt/vre/notebooks")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), help="a parameter (JSON value or text)")
    p.add_argument("-r", "--raw", nargs=2, action="append", metavar=("NAME", "VALUE"), help="a parameter taken as text")
    p.add_argument("--parameters-json", help="all parameters as one JSON object")
    p.add_argument("--grid", action="append", metavar="NAME=V1,V2", help="sweep: one run per combination")
    p.add_argument("--sweep-json", help='sweep as JSON: {"grid": {...}} or {"list": [{...}, ...]}')
    p.add_argument("--kernel", help="kernel name (default: the notebook's)")
    p.add_argument("--timeout", type=int, help="seconds before the run is killed")
    p.add_argument("--output-dir", help="folder in your home for the results (default: jobs)")
    p.add_argument("--retries", type=int, help="re-run a failed or timed-out job up to N times")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vre jobs", description="Notebook jobs: run now, as sweeps, or on a schedule.")
    add_url(parser, "jobs service URL (default: $VRE_JOBS_URL, or asked from the hub)")
    parser.add_argument("--token", help="hub API token (default: $JUPYTERHUB_API_TOKEN)")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(group, name: str, func, help: str) -> argparse.ArgumentParser:
        p = group.add_parser(name, help=help)
        add_json(p)
        p.set_defaults(func=func, command_name=name)
        return p

    p = command(sub, "submit", cmd_submit, "run a notebook (or a sweep) now")
    _submission_options(p)
    p.add_argument("--wait", action="store_true", help="wait for the jobs; exit 1 unless all complete")

    p = command(sub, "list", cmd_list, "your jobs, newest first")
    p.add_argument("--all", action="store_true", help="all users' jobs (admins)")
    p.add_argument("--state", choices=["queued", "starting", "running", "completed", "failed", "timeout", "cancelled"])

    p = command(sub, "show", cmd_show, "one job: state, timings, results folder, error")
    p.add_argument("job")

    p = command(sub, "cancel", cmd_cancel, "cancel a queued or running job")
    p.add_argument("job")

    schedule = sub.add_parser("schedule", help="run a notebook on a cron schedule").add_subparsers(
        dest="schedule_command", required=True
    )
    p = command(schedule, "create", cmd_schedule_create, "a new schedule")
    p.add_argument("notebook_path", nargs="?", metavar="NOTEBOOK", help="notebook (or --notebook)")
    p.add_argument("--notebook", help="path in your home (relative) or under /opt/vre/notebooks")
    p.add_argument("--cron", required=True, help="cron expression in UTC, e.g. '0 6 * * *'")
    _submission_options(p, with_notebook=False)
    p = command(schedule, "list", cmd_schedule_list, "your schedules")
    p.add_argument("--all", action="store_true", help="all users' schedules (admins)")
    for name, func, help in (
        ("show", cmd_schedule_show, "one schedule"),
        ("pause", cmd_schedule_pause, "stop firing (runs missed meanwhile are skipped)"),
        ("resume", cmd_schedule_pause, "fire again"),
        ("delete", cmd_schedule_delete, "remove it (its past jobs stay listed)"),
    ):
        command(schedule, name, func, help).add_argument("id", help="schedule id (`vre jobs schedule list`)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def command() -> int:
        args.token = args.token or os.environ.get("JUPYTERHUB_API_TOKEN")
        if not args.token:
            raise CLIError("no hub token", "pass --token or run inside a hub session (JUPYTERHUB_API_TOKEN)")
        return args.func(Client(_service_url(args), args.token), args)

    return run(command, unexpected="see the jobs service's log")


if __name__ == "__main__":
    sys.exit(main())
