"""The workshop material: a local folder (or notebook) or a git repository, packed as a tar.

The tar is what :mod:`.homes` unpacks into each participant's home; entries belong to
jovyan (uid 1000, gid 100) so participants can edit their copies.
"""

import io
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

from vre_core.naming import USER_GID, USER_UID

from .errors import WorkshopError

_GIT_URL = re.compile(r"^(https?|git|ssh|file)://|^[\w.-]+@[\w.-]+:|\.git/?$")



def is_git_url(spec: str) -> bool:
    return bool(_GIT_URL.search(spec)) and not Path(spec).exists()


def _clone(url: str, into: Path) -> Path:
    try:
        subprocess.run(
            ["git", "clone", "--quiet", "--depth", "1", url, str(into)],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},  # never wait for a password
        )
    except FileNotFoundError:
        raise WorkshopError("git is not installed", "install git or give a local notebooks folder") from None
    except subprocess.CalledProcessError as e:
        last = (e.stderr or "").strip().splitlines()[-1:] or ["failed"]
        raise WorkshopError(f"cannot clone {url}: {last[0]}", "check the URL or give a local folder") from None
    except subprocess.TimeoutExpired:
        raise WorkshopError(f"cloning {url} took over 5 minutes", "give a local folder instead") from None
    return into


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _pack(root: Path) -> bytes:
    """Tar the files under ``root`` (hidden ones left out), owned by jovyan."""
    buffer = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            relative = Path(path.name) if root.is_file() else path.relative_to(root)
            if _hidden(relative) or path.is_symlink():
                continue
            info = tar.gettarinfo(str(path), arcname=str(relative))
            info.uid, info.gid, info.uname, info.gname = USER_UID, USER_GID, "jovyan", "users"
            info.mode = 0o755 if info.isdir() else 0o644
            if info.isdir():
                tar.addfile(info)
            elif info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
                count += 1
    if not count:
        raise WorkshopError(f"no files to distribute in {root}", "put the workshop notebooks in that folder")
    return buffer.getvalue()


def load(spec: str) -> bytes:
    """Pack the notebooks named by ``spec`` (path or git URL); WorkshopError if unusable."""
    if is_git_url(spec):
        with tempfile.TemporaryDirectory(prefix="vre-workshop-") as tmp:
            return _pack(_clone(spec, Path(tmp) / "repo"))
    path = Path(spec).expanduser()
    if not path.exists():
        raise WorkshopError(
            f"notebooks path {spec} does not exist", "give an existing folder, a .ipynb file or a git URL"
        )
    return _pack(path.resolve())


def names(packed: bytes) -> list[str]:
    """The file names inside a packed tar (for messages and tests)."""
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        return [m.name for m in tar.getmembers() if m.isfile()]
