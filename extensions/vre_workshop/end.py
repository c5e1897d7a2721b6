"""``vre workshop end``: disable the accounts, archive the homes, then maybe remove them.

First every participant account is disabled as by ``vre users disable``
(:mod:`vre_core.disabling`: login and old cookies/tokens refused, tokens revoked, server
stopped, jobs cancelled, schedules paused), so nothing changes the homes while they are
archived. Nothing is deleted before the archive is complete on disk. Before the workshop's
expiry date the accounts stay disabled (homes kept) so that participants can be given more
time (`vre users enable`); from the expiry date on (or with ``--remove``) the accounts,
group and home volumes are removed. Running ``end`` again is safe.
"""

from datetime import datetime, timezone
from pathlib import Path

from vre_core.disabling import AccountError, disable_account
from vre_core.naming import work_volume_name
from . import homes
from .context import Context
from .errors import WorkshopError
from .registry import Workshop


def end(ctx: Context, workshop: Workshop, archive_to: Path | None = None, remove: bool = False) -> Path:
    hub, say = ctx.hub, ctx.say
    members = list(workshop.participants)

    present = [u for u in members if hub.user(u) is not None]
    say(f"disabling {len(present)} participant account(s): login, tokens, servers, jobs")
    for user in present:
        try:
            list(disable_account(hub, user, ctx.db_url))  # each step, in order
        except AccountError as error:
            raise WorkshopError(f"{user}: {error}", "see the hub log, then run `end` again") from None

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    archive = Path(archive_to) if archive_to else ctx.registry.folder(workshop.name) / f"{workshop.name}-{stamp}.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    say(f"archiving {len(members)} home(s) to {archive}")
    counts = homes.archive(ctx.docker, ctx.user_image, members, archive, group=workshop.group)
    say(f"archived {sum(counts.values())} file(s) ({archive.stat().st_size / 2**20:.1f} MiB, mode 0600)")

    workshop.ended = workshop.ended or datetime.now(timezone.utc).isoformat()
    if remove or workshop.expired():
        say(f"removing {len(members)} participant account(s), group {workshop.group}, homes and group volume")
        for user in members:
            hub.delete_user(user)  # the password account goes with it
            homes.remove_volume(ctx.docker, user)
        hub.delete_group(workshop.group)
        homes.remove_named_volume(ctx.docker, work_volume_name(workshop.group))  # archived above
        if workshop.teacher_created:
            say(f"teacher {workshop.teacher} keeps the account and home (collected notebooks); remove it by hand")
        ctx.registry.forget(workshop.name)
        say(f"workshop {workshop.name} removed; the archive and roster stay in {ctx.registry.folder(workshop.name)}")
    else:
        ctx.registry.save(workshop)  # ended: no teacher role or class timeout from the next hub start
        until = f"on or after {workshop.expires}" if workshop.expires else "with --remove"
        say(f"participants' logins disabled, homes kept; run `vre workshop end {workshop.name}` {until} to remove them")
    return archive
