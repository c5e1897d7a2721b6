"""``vre backup [DEST]`` and ``vre restore SRC``: a consistent copy of a hub and its users'
data, and putting it back without losing anything that is there.

A backup is one folder::

    manifest.json          what is in it: each file's size and SHA-256 (written last)
    state/<name>.sqlite    each SQLite database of the state folder (the hub's, the jobs
                           service's...), copied with SQLite's backup API: consistent while
                           the hub and the jobs service write to it
    state.tar              the rest of the state folder: secrets (mode 0600 kept),
                           jupyterhub_config.d/, the services' settings; not logs nor pid files
    volumes/<volume>.tar   each user's home (*Datahome*, with the job results in ~/jobs/) and
                           each group's *Datawork*, as the user image sees them
                           (vre_core.homes.HomeVolume: owners, modes and links kept)

It is written as ``DEST.partial`` and renamed to ``DEST`` once complete, so a folder without
``.partial`` and with a manifest is a whole backup. A home is copied while its server may
run: a file saved during the copy may be in either version (stop servers for a frozen copy).

Restore checks the whole backup (every file's size and checksum, each database's
integrity) before it changes anything: a damaged or partial backup is refused in one line
and nothing is restored. The hub must be stopped. Files of the state folder that the backup
replaces are moved to ``<state>/replaced-<time>/``, never deleted; a volume that exists is
kept as it is (remove it first to restore it), so a restore never loses data.
"""

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import docker
import docker.errors

from vre_core.errors import VREError
from vre_core.homes import HomeVolume
from vre_core.naming import BadName, check_name, escape_name, home_volume_name, user_image_tag, work_volume_name
from vre_core.state import StateDir

from . import __version__

FORMAT = 1
MANIFEST = "manifest.json"
STATE_TAR = "state.tar"
LABELS = {"org.dataterra.vre.component": "backup"}
#: Not worth keeping: logs, and what a running hub writes about itself.
SKIPPED = {"logs", "jupyterhub.pid", "proxy.pid", "hub_url"}
SQLITE_HEADER = b"SQLite format 3\x00"
SIDECARS = ("-wal", "-shm", "-journal")


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _is_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_HEADER
    except OSError:
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _docker(image: str):
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        raise VREError(f"Docker is not reachable ({error.__class__.__name__})", "start dockerd or set DOCKER_HOST") from None
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise VREError(f"the user image {image} is missing (homes are read through it)", "build it with `vre images build`") from None
    return client


def _image() -> str:
    return os.environ.get("VRE_USER_IMAGE") or user_image_tag()


def _volumes(hub_db: Path, home_volume: str | None, log) -> list[str]:
    """Home volumes of the hub's users and Datawork volumes of its groups (names as the spawner
    gives them: ``home_volume`` is its ``volumes`` template, e.g. ``vre-home-{username}``)."""
    with sqlite3.connect(hub_db) as db:
        users = [row[0] for row in db.execute("SELECT name FROM users ORDER BY name")]
        groups = [row[0] for row in db.execute("SELECT name FROM groups ORDER BY name")]
    home = home_volume_name
    if home_volume:  # DockerSpawner fills {username} with the escaped name
        home = lambda name: home_volume.format(username=escape_name(check_name(name)))  # noqa: E731
    volumes = []
    for names, derive, what in ((users, home, "account"), (groups, work_volume_name, "group")):
        for name in names:
            try:
                volumes.append(derive(name))
            except BadName:
                log(f"skipping {what} {name!r}: its name breaks the user-name rule (move it first, see hub/README.md)")
    return volumes


# -- backup -----------------------------------------------------------------------------


