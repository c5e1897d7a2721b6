"""``vre workshop end``: stop the servers, archive the homes, then disable or remove accounts.

Nothing is deleted before the archive is complete on disk. Before the workshop's expiry
date the accounts are only disabled (login refused, tokens revoked, homes kept) so that
participants can be given more time; from the expiry date on (or with ``--remove``) the
accounts, group and home volumes are removed. Running ``end`` again is safe.
"""

from datetime import datetime, timezone
from pathlib import Path

from .. import accounts
from ..naming import work_volume_name
from ..client import HubAPIError
from . import homes
from .context import Context
from .errors import WorkshopError
from .registry import Workshop


def end(ctx: Context, workshop: Workshop, archive_to: Path | None = None, remove: bool = False) -> Path:
    hub, say = ctx.hub, ctx.say
    members = list(workshop.participants)

    running = [u for u in members if hub.server(u) is not None]
    if running:
        say(f"stopping {len(running)} server(s)")
    for user in running:
        try:
            hub.stop_server(user, wait=120)
        except HubAPIError as error:
            say(f"  {user}: {error}")
    still = [u for u in running if hub.server(u) is not None]
    if still:
        raise WorkshopError(f"servers of {', '.join(still)} did not stop", "see the hub log, then run `end` again")

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
        for user in members:
            accounts.set_authorized(user, False, ctx.db_url)
            hub.revoke_tokens(user)
        ctx.registry.save(workshop)  # ended: no teacher role or class timeout from the next hub start
        until = f"on or after {workshop.expires}" if workshop.expires else "with --remove"
        say(f"participants' logins disabled, homes kept; run `vre workshop end {workshop.name}` {until} to remove them")
    return archive
