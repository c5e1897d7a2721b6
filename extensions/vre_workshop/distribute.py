"""Put the workshop notebooks into every participant's home, never over their edits.

Files land in ``~/workshops/<name>/``; a file already there (the participant's copy,
edited or not) is left as it is, so distributing again only adds what is new.
"""

from concurrent.futures import ThreadPoolExecutor

from . import homes
from .context import Context
from .registry import Workshop


def folder(workshop: Workshop) -> str:
    """The participant's folder for this workshop, relative to the home."""
    return f"workshops/{workshop.name}"


def distribute(ctx: Context, workshop: Workshop, packed: bytes, users: list[str] | None = None) -> None:
    users = users or workshop.participants
    client, image = ctx.docker, ctx.user_image
    # A few at a time: each is a short container start, mostly waiting on dockerd.
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda user: homes.distribute(client, image, user, packed, folder(workshop)), users))
    ctx.say(f"notebooks copied into ~/{folder(workshop)}/ of {len(users)} home(s), existing files kept")
