"""How full the disks the VRE writes to are: the state folder's (hub and jobs databases)
and the one holding Docker's volumes (every user's home). ``vre status`` warns above
:data:`WARN_PERCENT`: when the volumes' disk fills, users can no longer save notebooks
(JupyterLab says so and keeps the previous version), and a full state disk stops the hub.
"""

import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

#: Used share of a disk (as ``df`` counts it) above which ``vre status`` warns.
WARN_PERCENT = 90


@dataclass
class DiskUse:
    what: str
    path: str
    used_percent: float
    free_bytes: int
    warning: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def usage(what: str, path: Path, fix: str, warn_percent: float = WARN_PERCENT) -> DiskUse:
    """Use of the filesystem holding ``path``; with a one-line warning (``fix`` says what to
    do) above ``warn_percent``."""
    st = os.statvfs(path)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    free = st.f_bavail * st.f_frsize  # what a non-root user can still write
    percent = round(100 * used / (used + free), 1) if used + free else 100.0
    disk = DiskUse(what, str(path), percent, free)
    if percent > warn_percent:
        disk.warning = f"the {what}'s disk ({path}) is {percent:.0f}% full ({free / 2**20:.0f} MiB free); {fix}"
    return disk


def docker_volumes_dir() -> Path | None:
    """Where Docker keeps local volumes on this host (None if the engine does not say)."""
    result = subprocess.run(["docker", "info", "--format", "{{.DockerRootDir}}"], capture_output=True, text=True, timeout=30)
    root = result.stdout.strip()
    return Path(root) / "volumes" if result.returncode == 0 and root else None


def check(state_dir: Path, warn_percent: float = WARN_PERCENT) -> list[DiskUse]:
    """The state folder's disk and Docker's volumes' disk (if visible from here)."""
    disks = [
        usage("state folder", state_dir, "free space there or move the state folder ($VRE_STATE_DIR) to a larger disk", warn_percent)
    ]
    volumes = docker_volumes_dir()
    if volumes is not None and volumes.exists():
        fix = "users cannot save when it is full: free space (`docker system df`) or move Docker's data-root to a larger disk"
        disks.append(usage("Docker volumes", volumes, fix, warn_percent))
    return disks
