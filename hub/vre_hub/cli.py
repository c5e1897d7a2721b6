"""The operator's command line: ``vre up | down | status | backup | restore | logs | images build | users add | disable | enable``.

Component command groups (``vre catalog``, ``vre jobs``, ``vre workshop``) are the
``vre.commands`` entry points of the installed packages (pyproject.toml), so that the hub
imports none of them. Errors and exit codes follow the CLI kit (vre_core.cli).
Every step says what it does; a failing step says which and why in one line.
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
from importlib.metadata import entry_points

from vre_core.cli import add_json, add_state_dir, fail, print_json, run
from vre_core.errors import VREError
from vre_core.naming import HUB_API_PORT, HUB_PORT, PROXY_API_PORT

from . import __version__

#: ``vre <group> ...`` -> the group's ``main(argv)``, from the installed packages.
COMPONENT_COMMANDS = {ep.name: ep for ep in entry_points(group="vre.commands")}


def say(message: str) -> None:
    print(f"vre: {message}", flush=True)


def _hub(args):
    from .launcher import HubProcess
    from vre_core.state import StateDir

    return HubProcess(
        StateDir(args.state_dir),
        port=args.port,
        api_port=args.api_port,
        proxy_api_port=args.proxy_api_port,
        ip=args.ip,
    )


def _client(state):
    from vre_core.hub import HubClient

    return HubClient(state.hub_url, state.admin_token)


# -- commands -----------------------------------------------------------------------


def cmd_up(args) -> int:
    from vre_core import naming

    from . import engine, images

    say("checking the Docker engine")
    say(engine.ensure_docker_engine(log=say))
    say("checking configurable-http-proxy")
    proxy = engine.ensure_proxy(log=say)
    image = os.environ.get("VRE_USER_IMAGE")
    if image:  # the operator's own image: use it as it is
        say(f"checking the user image ({image}, from VRE_USER_IMAGE)")
        if not images.image_exists(image):
            raise RuntimeError(f"VRE_USER_IMAGE={image} is not a local image; build or load it, or unset it")
    else:
        say(f"checking the user image ({images.user_image_tag()})")
        images.build_user_image(base=args.base, log=say)

    hub = _hub(args)
    hub.env["VRE_PROXY_COMMAND"] = proxy
    hub.env["VRE_ADMIN_USER"] = naming.check_name(args.admin_user, "--admin-user")
    if hub.pid():
        say(f"hub already running (pid {hub.pid()}) at {hub.state.hub_url}")
        return 0
    # The hub gives the admin account this password while it starts, before it accepts
    # connections (VREAuthenticator.admin_password_file): no one can sign up as the admin.
    password_file = hub.state.path / "admin_password"
    hub.state.secret("admin_password")
    say(f"starting JupyterHub and its proxy in the background (state: {hub.state.path})")
    hub.start(log=say)  # says which network and firewall rules the servers get
    # With per-user subdomains people must come through the subdomain host (else the hub
    # and their servers are on one origin and they log in twice).
    public = os.environ.get("VRE_SUBDOMAIN_HOST", "").rstrip("/")
    say(f"JupyterHub is up at {public or hub.url}" + (f" (its proxy listens on {hub.url})" if public else ""))
    say(f"log in as '{args.admin_user}' with the password in {password_file} (mode 0600)")
    say(f"add people with `vre users add NAME`; stop with `vre down`; logs: `vre logs`")
    return 0


def cmd_down(args) -> int:
    from vre_core.hub import HubAPIError

    hub = _hub(args)
    if not hub.pid():
        say("no hub running")
        return 0
    if not args.keep_servers:
        client = _client(hub.state)
        try:
            for user in client.get("/users"):
                if user.get("servers"):
                    say(f"stopping {user['name']}'s server (home volume kept)")
                    client.stop_server(user["name"])
        except (HubAPIError, OSError) as error:
            say(f"could not stop every server ({error}); stopping the hub anyway")
    say("stopping JupyterHub and its proxy")
    hub.stop()
    return 0


def cmd_restart(args) -> int:
    """Stop and start the hub and its proxy, servers left running: loads changed
    configuration (a workshop's teacher role, a jupyterhub_config.d/ file)."""
    args.keep_servers = True
    cmd_down(args)
    return cmd_up(args)


def cmd_status(args) -> int:
    from . import engine, images

    hub = _hub(args)
    pid = hub.pid()
    tag = images.user_image_tag()
    found = {
        "docker_engine": engine.engine_answers(),
        "user_image": {"tag": tag, "present": images.image_exists(tag)},
        "hub": {"pid": pid, "url": hub.state.hub_url} if pid else None,
    }
    if pid:
        users = _client(hub.state).get("/users")
        found["users"] = {u["name"]: {"running": bool(u.get("servers"))} for u in users}
    disks = _disks(hub.state)
    found["disks"] = [disk.as_dict() for disk in disks]
    if args.json:
        print_json(found)
        return 0
    print(f"docker engine : {'answers' if found['docker_engine'] else 'NOT answering'}")
    print(f"user image    : {tag} ({'present' if found['user_image']['present'] else 'missing'})")
    print(f"hub           : {'running, pid %d, %s' % (pid, hub.state.hub_url) if pid else 'stopped'}")
    if pid:
        running = [name for name, user in found["users"].items() if user["running"]]
        print(f"users         : {len(users)} ({len(running)} with a running server: {', '.join(running) or '-'})")
    for disk in disks:
        print(f"disk          : {disk.what} {disk.used_percent:.0f}% used ({disk.path})")
    for disk in disks:
        if disk.warning:
            print(f"warning: {disk.warning}", file=sys.stderr)
    return 0


def _disks(state):
    """Use of the state folder's and the Docker volumes' disks (vre_hub.disks)."""
    from . import disks

    path = state.path
    while not path.exists():  # a state folder not made yet: the disk it would be on
        path = path.parent
    return disks.check(path)


def cmd_backup(args) -> int:
    """A consistent copy of the hub, the jobs service and every user's home (vre_hub.backup)."""
    from vre_core.state import StateDir

    from .backup import backup

    log = (lambda m: None) if args.json else say
    summary = backup(StateDir(args.state_dir), args.dest, log, args.home_volume, tuple(args.volume))
    if args.json:
        print_json(summary)
    return 0


def cmd_restore(args) -> int:
    """Check a backup whole, then put it back (the hub stopped); replaces nothing without keeping it."""
    from vre_core.state import StateDir

    from .backup import restore

    summary = restore(StateDir(args.state_dir), args.src, log=(lambda m: None) if args.json else say)
    if args.json:
        print_json(summary)
    return 0


def cmd_logs(args) -> int:
    hub = _hub(args)
    if not hub.log_file.exists():
        return fail(f"no log at {hub.log_file}; has `vre up` run with this state folder?")
    command = ["tail", "-n", str(args.lines)] + (["-f"] if args.follow else []) + [str(hub.log_file)]
    return subprocess.call(command)


def cmd_images_build(args) -> int:
    from . import engine, images

    say(engine.ensure_docker_engine(log=say))
    if args.offline_base:
        images.build_offline_base(log=say)
    images.build_user_image(base=args.base, force=args.force, log=say)
    return 0


def cmd_users_add(args) -> int:
    from vre_core import accounts, naming
    from vre_core.state import StateDir

    state = StateDir(args.state_dir)
    # Upper case is lower-cased, as at login; any other break of the rule is refused.
    name = naming.check_name(accounts.normalize_username(args.name))
    password = args.password or secrets.token_urlsafe(12)
    _client(state).ensure_user(name, admin=args.admin)
    accounts.set_password(name, password, state.db_url)
    say(f"account {name!r} ready" + ("" if args.password else f"; password: {password}"))
    return 0


def cmd_users_disable(args) -> int:
    """Login off, tokens revoked, server stopped, jobs cancelled (vre_hub.disabling)."""
    from vre_core.disabling import disable_account
    from vre_core.state import StateDir

    state = StateDir(args.state_dir)
    for line in disable_account(_client(state), args.name, state.db_url):
        say(f"{args.name}: {line}")
    return 0


def cmd_users_enable(args) -> int:
    from vre_core.disabling import enable_account
    from vre_core.state import StateDir

    say(f"{args.name}: {enable_account(args.name, StateDir(args.state_dir).db_url)}")
    return 0


# -- parser -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vre", description="DATA TERRA VRE operator command line")
    parser.add_argument("--version", action="version", version=f"vre {__version__}")
    add_state_dir(parser)
    parser.add_argument("--ip", default="127.0.0.1", help="address the hub listens on")
    parser.add_argument("--port", type=int, default=HUB_PORT, help="public port of the hub")
    parser.add_argument("--api-port", type=int, default=HUB_API_PORT, help="internal hub API port")
    parser.add_argument("--proxy-api-port", type=int, default=PROXY_API_PORT, help="internal proxy API port")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="install what is missing, build images, start the hub")
    up.add_argument("--base", default="auto", help="user image base: auto, offline, public or an image name")
    up.add_argument("--admin-user", default=os.environ.get("VRE_ADMIN_USER", "admin"), help="the hub's admin account")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop users' servers (homes kept), the hub and its proxy")
    down.add_argument("--keep-servers", action="store_true", help="leave user servers running")
    down.set_defaults(func=cmd_down)

    restart = sub.add_parser("restart", help="restart the hub and its proxy (servers keep running) to load new config")
    restart.add_argument("--base", default="auto", help="user image base, as for up")
    restart.add_argument("--admin-user", default=os.environ.get("VRE_ADMIN_USER", "admin"), help="as for up")
    restart.set_defaults(func=cmd_restart)

    status = sub.add_parser("status", help="engine, image, hub and servers")
    add_json(status)
    status.set_defaults(func=cmd_status)

    backup = sub.add_parser("backup", help="copy the hub and jobs databases, secrets and every home into a new folder")
    backup.add_argument("dest", nargs="?", help="new folder for the backup (default ./vre-backup-<UTC time>)")
    backup.add_argument("--home-volume", help="the spawner's home volume name template if not vre-home-{username}")
    backup.add_argument("--volume", action="append", default=[], help="another volume to copy (e.g. Dataref); repeatable")
    add_json(backup)
    backup.set_defaults(func=cmd_backup)

    restore = sub.add_parser("restore", help="check a backup, then put it back (hub stopped; nothing existing is lost)")
    restore.add_argument("src", help="a folder written by `vre backup`")
    add_json(restore)
    restore.set_defaults(func=cmd_restore)

    logs = sub.add_parser("logs", help="the hub's log")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("-n", "--lines", type=int, default=100)
    logs.set_defaults(func=cmd_logs)

    images = sub.add_parser("images", help="build images").add_subparsers(dest="images_command", required=True)
    build = images.add_parser("build", help="build the user image if missing or stale")
    build.add_argument("--base", default="auto", help="auto, offline, public or an image name")
    build.add_argument("--offline-base", action="store_true", help="(re)build the debootstrap base first")
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    build.set_defaults(func=cmd_images_build)

    users = sub.add_parser("users", help="accounts").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="create an approved account (password generated unless given)")
    add.add_argument("name")
    add.add_argument("--password")
    add.add_argument("--admin", action="store_true")
    add.set_defaults(func=cmd_users_add)
    disable = users.add_parser("disable", help="login off, tokens revoked, server stopped, jobs cancelled (home kept)")
    disable.add_argument("name")
    disable.set_defaults(func=cmd_users_disable)
    enable = users.add_parser("enable", help="let a disabled account log in again")
    enable.add_argument("name")
    enable.set_defaults(func=cmd_users_enable)

    for name in COMPONENT_COMMANDS:
        sub.add_parser(name, help=f"see `vre {name} --help`", add_help=False)
    return parser


def _component_command(argv: list[str]) -> str | None:
    """The component group named by the first positional word, if any (they parse their own options)."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word.startswith("--") and "=" not in word and word not in {"--help", "--version"}:
            index += 2  # a global option and its value
        elif word.startswith("-"):
            index += 1
        else:
            return word if word in COMPONENT_COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    component = _component_command(argv)
    if component is not None:
        index = argv.index(component)
        # Global options given before the group still apply (the groups read the environment).
        globals_ = build_parser().parse_known_args(argv[:index] + ["status"])[0]
        if globals_.state_dir:
            os.environ["VRE_STATE_DIR"] = str(globals_.state_dir)
        return COMPONENT_COMMANDS[component].load()(argv[index + 1 :])
    args = build_parser().parse_args(argv)
    started = time.monotonic()

    def command() -> int:
        try:
            return args.func(args)
        except (KeyboardInterrupt, VREError):
            raise
        except Exception as error:  # one line naming the step, not a traceback
            raise VREError(f"{args.command}: {error}") from None

    try:
        return run(command)
    finally:
        if getattr(args, "command", "") in {"up", "images"}:
            say(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
