"""``vre workshop collect``: copy participants' notebooks into the teacher's home.

Each run lands in its own dated folder, ``~/collected/<workshop>/<UTC time>/<participant>/``,
so collecting again never replaces an earlier copy (or the teacher's annotations on it).
Participants' homes are only read.
"""

import io
import tarfile
from datetime import datetime, timezone

from . import homes
from .context import Context
from .registry import Workshop


def collect(ctx: Context, workshop: Workshop) -> tuple[str, dict[str, int]]:
    """Returns the folder (relative to the teacher's home) and notebooks per participant."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = f"collected/{workshop.name}/{stamp}"
    client, image = ctx.docker, ctx.user_image
    buffer = io.BytesIO()
    counts = {}
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for user in workshop.participants:
            counts[user] = homes.copy_home(client, image, user, tar, f"{target}/{user}", keep=homes.is_notebook)
    homes.put_into_home(client, image, workshop.teacher, buffer.getvalue())
    ctx.say(
        f"collected {sum(counts.values())} notebook(s) from {len(counts)} participant(s) "
        f"into {workshop.teacher}'s ~/{target}/"
    )
    return target, counts
