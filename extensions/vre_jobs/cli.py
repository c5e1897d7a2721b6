"""``vre jobs``: submit, follow and schedule notebook jobs through the jobs service's REST API.

    vre jobs submit work/analysis.ipynb -p alpha 0.5 --grid region=north,south --wait
    vre jobs list [--all] [--state failed]
    vre jobs show JOB_ID
    vre jobs cancel JOB_ID
    vre jobs schedule create work/daily.ipynb --cron "0 6 * * *" -p day 1
    vre jobs schedule list | show ID | pause ID | resume ID | delete ID

The token is the user's hub token: ``--token``, else ``$JUPYTERHUB_API_TOKEN`` (set in
every user session). The service is found at ``--url``, else ``$VRE_JOBS_URL``, else by
asking the hub (``$JUPYTERHUB_API_URL``) where the ``jobs`` service is.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import requests

FINAL = {"completed", "failed", "timeout", "cancelled"}


class CLIError(Exception):
    """One line for the user: what is wrong; how to fix it."""


def _value(text: str):
    """A -p value: JSON when it parses (1, 0.5, true, [1,2], "x"), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class Client:
    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/") + "/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"token {token}"

    def call(self, method: str, path: str, body=None):
        try:
            r = self.session.request(method, self.url + "api/" + path, json=body, timeout=120)
        except requests.RequestException as e:
            raise CLIError(f"cannot reach the jobs service at {self.url} ({type(e).__name__}); check --url or VRE_JOBS_URL")
        if r.status_code == 204:
            return {}
        try:
            data = r.json()
        except ValueError:
            raise CLIError(f"the jobs service at {self.url} answered HTTP {r.status_code} without JSON; check --url")
        if r.status_code >= 400:
            raise CLIError(data.get("error") or f"HTTP {r.status_code}")
        return data


def _service_url(args) -> str:
    if args.url:
        return args.url
    if os.environ.get("VRE_JOBS_URL"):
        return os.environ["VRE_JOBS_URL"]
    api = os.environ.get("JUPYTERHUB_API_URL")
    if api:
        try:
            r = requests.get(
                f"{api.rstrip('/')}/services/jobs", headers={"Authorization": f"token {args.token}"}, timeout=10
            )
            if r.ok and r.json().get("url"):
                model = r.json()
                return model["url"].rstrip("/") + model.get("prefix", "/services/jobs/")
        except (requests.RequestException, ValueError):
            pass
    raise CLIError("the jobs service URL is unknown; pass --url http://HUB/services/jobs/ or set VRE_JOBS_URL")


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
        print(f"  results: {job['output_dir']}/ (notebook.ipynb, notebook.html, parameters.json, job.log, status.json)")
    if job.get("error"):
        cell = f"cell {job['error_cell']}: " if job.get("error_cell") is not None else ""
        print(f"  error: {cell}{job['error']}")


def _print_schedule(s: dict) -> None:
    state = "paused" if s["paused"] else f"next {s['next_run']}"
    print(f"{s['id']}  {s['cron']:<16}  {state}  runs={s['runs']}  {s['owner']}  {s['notebook']}")


def cmd_submit(client: Client, args) -> int:
    result = client.call("POST", "jobs", _submission(args))
    jobs = result["jobs"]
    print(f"submitted {len(jobs)} job(s) (submission {result['submission']})")
    for job in jobs:
        _print_job(job)
    if not args.wait:
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
                _print_job(job)
    return 0 if all(j["state"] == "completed" for j in final.values()) else 1


def cmd_list(client: Client, args) -> int:
    query = "&".join(q for q in ("all=1" if args.all else "", f"state={args.state}" if args.state else "") if q)
    jobs = client.call("GET", "jobs" + (f"?{query}" if query else ""))["jobs"]
    if args.json:
        print(json.dumps(jobs, indent=2))
        return 0
    if not jobs:
        print("no jobs")
    for job in jobs:
        _print_job(job)
    return 0


def cmd_show(client: Client, args) -> int:
    job = client.call("GET", f"jobs/{args.job}")
    if args.json:
        print(json.dumps(job, indent=2))
    else:
        _print_job(job, verbose=True)
    return 0


def cmd_cancel(client: Client, args) -> int:
    job = client.call("DELETE", f"jobs/{args.job}")
    print(f"cancelling {job['id']}: {job['state']}")
    return 0


def cmd_schedule(client: Client, args) -> int:
    action = args.action
    if action == "create":
        body = _submission(args)
        body["cron"] = args.cron
        s = client.call("POST", "schedules", body)
        print(f"created schedule {s['id']}; next runs: {', '.join(s['upcoming'])}")
        return 0
    if action == "list":
        schedules = client.call("GET", "schedules" + ("?all=1" if args.all else ""))["schedules"]
        if not schedules:
            print("no schedules")
        for s in schedules:
            _print_schedule(s)
        return 0
    if not args.id:
        raise CLIError(f"schedule {action} needs a schedule id; list them with `vre jobs schedule list`")
    if action == "show":
        print(json.dumps(client.call("GET", f"schedules/{args.id}"), indent=2))
    elif action in ("pause", "resume"):
        _print_schedule(client.call("POST", f"schedules/{args.id}/{action}"))
    elif action == "delete":
        client.call("DELETE", f"schedules/{args.id}")
        print(f"deleted schedule {args.id} (its past jobs stay listed)")
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
    parser.add_argument("--url", help="jobs service URL (default: $VRE_JOBS_URL, or asked from the hub)")
    parser.add_argument("--token", help="hub API token (default: $JUPYTERHUB_API_TOKEN)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("submit", help="run a notebook (or a sweep) now")
    _submission_options(p)
    p.add_argument("--wait", action="store_true", help="wait for the jobs; exit 1 unless all complete")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("list", help="your jobs, newest first")
    p.add_argument("--all", action="store_true", help="all users' jobs (admins)")
    p.add_argument("--state", choices=["queued", "starting", "running", "completed", "failed", "timeout", "cancelled"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="one job: state, timings, results folder, error")
    p.add_argument("job")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("cancel", help="cancel a queued or running job")
    p.add_argument("job")
    p.set_defaults(func=cmd_cancel)

    p = sub.add_parser("schedule", help="run a notebook on a cron schedule")
    p.add_argument("action", choices=["create", "list", "show", "pause", "resume", "delete"])
    p.add_argument("id", nargs="?", help="schedule id (show/pause/resume/delete)")
    p.add_argument("--notebook", help="notebook (create)")
    p.add_argument("--cron", help="cron expression in UTC, e.g. '0 6 * * *' (create)")
    p.add_argument("--all", action="store_true", help="all users' schedules (admins)")
    _submission_options(p, with_notebook=False)
    p.set_defaults(func=cmd_schedule)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "schedule" and args.action == "create":
            args.notebook = args.notebook or args.id  # `schedule create NOTEBOOK --cron ...` too
            if not args.cron or not args.notebook:
                raise CLIError("schedule create needs a notebook and --cron EXPR; e.g. --notebook work/a.ipynb --cron '0 6 * * *'")
        args.token = args.token or os.environ.get("JUPYTERHUB_API_TOKEN")
        if not args.token:
            raise CLIError("no hub token; pass --token or run inside a hub session (JUPYTERHUB_API_TOKEN)")
        return args.func(Client(_service_url(args), args.token), args)
    except CLIError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
