"""A user's home volume (*Datahome*), or any volume mounted like one (a group's *Datawork*),
read and written from the host without running anything with the user's files.

Files go in and out with Docker's archive API (``docker cp``) on a *created, never started*
container of the user image that mounts the volume at :data:`~vre_core.naming.HOME`, so
paths and symlinks resolve inside the container, never on the host. That container is made
at first use and kept until :meth:`HomeVolume.close` (creating one costs more than a copy).
Only :meth:`HomeVolume.unpack_new` (GNU tar skipping files that exist, so nobody's edits are
replaced) and :meth:`HomeVolume.ensure` (the first owner of a new volume) start one.

Works on the low-level ``docker.APIClient`` (DockerSpawner's) or a ``docker.DockerClient``.
Every call blocks; async code runs them in a thread.
"""

import io
import posixpath
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath

import docker.errors

from .errors import VREError
from .naming import HOME, RUN_AS, USER_GID, USER_UID, home_volume_name


class HomeVolumeError(VREError):
    """A copy into or out of a volume failed; the message says which and how to look."""


def _owner(run_as: str) -> tuple[int, int]:
    uid, _, gid = run_as.partition(":")
    return int(uid), int(gid or USER_GID)


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


def _directory(name: str, uid: int, gid: int, mtime: float = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.mtime = tarfile.DIRTYPE, 0o755, uid, gid, mtime
    if (uid, gid) == (USER_UID, USER_GID):
        info.uname, info.gname = "jovyan", "users"
    return info


def _file(name: str, payload: bytes, uid: int, gid: int, mtime: float = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.uid, info.gid, info.mtime = len(payload), 0o644, uid, gid, mtime
    return info


class HomeVolume:
    """The volume ``volume`` as containers of ``image`` see it at :data:`HOME` (``volume=None``:
    the image alone, e.g. to read the notebooks shipped in it).

    ``labels`` mark the containers it makes (so their owner can find leftovers);
    ``read_only`` mounts the volume read-only for reading and copying out.
    """

    def __init__(self, client, image: str, volume: str | None, *, labels: dict | None = None, read_only: bool = False):
        self.api = getattr(client, "api", client)  # DockerClient or APIClient
        self.image = image
        self.volume = volume
        self.labels = dict(labels or {})
        self.read_only = read_only
        self.used = time.monotonic()  # last use, for callers keeping several
        self._box: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, client, image: str, username: str, **kwargs) -> "HomeVolume":
        """The home of ``username`` (``vre_core.naming.home_volume_name``)."""
        return cls(client, image, home_volume_name(username), **kwargs)

    # -- the volume itself ------------------------------------------------------

    def exists(self) -> bool:
        if self.volume is None:
            return False
        try:
            self.api.inspect_volume(self.volume)
            return True
        except docker.errors.NotFound:
            return False

    def ensure(self, owner: str = RUN_AS, labels: dict | None = None) -> bool:
        """Create the volume if absent, its top folder owned by ``owner`` (Docker makes new
        volumes root-owned, which the image's user cannot write); True if it was created."""
        if self.exists():
            return False
        self.api.create_volume(name=self.volume, labels=labels or {})
        # nocopy: the image's own files at HOME stay out of the new volume.
        self._run(["chown", owner, HOME], user="0", what=f"giving {self.volume} to {owner}", nocopy=True)
        return True

    def remove(self) -> None:
        """Remove the volume (and this object's container); nothing if it does not exist."""
        self.close()
        if self.volume is None:
            return
        try:
            self.api.remove_volume(self.volume)
        except docker.errors.NotFound:
            pass

    # -- the file-access container ---------------------------------------------

    def _create(self, *, entrypoint, command=(), user: str = RUN_AS, read_only: bool | None = None, nocopy=False) -> str:
        mode = "ro" if (self.read_only if read_only is None else read_only) else "rw"
        mode += ",nocopy" if nocopy else ""
        binds = {self.volume: {"bind": HOME, "mode": mode}} if self.volume else {}
        container = self.api.create_container(
            self.image,
            entrypoint=list(entrypoint),
            command=list(command),
            user=user,
            labels=self.labels,
            network_disabled=True,
            host_config=self.api.create_host_config(binds=binds, network_mode="none"),
        )
        return container["Id"]

    def _remove(self, container: str) -> None:
        try:
            self.api.remove_container(container, force=True)
        except docker.errors.NotFound:
            pass

    def _on_box(self, action: Callable[[str], object]):
        """``action(box)``; once more with a new box if the kept one was removed meanwhile."""
        self.used = time.monotonic()
        for attempt in (1, 2):
            with self._lock:
                if self._box is None:
                    self._box = self._create(entrypoint=["true"])
                box = self._box
            try:
                return action(box)
            except docker.errors.NotFound as error:
                if "No such container" not in str(error) or attempt == 2:
                    raise
                with self._lock:
                    self._box = None

    def _run(self, command: list[str], user: str = RUN_AS, what: str = "", before=None, nocopy=False,
             read_only: bool = False) -> bytes:
        """Start a one-off container running ``command``; ``before(container)`` prepares it.
        Returns what the command wrote to its standard output."""
        container = self._create(entrypoint=command[:1], command=command[1:], user=user, read_only=read_only, nocopy=nocopy)
        try:
            if before:
                before(container)
            self.api.start(container)
            result = self.api.wait(container, timeout=120)
            if result.get("StatusCode") != 0:
                logs = self.api.logs(container).decode(errors="replace").strip().splitlines()[-1:]
                raise HomeVolumeError(f"{what} failed: {logs[0] if logs else result}", "check the volume and the user image")
            return self.api.logs(container, stdout=True, stderr=False)
        finally:
            self._remove(container)

    def close(self) -> None:
        """Remove the file-access container (the volume stays)."""
        with self._lock:
            box, self._box = self._box, None
        if box:
            self._remove(box)

    def __enter__(self) -> "HomeVolume":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------

    def read(self, path: str, max_bytes: int = 50_000_000) -> bytes | None:
        """Content of the file ``path`` as the user's containers see it; None if it is not a
        file, larger than ``max_bytes``, or in a home that was never made (never made here)."""
        if self.volume and path.startswith(HOME + "/") and not self.exists():
            return None

        def fetch(box):
            try:
                stream, stat = self.api.get_archive(box, path)
            except docker.errors.NotFound as error:
                if "No such container" in str(error):
                    raise
                return None  # no such file
            if stat.get("size", 0) > max_bytes:
                return None
            return b"".join(stream)

        data = self._on_box(fetch)
        if data is None:
            return None
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                return None
            return tar.extractfile(member).read()

    def files(self, pattern: str = "*.ipynb", max_depth: int = 4) -> list[str]:
        """Paths, relative to the home, of the files named like ``pattern`` (a ``find -name``
        pattern) at most ``max_depth`` folders deep, hidden folders left out; sorted. Lists
        only (``find`` as the image's user, read-only, no network): nothing is copied out.
        A volume that was never made holds nothing (and is not made)."""
        if self.volume is not None and not self.exists():
            return []
        out = self._run(
            ["find", HOME, "-mindepth", "1", "-maxdepth", str(max_depth), "-name", ".*", "-prune",
             "-o", "-type", "f", "-name", pattern, "-print0"],
            what=f"listing {self.volume}", read_only=True,
        )
        return sorted(posixpath.relpath(path, HOME) for path in out.decode(errors="replace").split("\0") if path)

    def copy_out(self, into: tarfile.TarFile, prefix: str, keep: Callable[[PurePosixPath], bool] | None = None) -> int:
        """Stream the whole home into the open tar ``into`` under ``prefix``; files added.

        With ``keep(relative_path)`` only the selected files (and their folders) are copied;
        without, everything is: folders, links, owners and modes come back as they were.
        A volume that was never made holds nothing (and is not made).
        """
        if self.volume is not None and not self.exists():
            return 0

        def copy(box) -> int:
            try:
                chunks, _ = self.api.get_archive(box, HOME)
            except docker.errors.NotFound as error:
                if "No such container" in str(error):
                    raise
                return 0
            added, seen = 0, set()
            with tarfile.open(fileobj=_tar_stream(iter(chunks)), mode="r|") as source:
                for member in source:
                    relative = PurePosixPath(*PurePosixPath(member.name).parts[1:])  # drop "jovyan/"
                    name = PurePosixPath(prefix) / relative
                    if keep is not None:
                        if not (member.isfile() and keep(relative)):
                            continue
                        for parent in reversed(name.parents[:-1]):  # outermost first, without '.'
                            if str(parent) not in seen:
                                into.addfile(_directory(str(parent), USER_UID, USER_GID))
                                seen.add(str(parent))
                    member.name = str(name)
                    if member.isfile():
                        into.addfile(member, source.extractfile(member))
                        added += 1
                    else:
                        into.addfile(member)
                    seen.add(str(name))
            return added

        return self._on_box(copy)

    # -- writing ----------------------------------------------------------------

    def put(self, packed, at: str = HOME) -> None:
        """Unpack the tar ``packed`` (bytes, or a binary file streamed as it is read; paths
        relative to ``at``) into the volume; existing files are replaced."""
        if not self._on_box(lambda box: self.api.put_archive(box, at, packed)):
            raise HomeVolumeError(f"could not write into {self.volume}", "check the volume")

    def write(self, folder: str, files: dict[str, bytes], owner: str = RUN_AS) -> None:
        """Put ``files`` (name -> content) into ``folder`` below the home (made, with its
        parents, owned by ``owner``)."""
        uid, gid = _owner(owner)
        rel = posixpath.relpath(posixpath.join(HOME, folder), HOME)
        if rel.startswith(".."):
            raise ValueError(f"{folder} is outside {HOME}")
        buffer = io.BytesIO()
        now = time.time()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            parts = [] if rel == "." else rel.split("/")
            for i in range(len(parts)):
                tar.addfile(_directory("/".join(parts[: i + 1]), uid, gid, now))
            for name, content in files.items():
                tar.addfile(_file(posixpath.normpath(posixpath.join(rel, name)), content, uid, gid, now), io.BytesIO(content))
        self.put(buffer.getvalue())

    def unpack_new(self, packed: bytes, folder: str) -> None:
        """Unpack the tar ``packed`` into ``folder`` below the home, as the image's user and
        without replacing files that exist: nobody's edits are overwritten."""
        target = str(PurePosixPath(HOME) / folder)
        script = 'mkdir -p "$0" && tar -xf /tmp/vre-unpack.tar --skip-old-files --no-same-owner -C "$0"'
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.addfile(_file("vre-unpack.tar", packed, USER_UID, USER_GID), io.BytesIO(packed))
        self._run(
            ["/bin/sh", "-c", script, target],
            what=f"copying files into {self.volume}",
            before=lambda container: self.api.put_archive(container, "/tmp", buffer.getvalue()),
        )
