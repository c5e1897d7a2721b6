"""vre_core.homes.HomeVolume on a real Docker engine with the user image: the one way the
hub (Datawork owner), the jobs service (results) and the workshop tools (distribute, collect,
archive) reach a volume's files."""

import io
import secrets
import tarfile
from pathlib import PurePosixPath

import docker
import pytest
from vre_core.homes import HomeVolume
from vre_core.naming import HOME, USER_GID, USER_UID

pytestmark = pytest.mark.docker


@pytest.fixture
def volume(user_image):
    client = docker.from_env()
    name = f"vre-test-home-{secrets.token_hex(4)}"
    home = HomeVolume(client, user_image, name, labels={"org.dataterra.vre.test": "home-volume"})
    yield home
    home.remove()
    assert not client.containers.list(all=True, filters={"label": "org.dataterra.vre.test=home-volume"})


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_ensure_write_read_copy(volume):
    # Reading a home that was never made gives nothing and does not make it.
    assert volume.read(f"{HOME}/nothing.txt") is None
    assert not volume.exists()
    copied = io.BytesIO()
    with tarfile.open(fileobj=copied, mode="w") as tar:
        assert volume.copy_out(tar, "x") == 0
    assert not volume.exists()

    assert volume.ensure() is True and volume.ensure() is False
    volume.write("jobs/a1", {"status.json": b'{"state": "completed"}', "job.log": b"ok\n"})
    assert volume.read(f"{HOME}/jobs/a1/status.json") == b'{"state": "completed"}'
    assert volume.read(f"{HOME}/jobs/a1") is None  # a folder is not a file
    assert volume.read(f"{HOME}/jobs/a1/job.log", max_bytes=1) is None  # over the limit
    with pytest.raises(ValueError, match="outside"):
        volume.write("../etc", {"x": b""})

    # First copy in, then a second one that must not replace the edited file.
    volume.unpack_new(_tar({"a.ipynb": b"v1", "b.ipynb": b"v1"}), "work")
    volume.put(_tar({"work/a.ipynb": b"edited"}))
    volume.unpack_new(_tar({"a.ipynb": b"v2", "c.ipynb": b"v2"}), "work")
    assert volume.read(f"{HOME}/work/a.ipynb") == b"edited"
    assert volume.read(f"{HOME}/work/c.ipynb") == b"v2"

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        n = volume.copy_out(tar, "copy", keep=lambda p: p.suffix == ".ipynb")
    assert n == 3
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert {"copy/work/a.ipynb", "copy/work/b.ipynb", "copy/work/c.ipynb", "copy/work"} <= set(members)
    assert not any(PurePosixPath(n).name == "status.json" for n in members)
    assert (members["copy/work/b.ipynb"].uid, members["copy/work/b.ipynb"].gid) == (USER_UID, USER_GID)  # unpacked as jovyan

    # Without a filter everything comes, the volume's top folder owned by the image's user (ensure).
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        n = volume.copy_out(tar, "all")
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        members = {m.name: m for m in tar.getmembers()}
    files = {name for name, m in members.items() if m.isfile()}
    assert n == len(files)  # with the image's dotfiles, which Docker copies into a new home
    assert {f"all/{f}" for f in ("jobs/a1/status.json", "jobs/a1/job.log", "work/a.ipynb", "work/b.ipynb", "work/c.ipynb")} <= files
    assert members["all"].isdir() and members["all"].uid == USER_UID
    assert members["all/jobs/a1/status.json"].isfile()


def test_box_recreated_after_removal(volume):
    """A kept file-access container removed behind its back (e.g. by a clean-up) is made again."""
    volume.ensure()
    volume.write("", {"f.txt": b"1"})
    volume.api.remove_container(volume._box, force=True)
    assert volume.read(f"{HOME}/f.txt") == b"1"
