"""Participants' home volumes (*Datahome*), reached with short-lived containers of the user image.

Reading and writing use Docker's archive API on a *created, never started* container that
mounts the volume, so nothing runs with the participant's files. Only distribution starts
a container (as jovyan, no network) so that GNU tar can skip files that already exist:
a participant's edits are never overwritten.
"""

import io
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import docker
import docker.errors

from ..naming import home_volume_name, work_volume_name
from .errors import WorkshopError

HOME = "/home/jovyan"
LABELS = {"org.dataterra.vre.component": "workshop"}


def docker_client():
    try:
        client = docker.from_env()
        client.ping()
        return client
    except docker.errors.DockerException as e:
        raise WorkshopError(f"Docker is not reachable ({e.__class__.__name__})", "start dockerd or set DOCKER_HOST") from None


def user_image() -> str:
    """The user image tag the spawner uses (the lead's ``vre_hub.images``), else $VRE_USER_IMAGE."""
    if os.environ.get("VRE_USER_IMAGE"):
        return os.environ["VRE_USER_IMAGE"]
    from ..images import user_image_tag

    return user_image_tag()


def check_image(client, image: str) -> None:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise WorkshopError(f"user image {image} is not built", "build it with `vre images build`") from None


def volume_exists(client, username: str) -> bool:
    try:
        client.volumes.get(home_volume_name(username))
        return True
    except docker.errors.NotFound:
        return False


def remove_volume(client, username: str) -> None:
    remove_named_volume(client, home_volume_name(username))


def remove_named_volume(client, volume: str) -> None:
    try:
        client.volumes.get(volume).remove()
    except docker.errors.NotFound:
        pass


@contextmanager
def mounted(client, image: str, username: str, *, read_only: bool, command=None, volume: str | None = None):
    """A container (created, not started) with ``username``'s home (or ``volume``) at /home/jovyan."""
    container = client.containers.create(
        image,
        entrypoint=["/bin/sh", "-c"],
        command=command or ["true"],
        user="1000:100",
        network_disabled=True,
        labels=LABELS,
        volumes={volume or home_volume_name(username): {"bind": HOME, "mode": "ro" if read_only else "rw"}},
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def _wrap(name: str, payload: bytes) -> bytes:
    """A tar holding one file ``name`` with ``payload`` (what put_archive unpacks)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid = len(payload), 0o644, 1000, 100
        tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def distribute(client, image: str, username: str, packed: bytes, folder: str) -> None:
    """Unpack ``packed`` into ~/``folder`` of ``username`` without replacing existing files."""
    target = str(PurePosixPath(HOME) / folder)
    script = 'mkdir -p "$0" && tar -xf /tmp/vre-workshop.tar --skip-old-files --no-same-owner -C "$0"'
    with mounted(client, image, username, read_only=False, command=[script, target]) as container:
        container.put_archive("/tmp", _wrap("vre-workshop.tar", packed))
        container.start()
        result = container.wait(timeout=120)
        if result.get("StatusCode") != 0:
            logs = container.logs().decode(errors="replace").strip().splitlines()[-1:]
            raise WorkshopError(
                f"copying notebooks into {username}'s home failed: {logs[0] if logs else result}",
                "check the home volume and the user image",
            )


def _tar_stream(chunks: Iterator[bytes]):
    """A file object over Docker's archive chunks, for tarfile's streaming mode."""

    class Stream(io.RawIOBase):
        def __init__(self):
            self.chunk = memoryview(b"")  # the rest of the current chunk (no copies)

        def readable(self):
            return True

        def readinto(self, b):
            while not self.chunk:
                try:
                    self.chunk = memoryview(next(chunks))
                except StopIteration:
                    return 0
            n = min(len(b), len(self.chunk))
            b[:n], self.chunk = self.chunk[:n], self.chunk[n:]
            return n

    return io.BufferedReader(Stream(), buffer_size=1 << 16)


def _add_parents(into: tarfile.TarFile, path: PurePosixPath, seen: set) -> None:
    """Directory entries (jovyan, 0755) for the parents of ``path`` not yet in the tar."""
    for parent in reversed(path.parents[:-1]):  # outermost first, without '.'
        if str(parent) not in seen:
            info = tarfile.TarInfo(str(parent))
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, 1000, 100
            info.uname, info.gname = "jovyan", "users"
            into.addfile(info)
            seen.add(str(parent))


def copy_home(client, image: str, username: str, into: tarfile.TarFile, prefix: str, keep=None, volume=None) -> int:
    """Add ``username``'s home (or ``volume``) to the open tar ``into`` under ``prefix``; returns files added.

    With ``keep(relative_path)`` only the selected files (and their folders) are copied;
    without, everything is: folders, links, owners and modes come back as they were.
    """
    added = 0
    seen: set[str] = set()
    if volume is not None:
        try:
            client.volumes.get(volume)
        except docker.errors.NotFound:
            return 0  # never created: nothing to copy (and do not create it)
    with mounted(client, image, username, read_only=True, volume=volume) as container:
        try:
            chunks, _ = container.get_archive(HOME)
        except docker.errors.NotFound:
            return 0
        with tarfile.open(fileobj=_tar_stream(chunks), mode="r|") as source:
            for member in source:
                relative = PurePosixPath(*PurePosixPath(member.name).parts[1:])  # drop "jovyan/"
                name = PurePosixPath(prefix) / relative
                if keep is not None:
                    if not (member.isfile() and keep(relative)):
                        continue
                    _add_parents(into, name, seen)
                member.name = str(name)
                if member.isfile():
                    into.addfile(member, source.extractfile(member))
                    added += 1
                else:
                    into.addfile(member)
                seen.add(str(name))
    return added


def is_notebook(relative: PurePosixPath) -> bool:
    """User notebooks: ``*.ipynb`` outside hidden folders (checkpoints, caches)."""
    return relative.suffix == ".ipynb" and not any(p.startswith(".") for p in relative.parts)


def archive(client, image: str, usernames: list[str], out: Path, group: str | None = None) -> dict[str, int]:
    """Write every home into one ``.tar.gz`` (``<user>/...``), plus the group's *Datawork*
    volume (``_work/<group>/...``) if it exists; returns files per entry."""
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    counts = {}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # homes may hold secrets
    with os.fdopen(fd, "wb") as f, tarfile.open(fileobj=f, mode="w:gz") as tar:
        for username in usernames:
            counts[username] = copy_home(client, image, username, tar, username)
        if group:
            work = work_volume_name(group)
            counts[f"_work/{group}"] = copy_home(client, image, "", tar, f"_work/{group}", volume=work)
    os.replace(tmp, out)
    return counts


def put_into_home(client, image: str, username: str, packed) -> None:
    """Unpack the tar ``packed`` (bytes, or a binary file streamed as it is read; paths
    relative to the home) into ``username``'s home."""
    with mounted(client, image, username, read_only=False) as container:
        if not container.put_archive(HOME, packed):
            raise WorkshopError(f"could not write into {username}'s home", "check the home volume")