def backup(
    state: StateDir,
    dest: Path | None = None,
    log: Callable[[str], None] = print,
    home_volume: str | None = None,
    extra_volumes: tuple[str, ...] = (),
) -> dict:
    """Write a backup of ``state`` and its users' volumes to ``dest``; returns its summary.

    ``home_volume``: the spawner's home volume template if not vre_core.naming's (Ansible
    names them ``<prefix>home-{username}``); ``extra_volumes``: more volumes to copy (*Dataref*)."""
    if not state.db_file.is_file():
        raise VREError(f"no hub database at {state.db_file}", "give the hub's state folder with --state-dir")
    dest = Path(dest or f"vre-backup-{_stamp()}").resolve()
    if dest.exists():
        raise VREError(f"{dest} exists", "give a new folder for the backup")
    if dest.is_relative_to(state.path):
        raise VREError(f"{dest} is inside the state folder {state.path}", "write the backup elsewhere (another disk)")
    image = _image()
    client = _docker(image)
    work = dest.with_name(dest.name + ".partial")
    if work.exists():  # an interrupted run of this command
        shutil.rmtree(work)
    (work / "state").mkdir(parents=True, mode=0o700)
    os.chmod(work, 0o700)  # secrets and homes are inside

    databases = []
    for path in sorted(state.path.iterdir()):
        if path.is_file() and _is_sqlite(path):
            log(f"copying the database {path.name} (SQLite backup API)")
            source, target = sqlite3.connect(path), sqlite3.connect(work / "state" / path.name)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal
            finally:
                source.close()
                target.close()
            databases.append(path.name)

    def keep(info: tarfile.TarInfo):
        top = PurePosixPath(info.name).parts[:1]  # "./admin_token" -> ("admin_token",)
        if top and (top[0] in SKIPPED or top[0] in databases or top[0].endswith(SIDECARS) or top[0].startswith("replaced-")):
            return None
        return info

    log(f"archiving the state folder (secrets, settings) from {state.path}")
    with tarfile.open(work / STATE_TAR, "w") as tar:
        tar.add(state.path, arcname=".", filter=keep)

    (work / "volumes").mkdir(mode=0o700)
    volumes = {}
    for volume in _volumes(work / "state" / state.db_file.name, home_volume, log) + list(extra_volumes):
        with HomeVolume(client, image, volume, labels=LABELS, read_only=True) as home:
            if not home.exists():
                log(f"no volume {volume} (never started): nothing to copy")
                continue
            with tarfile.open(work / "volumes" / f"{volume}.tar", "w") as tar:
                files = home.copy_out(tar, "")
        volumes[volume] = files
        log(f"copied {volume} ({files} files)")

    files = {}
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        files[str(path.relative_to(work))] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    manifest = {
        "format": FORMAT,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "vre_version": __version__,
        "state_dir": str(state.path),
        "databases": databases,
        "volumes": volumes,
        "files": files,
    }
    with open(work / MANIFEST, "w") as f:
        json.dump(manifest, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    work.rename(dest)
    size = sum(entry["size"] for entry in files.values())
    log(f"backup complete: {dest} ({len(files)} files, {size / 1e6:.1f} MB)")
    return {"backup": str(dest), "databases": databases, "volumes": volumes, "bytes": size}


# -- restore ----------------------------------------------------------------------------


def check(src: Path) -> dict:
    """The manifest of the backup at ``src`` after checking every file it lists; VREError if
    anything is missing, damaged or not a backup of this format."""
    src = Path(src)
    fix = "restore from another backup"
    if not src.is_dir():
        raise VREError(f"{src} is not a folder", "give the folder `vre backup` wrote")
    if src.name.endswith(".partial"):
        raise VREError(f"{src} is a partial backup (its `vre backup` did not finish)", fix)
    try:
        manifest = json.loads((src / MANIFEST).read_text())
        files, volumes, databases = manifest["files"], manifest["volumes"], manifest["databases"]
    except FileNotFoundError:
        raise VREError(f"{src} has no {MANIFEST}: not a complete backup", fix) from None
    except (ValueError, KeyError, TypeError) as error:
        raise VREError(f"{src / MANIFEST} is unreadable ({error.__class__.__name__}: {error})", fix) from None
    if manifest.get("format") != FORMAT:
        raise VREError(f"{src} has backup format {manifest.get('format')!r}, this vre reads {FORMAT}", "use the vre version that wrote it")
    needed = [f"state/{name}" for name in databases] + [STATE_TAR] + [f"volumes/{v}.tar" for v in volumes]
    for name in needed + sorted(set(files) - set(needed)):
        path = src / name
        if name not in files or not path.is_file():
            raise VREError(f"backup {src} is incomplete: {name} is missing", fix)
        if path.stat().st_size != files[name]["size"] or _sha256(path) != files[name]["sha256"]:
            raise VREError(f"backup {src} is damaged: {name} does not match its checksum in {MANIFEST}", fix)
    for name in databases:
        with sqlite3.connect(f"file:{src / 'state' / name}?mode=ro", uri=True) as db:
            if db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise VREError(f"backup {src} is damaged: the database {name} fails SQLite's integrity check", fix)
    return manifest


def restore(state: StateDir, src: Path, log: Callable[[str], None] = print) -> dict:
    """Put the backup at ``src`` back into ``state`` and Docker volumes; returns a summary."""
    from .launcher import HubProcess

    src = Path(src).resolve()
    manifest = check(src)  # before anything changes
    pid = HubProcess(state).pid()
    if pid:
        raise VREError(f"the hub of {state.path} is running (pid {pid})", "stop it with `vre down` first")
    image = _image()
    client = _docker(image)
    log(f"backup {src} is whole ({len(manifest['files'])} files checked)")

    state.ensure()
    aside = state.path / f"replaced-{_stamp()}"

    def move_aside(path: Path) -> None:
        if path.exists() or path.is_symlink():
            target = aside / path.relative_to(state.path)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(aside, 0o700)
            path.rename(target)

    for name in manifest["databases"]:
        for path in [state.path / name] + [state.path / (name + s) for s in SIDECARS]:
            move_aside(path)  # an old -wal beside the restored database would be replayed into it
        partial = state.path / f".{name}.restoring"
        shutil.copyfile(src / "state" / name, partial)
        os.chmod(partial, 0o600)
        partial.rename(state.path / name)
        log(f"restored the database {name}")
    with tarfile.open(src / STATE_TAR) as tar:
        members = [m for m in tar.getmembers() if m.name != "."]
        for member in members:
            target = state.path / member.name
            if member.isfile() and target.is_file() and target.read_bytes() == tar.extractfile(member).read():
                continue  # the same file (a secret that did not change): nothing to keep aside
            if not member.isdir() or (target.exists() and not target.is_dir()):
                move_aside(target)
        tar.extractall(state.path, members=_state_members(members))  # modes (0600 secrets) kept
    log(f"restored the state folder's files ({len(members)} entries)")
    if aside.exists():
        log(f"what the restore replaced is in {aside}")

    restored, kept = [], []
    for volume in manifest["volumes"]:
        with HomeVolume(client, image, volume, labels=LABELS) as home:
            if home.exists():
                kept.append(volume)
                log(f"kept {volume} as it is (it exists); to restore it: `docker volume rm {volume}` and run again")
                continue
            home.ensure()
            with open(src / "volumes" / f"{volume}.tar", "rb") as packed:
                home.put(packed)
        restored.append(volume)
        log(f"restored {volume}")
    log("restore complete; start the hub with `vre up`")
    return {
        "backup": str(src),
        "databases": manifest["databases"],
        "restored_volumes": restored,
        "kept_volumes": kept,
        "replaced": str(aside) if aside.exists() else None,
    }


def _state_members(members: list[tarfile.TarInfo]) -> list[tarfile.TarInfo]:
    """The state archive's members, refused unless plain files and folders inside the state folder.

    Python's own check (``filter="data"``) exists only from 3.11.4; Debian bookworm's python3,
    which the hub image runs, is 3.11.2, so the same rule is applied here for every version.
    """
    for member in members:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise VREError(f"the backup's {STATE_TAR} holds {member.name!r}, which is not a plain file inside the state folder",
                           "restore from another backup; this one was not written by `vre backup`")
    return members
