"""``vre workshop create``: check everything first, then build the workshop, undoing on failure.

What gets made: participant accounts ``<name>-01...`` (approved NativeAuthenticator
accounts with generated passwords), the JupyterHub group ``<name>``, the teacher account
if it does not exist, the roster (CSV, 0600), the workshop record (which the hub config
turns into the teacher role), and the notebooks in every participant's home.
"""

from dataclasses import dataclass
from datetime import date

from vre_core.accounts import normalize_username
from vre_core.errors import VREError
from vre_core.state import offered_profiles
from vre_core.naming import BadName, check_name as check_username
from . import homes, notebooks
from .context import Context
from .distribute import distribute
from .errors import WorkshopError
from .passwords import set_generated_password
from .registry import Workshop, check_name, parse_date, parse_datetime
from .roster import assign_passwords, generate_password, write_roster

MAX_SEATS = 500


@dataclass
class Request:
    name: str
    seats: int
    notebooks: str | None = None
    teacher: str | None = None
    profile: str | None = None
    expires: str | None = None
    shared_password: bool = False
    class_start: str | None = None
    class_end: str | None = None
    class_idle_minutes: int | None = None


def participant_names(name: str, seats: int) -> list[str]:
    width = max(2, len(str(seats)))
    return [f"{name}-{i:0{width}d}" for i in range(1, seats + 1)]


def validate(ctx: Context, req: Request) -> tuple[Workshop, bytes | None, bool]:
    """Every check that can fail, before any change; returns (workshop, notebooks, new teacher)."""
    check_name(req.name)
    if req.seats is None or req.seats <= 0:
        raise WorkshopError(f"--seats must be at least 1 (got {req.seats})", "give the number of participants")
    if req.seats > MAX_SEATS:
        raise WorkshopError(f"--seats {req.seats} is more than {MAX_SEATS}", "split the class into several workshops")
    expires = parse_date(req.expires)
    if expires and date.fromisoformat(expires) < date.today():
        raise WorkshopError(f"--expires {expires} is in the past", "give today or a later date")
    class_start, class_end = parse_datetime(req.class_start), parse_datetime(req.class_end)
    if class_start and class_end and class_end <= class_start:
        raise WorkshopError("--class-end is not after --class-start", "swap or fix the two times")
    if req.class_idle_minutes is not None and req.class_idle_minutes <= 0:
        raise WorkshopError("--class-idle-minutes must be positive", "give minutes, e.g. 180")
    if ctx.registry.exists(req.name):
        raise WorkshopError(f"workshop {req.name!r} already exists", "choose another name or end it first")

    participants = participant_names(req.name, req.seats)
    teacher = normalize_username(req.teacher) if req.teacher else f"{req.name}-teacher"  # as at login
    try:  # the user-name rule (generated names follow it: check_name bounds the workshop name)
        check_username(teacher, "teacher name")
        for user in participants:
            check_username(user, "participant name")
    except BadName as error:
        raise WorkshopError(str(error), "choose another --teacher or workshop name") from None
    if teacher in participants:
        raise WorkshopError(f"teacher {teacher!r} is also a participant name", "choose another teacher name")

    if req.profile:
        try:
            offered = offered_profiles(ctx.state)
        except VREError as error:
            raise WorkshopError(error.what, "fix the hub configuration, then run create again") from None
        if req.profile not in offered:
            raise WorkshopError(f"unknown profile {req.profile!r}", f"choose one of: {', '.join(offered)}")

    # The material is read (or cloned) now: a bad path must not leave accounts behind.
    packed = notebooks.load(req.notebooks) if req.notebooks else None

    hub = ctx.hub
    if hub.group(req.name) is not None:
        raise WorkshopError(f"a hub group called {req.name!r} already exists", "choose another workshop name")
    taken = [user for user in participants if hub.user(user) is not None]
    if taken:
        raise WorkshopError(f"user {taken[0]!r} already exists on the hub", "choose another workshop name")
    new_teacher = hub.user(teacher) is None
    if req.teacher and new_teacher:
        ctx.say(f"teacher {teacher!r} has no account yet: it will be created")

    # A leftover home would hand a former participant's files to a new one.
    client = ctx.docker
    leftovers = [user for user in participants if homes.volume_exists(client, user)]
    if leftovers:
        raise WorkshopError(
            f"home volume of {leftovers[0]!r} already exists (left by an earlier workshop?)",
            f"archive and remove it (docker volume rm {homes.home_volume_name(leftovers[0])}) or choose another name",
        )

    workshop = Workshop(
        name=req.name,
        teacher=teacher,
        participants=participants,
        profile=req.profile,
        expires=expires,
        shared_password=req.shared_password,
        notebooks=req.notebooks,
        class_start=class_start,
        class_end=class_end,
        teacher_created=new_teacher,
    )
    if req.class_idle_minutes:
        workshop.class_idle_timeout = req.class_idle_minutes * 60
    return workshop, packed, new_teacher


def _remove_if_empty(folder) -> None:
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def create(ctx: Context, req: Request) -> Workshop:
    workshop, packed, new_teacher = validate(ctx, req)
    hub, say = ctx.hub, ctx.say
    undo = []  # what to take back, newest first, if a later step fails
    folder = ctx.registry.folder(workshop.name)
    if not folder.exists():
        undo.append(lambda: _remove_if_empty(folder))
    try:
        users = workshop.participants + ([workshop.teacher] if new_teacher else [])
        say(f"creating {len(users)} hub account(s): {users[0]} ... {users[-1]}")
        undo.append(lambda: [hub.delete_user(u) for u in users])  # also drops their passwords
        hub.create_users(users)

        say(f"creating group {workshop.group} with the {len(workshop.participants)} participants")
        undo.append(lambda: hub.delete_group(workshop.group))
        hub.create_group(workshop.group, workshop.participants)

        passwords = assign_passwords(workshop.participants, shared=workshop.shared_password)
        rows = [("participant", u, passwords[u]) for u in workshop.participants]
        if new_teacher:
            passwords[workshop.teacher] = generate_password()
            rows.insert(0, ("teacher", workshop.teacher, passwords[workshop.teacher]))
        for user, password in passwords.items():
            set_generated_password(user, password, ctx.db_url)

        roster = ctx.registry.roster_file(workshop.name)
        undo.append(lambda: roster.unlink(missing_ok=True))
        write_roster(roster, rows, hub.url)
        say(f"roster with the passwords written to {roster} (mode 0600)")

        if packed is not None:
            undo.append(lambda: [homes.remove_volume(ctx.docker, u) for u in workshop.participants])
            distribute(ctx, workshop, packed)

        undo.append(lambda: ctx.registry.forget(workshop.name))
        ctx.registry.save(workshop)
    except BaseException as error:
        say(f"creating workshop {workshop.name} failed ({error}); undoing what was done")
        for step in reversed(undo):
            try:
                step()
            except Exception as cleanup_error:  # keep undoing the rest
                say(f"  could not undo a step: {cleanup_error}")
        raise
    say(f"workshop {workshop.name} created: teacher {workshop.teacher}, {len(workshop.participants)} seats")
    say(
        f"the teacher role {workshop.teacher_role} takes effect at the next hub start "
        "(JupyterHub loads roles from config): restart it with `vre restart` (servers keep running)"
    )
    return workshop
