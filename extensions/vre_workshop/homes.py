"""Participants' home volumes (*Datahome*) for the workshop commands, through
:class:`vre_core.homes.HomeVolume` (created, never started containers of the user image;
distribution starts one, as jovyan without network, so that a participant's edits are never
overwritten). Each operation makes its own container and removes it when done.
"""

import os
import tarfile
from pathlib import Path, PurePosixPath

import docker
import docker.errors
from vre_core.homes import HomeVolume, HomeVolumeError
from vre_core.naming import HOME, home_volume_name, user_image_tag, work_volume_name

from .errors import WorkshopError

LABELS = {"org.dataterra.vre.component": "workshop"}


def docker_client(connections: int = 10):
    """The Docker engine's client, keeping up to ``connections`` open (docker-py's default 10)."""
    try:
        client = docker.from_env(max_pool_size=connections)
        client.ping()
        return client
    except docker.errors.DockerException as e:
        raise WorkshopError(f"Docker is not reachable ({e.__class__.__name__})", "start dockerd or set DOCKER_HOST") from None


def user_image() -> str:
    """The user image tag the spawner uses, else $VRE_USER_IMAGE."""
    return os.environ.get("VRE_USER_IMAGE") or user_image_tag()


def check_image(client, image: str) -> None:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise WorkshopError(f"user image {image} is not built", "build it with `vre images build`") from None


def home(client, image: str, username: str, volume: str | None = None, read_only: bool = False) -> HomeVolume:
    """``username``'s home (or ``volume``), its containers labelled as the workshop's."""
    name = volume or home_volume_name(username)
    return HomeVolume(client, image, name, labels=LABELS, read_only=read_only)


def volume_exists(client, username: str) -> bool:
    return home(client, "", username).exists()


def remove_volume(client, username: str) -> None:
    home(client, "", username).remove()


def remove_named_volume(client, volume: str) -> None:
    home(client, "", "", volume=volume).remove()


def distribute(client, image: str, username: str, packed: bytes, folder: str) -> None:
    """Unpack ``packed`` into ~/``folder`` of ``username`` without replacing existing files."""
    try:
        home(client, image, username).unpack_new(packed, folder)
    except HomeVolumeError as error:
        raise WorkshopError(f"copying notebooks into {username}'s home failed ({error.what})", error.fix) from None


def copy_home(client, image: str, username: str, into: tarfile.TarFile, prefix: str, keep=None, volume=None) -> int:
    """Add ``username``'s home (or ``volume``) to the open tar ``into`` under ``prefix``; returns
    files added (:meth:`vre_core.homes.HomeVolume.copy_out`)."""
    with home(client, image, username, volume, read_only=True) as source:
        return source.copy_out(into, prefix, keep)


def is_notebook(relative: PurePosixPath) -> bool:
    """User notebooks: ``*.ipynb`` outside hidden folders (checkpoints, caches)."""
    return relative.suffix == ".ipynb" and not any(p.startswith(".") for p in relative.parts)


def home_notebook(path) -> str:
    """``path`` as a notebook inside a home (relative, no ``..``, not hidden, ``.ipynb``), or
    WorkshopError: what a browser sends is checked before any volume is looked at."""
    relative = PurePosixPath(path) if isinstance(path, str) and path and "\0" not in path else None
    if relative is None or relative.is_absolute() or ".." in relative.parts or not is_notebook(relative):
        raise WorkshopError(
            f"bad notebook path {path!r}",
            "give a .ipynb path relative to your home, e.g. work/lesson.ipynb (no '..', no leading '/', no hidden folder)",
        )
    return str(relative)


def notebooks_in(client, image: str, username: str) -> list[str]:
    """The notebooks in ``username``'s home (relative paths; hidden folders left out)."""
    with home(client, image, username, read_only=True) as volume:
        return volume.files("*.ipynb")


def read_notebooks(client, image: str, username: str, paths: list[str]) -> dict[str, bytes]:
    """path -> content of each of ``paths`` (checked by :func:`home_notebook`) in ``username``'s home."""
    paths = [home_notebook(path) for path in paths]
    found = {}
    with home(client, image, username, read_only=True) as volume:
        for path in paths:
            content = volume.read(f"{HOME}/{path}")
            if content is None:
                raise WorkshopError(f"no notebook {path} in {username}'s home", "choose one the form lists (reload the page)")
            found[path] = content
    return found


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
    try:
        with home(client, image, username) as target:
            target.put(packed)
    except HomeVolumeError:
        raise WorkshopError(f"could not write into {username}'s home", "check the home volume") from None
