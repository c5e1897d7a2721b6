"""``vre workshop collect``: copy participants' notebooks into the teacher's home.

Each run lands in its own dated folder, ``~/collected/<workshop>/<UTC time>/<participant>/``,
so collecting again never replaces an earlier copy (or the teacher's annotations on it).
Participants' homes are only read.

The copy streams: each participant's home is read as a tar stream, its notebooks are
written to an anonymous temporary file (mode 0600, gone when closed), and that file is
streamed into the teacher's home. Memory stays bounded by the copy buffers, whatever the
size of the homes; the disk holds one copy of the notebooks while the command runs.
"""

import tarfile
import tempfile
from datetime import datetime, timezone

from . import homes
from .context import Context
from .registry import Workshop


def collect(ctx: Context, workshop: Workshop) -> tuple[str, dict[str, int]]:
    """Returns the folder (relative to the teacher's home) and notebooks per participant."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = f"collected/{workshop.name}/{stamp}"
    client, image = ctx.docker, ctx.user_image
    counts = {}
    with tempfile.TemporaryFile(prefix="vre-collect-") as spool:
        with tarfile.open(fileobj=spool, mode="w|") as tar:
            for user in workshop.participants:
                counts[user] = homes.copy_home(client, image, user, tar, f"{target}/{user}", keep=homes.is_notebook)
        spool.seek(0)
        homes.put_into_home(client, image, workshop.teacher, spool)
    ctx.say(
        f"collected {sum(counts.values())} notebook(s) from {len(counts)} participant(s) "
        f"into {workshop.teacher}'s ~/{target}/"
    )
    return target, counts
