"""``vre workshop``: run a teaching workshop in a few commands.

    vre workshop create neo-2026 --seats 30 --notebooks notebooks/ --expires 2026-12-31
    vre workshop prewarm neo-2026          # a few minutes before class
    vre workshop status neo-2026
    vre workshop collect neo-2026          # participants' notebooks -> teacher's home
    vre workshop end neo-2026              # stop, archive homes, disable (or remove) accounts
    vre workshop teachers add alice        # alice may use the teacher's console (no restart)

create, seats, prewarm, status, push, collect and end are clients of the teacher's console
(/services/workshop/api/): with the state folder's admin token, or a teacher's own hub token
(``--token`` or ``$JUPYTERHUB_API_TOKEN``, e.g. in their JupyterLab). list, distribute,
culling and teachers work on the hub's host (state folder, Docker, admin token).
``--url`` is the hub's public URL (``--hub-url``, its old name, still works); ``list`` and
``status`` take ``--json``. Errors and exit codes follow the CLI kit (vre_core.cli).
"""

import argparse
import dataclasses
import json
import os
import sys
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import quote

from vre_core.cli import add_json, add_state_dir, add_url, print_json, run
from vre_core.hub import HubAPIError, ServiceClient
from vre_core.state import StateDir
from .context import Context
from .errors import WorkshopError


#: Seconds between two looks at a prewarm's progress.
PROGRESS_EVERY = 1.0


def say(message: str) -> None:
    print(f"vre workshop: {message}", flush=True)


class Console(ServiceClient):
    """The teacher's console's REST API (``service.py``), ``<hub>/services/workshop/api/...``: the
    commands the console offers go through it, so a teacher's own hub token works from anywhere."""

    prefix = "/services/workshop/api/"

    def __init__(self, url: str, token: str):
        super().__init__(url, token, timeout=900, fix="check --url (the hub's public URL) or start the hub with `vre up`")

    def refusal(self, method: str, path: str, status: int, message: str) -> WorkshopError:
        if status == 404 and message == HTTPStatus.NOT_FOUND.phrase:  # no JSON answer: not the console
            return WorkshopError(f"no teacher's console at {self.url}{self.prefix}", self.fix)
        return WorkshopError(message or f"{method} {path}: HTTP {status}")  # the console says what and how to fix


def console(ctx: Context, args) -> Console:
    """The console as the caller: ``--token``, else ``$JUPYTERHUB_API_TOKEN`` (a teacher, e.g. in
    their JupyterLab), else the state folder's ``vre-admin`` token (the operator on the host)."""
    return Console(ctx.url, args.token or os.environ.get("JUPYTERHUB_API_TOKEN") or ctx.admin_token)


def workshop_path(name: str, rest: str = "") -> str:
    return f"workshops/{quote(name, safe='')}{rest}"


def say_log(answer: dict) -> None:
    """The console's log of a step (what the step said), as the CLI has always printed it."""
    for line in answer.get("log", []):
        say(line)


def cmd_create(ctx: Context, args) -> int:
    from .notebooks import is_git_url
    from .roster import SHARED_PASSWORD_WARNING

    if args.shared_password:
        print(f"warning: {SHARED_PASSWORD_WARNING}", file=sys.stderr, flush=True)
    material = args.notebooks
    if material and not is_git_url(material):
        material = os.path.abspath(material)  # read by the console, whose working folder is not ours
    say_log(console(ctx, args).call("POST", "workshops", {
        "name": args.name, "seats": args.seats, "notebooks": material, "teacher": args.teacher,
        "profile": args.profile, "expires": args.expires, "shared_password": args.shared_password,
        "class_start": args.class_start, "class_end": args.class_end, "class_idle_minutes": args.class_idle_minutes,
    }))
    return 0


def cmd_list(ctx: Context, args) -> int:
    workshops = ctx.registry.all()
    if args.json:
        print_json([dataclasses.asdict(w) for w in workshops])
        return 0
    if not workshops:
        say(f"no workshops in {ctx.state_dir}")
    for w in workshops:
        state = f"ended {w.ended[:10]}" if w.ended else "open"
        print(f"{w.name}\t{len(w.participants)} seats\tteacher {w.teacher}\texpires {w.expires or '-'}\t{state}")
    return 0


def cmd_distribute(ctx: Context, args) -> int:
    from . import notebooks
    from .distribute import distribute

    workshop = ctx.registry.load(args.name)
    source = args.notebooks or workshop.notebooks
    if not source:
        raise WorkshopError(f"workshop {args.name} has no notebooks source", "give --notebooks PATH|GIT-URL")
    packed = notebooks.load(source)
    distribute(ctx, workshop, packed)
    if args.notebooks and args.notebooks != workshop.notebooks:
        workshop.notebooks = args.notebooks
        ctx.registry.save(workshop)
    return 0


