"""``vre workshop``: run a teaching workshop in a few commands.

    vre workshop create neo-2026 --seats 30 --notebooks notebooks/ --expires 2026-12-31
    vre workshop prewarm neo-2026          # a few minutes before class
    vre workshop status neo-2026
    vre workshop collect neo-2026          # participants' notebooks -> teacher's home
    vre workshop end neo-2026              # stop, archive homes, disable (or remove) accounts
    vre workshop teachers add alice        # alice may use the teacher's console (no restart)

``--url`` is the hub's URL (``--hub-url``, its old name, still works); ``list`` and
``status`` take ``--json``. Errors and exit codes follow the CLI kit (vre_core.cli).
"""

import argparse
import dataclasses
import sys

from vre_core.cli import add_json, add_state_dir, add_url, print_json, run
from vre_core.hub import HubAPIError
from vre_core.state import StateDir
from .context import Context
from .errors import WorkshopError


def say(message: str) -> None:
    print(f"vre workshop: {message}", flush=True)


def cmd_create(ctx: Context, args) -> int:
    from .create import Request, create
    from .roster import SHARED_PASSWORD_WARNING

    if args.shared_password:
        print(f"warning: {SHARED_PASSWORD_WARNING}", file=sys.stderr, flush=True)
    create(
        ctx,
        Request(
            name=args.name,
            seats=args.seats,
            notebooks=args.notebooks,
            teacher=args.teacher,
            profile=args.profile,
            expires=args.expires,
            shared_password=args.shared_password,
            class_start=args.class_start,
            class_end=args.class_end,
            class_idle_minutes=args.class_idle_minutes,
        ),
    )
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
    from .prewarm import prewarm

    outcomes, _ = prewarm(
        ctx,
        ctx.registry.load(args.name),
        concurrency=args.concurrency,
        rate=args.rate,
        timeout=args.timeout,
        retries=args.retries,
    )
    failed = [o.user for o in outcomes if not o.ok]
    if failed:
        raise WorkshopError(
            f"{len(failed)} server(s) failed to start: {', '.join(failed)}",
            "see `vre workshop status` and the hub log, then prewarm again",
        )
    return 0


def cmd_status(ctx: Context, args) -> int:
    from .status import render, status

    workshop = ctx.registry.load(args.name)
    members = status(ctx, workshop, idle_minutes=args.idle_minutes)
    if args.json:
        print_json([dataclasses.asdict(m) for m in members])
    else:
        print(render(workshop, members))
    return 0


def cmd_collect(ctx: Context, args) -> int:
    from .collect import collect

    collect(ctx, ctx.registry.load(args.name))
    return 0


def cmd_end(ctx: Context, args) -> int:
    from .end import end

    end(ctx, ctx.registry.load(args.name), archive_to=args.archive, remove=args.remove)
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
    parser.add_argument("--image", help="user image for home-volume work (default: the spawner's)")
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
            raise WorkshopError(f"the hub refused a request ({error.what})", "check the admin token and the hub log") from None

    return run(command, unexpected="see the hub and Docker logs")


if __name__ == "__main__":
    sys.exit(main())
