"""``vre workshop collect``: copy participants' notebooks into the teacher's home.

Each run lands in its own dated folder, ``~/collected/<workshop>/<UTC time>/<participant>/``,
so collecting again never replaces an earlier copy (or the teacher's annotations on it).
Participants' homes are only read.

The copy streams: each participant's home is read as a tar stream, its notebooks are
written to an anonymous temporary file (mode 0600, gone when closed), and that file is
streamed into the teacher's home. Memory stays bounded by the copy buffers, whatever the
size of the homes; the disk holds one copy of the notebooks while the command runs.
"""

import shutil
import tarfile
import tempfile
import zipfile
from datetime import datetime, timezone

from . import homes
from .context import Context
from .registry import Workshop


def _gather(ctx: Context, workshop: Workshop, spool, prefix: str) -> dict[str, int]:
    """Write the participants' notebooks as a tar stream to ``spool`` (``<prefix>/<user>/...``)."""
    client, image = ctx.docker, ctx.user_image
    with tarfile.open(fileobj=spool, mode="w|") as tar:
        return {
            user: homes.copy_home(client, image, user, tar, f"{prefix}/{user}", keep=homes.is_notebook)
            for user in workshop.participants
        }


def collect(ctx: Context, workshop: Workshop) -> tuple[str, dict[str, int]]:
    """Returns the folder (relative to the teacher's home) and notebooks per participant."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = f"collected/{workshop.name}/{stamp}"
    with tempfile.TemporaryFile(prefix="vre-collect-") as spool:
        counts = _gather(ctx, workshop, spool, target)
        spool.seek(0)
        homes.put_into_home(ctx.docker, ctx.user_image, workshop.teacher, spool)
    ctx.say(
        f"collected {sum(counts.values())} notebook(s) from {len(counts)} participant(s) "
        f"into {workshop.teacher}'s ~/{target}/"
    )
    return target, counts


def collect_zip(ctx: Context, workshop: Workshop, out) -> dict[str, int]:
    """Write the participants' notebooks as a zip (``<workshop>/<user>/...``) to the binary file
    ``out`` (the console's download), file by file through a temporary tar: memory stays bounded."""
    with tempfile.TemporaryFile(prefix="vre-collect-") as spool:
        counts = _gather(ctx, workshop, spool, workshop.name)
        spool.seek(0)
        with tarfile.open(fileobj=spool, mode="r|") as tar, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zipped:
            for member in tar:
                if member.isfile():
                    with tar.extractfile(member) as source, zipped.open(member.name, "w") as target:
                        shutil.copyfileobj(source, target, 1 << 20)
    return counts