def cmd_prewarm(ctx: Context, args) -> int:
    api, path = console(ctx, args), workshop_path(args.name, "/prewarm")
    options = {"concurrency": args.concurrency, "rate": args.rate, "timeout": args.timeout, "retries": args.retries}
    progress, shown = api.call("POST", path, options), None
    while progress["state"] == "running":  # the console starts them in the background
        if progress["done"] != shown:
            shown = progress["done"]
            say(f"{shown} of {progress['total']} server(s) started")
        time.sleep(PROGRESS_EVERY)
        progress = api.get(path)
    if progress["state"] == "failed":
        raise WorkshopError(f"prewarm stopped: {progress.get('error')}", "see the hub log, then prewarm again")
    for line in progress["failed"]:
        say(line)
    if progress["failed"]:
        failed = [line.split(":")[0] for line in progress["failed"]]
        raise WorkshopError(
            f"{len(failed)} server(s) failed to start: {', '.join(failed)}",
            "see `vre workshop status` and the hub log, then prewarm again",
        )
    say(f"{progress['total']} of {progress['total']} server(s) ready")
    return 0


def cmd_status(ctx: Context, args) -> int:
    from .status import MemberStatus, render

    table = console(ctx, args).get(workshop_path(args.name, f"/status?idle_minutes={args.idle_minutes}"))
    if args.json:
        print_json(table["participants"])
        return 0
    fields = [field.name for field in dataclasses.fields(MemberStatus)]
    members = [MemberStatus(**{key: row.get(key) or "" for key in fields}) for row in table["participants"]]
    print(render(table["workshop"], table["teacher"], members))
    return 0


def cmd_seats(ctx: Context, args) -> int:
    roster = console(ctx, args).request("GET", workshop_path(args.name, "/roster.csv")).content
    if not args.output:
        sys.stdout.write(roster.decode())
        return 0
    with os.fdopen(os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:  # passwords
        out.write(roster)
    say(f"seat list of {args.name} (with passwords) written to {args.output}")
    return 0


def cmd_push(ctx: Context, args) -> int:
    path = Path(args.notebook)
    try:
        content = json.loads(path.read_text())
    except ValueError:
        raise WorkshopError(f"{path} is not a notebook (not JSON)", "give an .ipynb file") from None
    say_log(console(ctx, args).call("POST", workshop_path(args.name, "/push"), {"name": path.name, "content": content}))
    return 0


def cmd_collect(ctx: Context, args) -> int:
    api = console(ctx, args)
    if not args.zip:
        say_log(api.call("POST", workshop_path(args.name, "/collect")))
        return 0
    response = api.request("GET", workshop_path(args.name, "/collect.zip"), stream=True)
    with response, open(args.zip, "wb") as out:
        for chunk in response.iter_content(1 << 20):  # streamed, as the console sends it
            out.write(chunk)
    say(f"participants' notebooks of {args.name} written to {args.zip}")
    return 0


def cmd_end(ctx: Context, args) -> int:
    archive = os.path.abspath(args.archive) if args.archive else None  # written by the console, on the hub's host
    say_log(console(ctx, args).call("POST", workshop_path(args.name, "/end"), {"archive": archive, "remove": args.remove}))
    return 0


def cmd_teachers(ctx: Context, args) -> int:
    """Who may use the teacher's console: members of the hub group TEACHERS_GROUP (no restart)."""
    from .roles import TEACHERS_GROUP

    hub = ctx.hub
    if hub.group(TEACHERS_GROUP) is None:
        hub.create_group(TEACHERS_GROUP, [])
    path = f"{hub.group_path(TEACHERS_GROUP)}/users"
    if args.action in ("add", "remove"):
        missing = [user for user in args.users if hub.user(user) is None]
        if missing:
            raise WorkshopError(f"no hub user {missing[0]!r}", "create the account first (`vre users add`)")
        hub.request("POST" if args.action == "add" else "DELETE", path, json={"users": args.users})
    members = sorted(hub.group(TEACHERS_GROUP)["users"])
    if args.json:
        print_json(members)
    else:
        say(f"teachers (console at /services/workshop/): {', '.join(members) or 'none'}")
    return 0


def cmd_culling(ctx: Context, args) -> int:
    from .registry import parse_datetime

    workshop = ctx.registry.load(args.name)
    if args.class_start is not None:
        workshop.class_start = parse_datetime(args.class_start)
    if args.class_end is not None:
        workshop.class_end = parse_datetime(args.class_end)
    if args.class_idle_minutes is not None:
        if args.class_idle_minutes <= 0:
            raise WorkshopError("--class-idle-minutes must be positive", "give minutes, e.g. 180")
        workshop.class_idle_timeout = args.class_idle_minutes * 60
    ctx.registry.save(workshop)  # the culler re-reads records as they change
    window = f"{workshop.class_start or 'creation'} to {workshop.class_end or 'end of workshop'}"
    say(f"{workshop.name}: idle servers kept {workshop.class_idle_timeout // 60} min during class ({window})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vre workshop", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_state_dir(parser)
    add_url(parser, "hub URL (default: the one `vre up` recorded)", old=("--hub-url",))
    parser.add_argument("--token", help="a teacher's hub API token (default: $JUPYTERHUB_API_TOKEN, else the admin token)")
    parser.add_argument("--image", help="user image for `distribute` (default: the spawner's, which the console always uses)")
    sub = parser.add_subparsers(dest="command", required=True)

    def class_options(p):
        p.add_argument("--class-start", help="class start, YYYY-MM-DDTHH:MM UTC (longer idle timeout from then)")
        p.add_argument("--class-end", help="class end, YYYY-MM-DDTHH:MM UTC (normal idle timeout again)")
        p.add_argument("--class-idle-minutes", type=int, help="idle minutes before culling during class (default 180)")

    p = sub.add_parser("create", help="accounts, group, teacher role, roster and notebooks")
    p.add_argument("name", help="workshop name: group name and user-name prefix, e.g. neo-2026")
    p.add_argument("--seats", type=int, required=True, help="number of participant accounts")
    p.add_argument("--notebooks", help="folder, .ipynb file or git URL copied into every home")
    p.add_argument("--teacher", help="teacher's user name (created if absent; default <name>-teacher)")
    p.add_argument("--profile", help="server profile for the participants (e.g. standard)")
    p.add_argument("--expires", help="YYYY-MM-DD from which `end` removes the accounts")
    p.add_argument(
        "--shared-password", action="store_true",
        help="one password for all participants (any of them can then log in as any other)",
    )
    class_options(p)
    p.set_defaults(func=cmd_create)

    p = sub.add_parser("list", help="workshops recorded in the state folder")
    add_json(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("distribute", help="copy (new) notebooks into every home, keeping edits")
    p.add_argument("name")
    p.add_argument("--notebooks", help="another source than the one given at creation")
    p.set_defaults(func=cmd_distribute)

    p = sub.add_parser("seats", help="the seat list (CSV: role, login, password, URL)")
    p.add_argument("name")
    p.add_argument("-o", "--output", help="write it to this file (mode 0600) instead of printing it")
    p.set_defaults(func=cmd_seats)

    p = sub.add_parser("push", help="copy one notebook into every participant's home, keeping edits")
    p.add_argument("name")
    p.add_argument("notebook", help="an .ipynb file")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("prewarm", help="start every participant's server, at a bounded rate")
    p.add_argument("name")
    p.add_argument("--concurrency", type=int, help="spawns in flight at once (default: CPU cores, 2 to 8)")
    p.add_argument("--rate", type=float, default=2.0, help="new spawns per second at most (default 2)")
    p.add_argument("--timeout", type=float, default=180, help="seconds allowed per server (default 180)")
    p.add_argument("--retries", type=int, default=1, help="tries again for failed servers, one at a time (default 1)")
    p.set_defaults(func=cmd_prewarm)

    p = sub.add_parser("status", help="running / idle / starting / stopped / failed per participant")
    p.add_argument("name")
    p.add_argument("--idle-minutes", type=float, default=15, help="no activity for this long = idle")
    add_json(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("collect", help="copy participants' notebooks into the teacher's home")
    p.add_argument("name")
    p.add_argument("--zip", metavar="FILE", help="download them as a zip file instead")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("end", help="stop servers, archive homes, disable (or after expiry remove) accounts")
    p.add_argument("name")
    p.add_argument("--archive", help="archive file (default <state>/workshops/<name>/<name>-<time>.tar.gz)")
    p.add_argument("--remove", action="store_true", help="remove accounts and homes now, even before expiry")
    p.set_defaults(func=cmd_end)

    teachers = sub.add_parser("teachers", help="who may use the teacher's console (takes effect at once)")
    verbs = teachers.add_subparsers(dest="action", required=True, metavar="{list,add,remove}")
    for verb, text in (("list", "list the teachers"), ("add", "make accounts teachers"), ("remove", "take it back")):
        p = verbs.add_parser(verb, help=text)
        if verb != "list":
            p.add_argument("users", nargs="+", help="hub user names")
        add_json(p)
        p.set_defaults(func=cmd_teachers)

    p = sub.add_parser("culling", help="class window and idle timeout of a workshop")
    p.add_argument("name")
    class_options(p)
    p.set_defaults(func=cmd_culling)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    ctx = Context(state=StateDir(args.state_dir), hub_url=args.url, image=args.image, say=say)

    def command() -> int:
        try:
            return args.func(ctx, args)
        except HubAPIError as error:
            if error.status == 0:  # no answer: its own line says where and how to fix
                raise
            raise WorkshopError(f"the hub refused a request ({error.what})", "check the admin token and the hub log") from None

    return run(command, unexpected="see the hub and Docker logs")


if __name__ == "__main__":
    sys.exit(main())
