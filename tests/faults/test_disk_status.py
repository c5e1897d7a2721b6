"""`vre status` warns, in one line saying what to do, when the state folder's disk is above 90%.

The state folder is a small tmpfs mounted by the test (needs root), filled to ~95%.
The Docker volumes' disk goes through the same check (vre_hub.disks.usage) on the engine's
data-root, which the test cannot fill: it only asserts that the line is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from vre_testing import need

pytestmark = pytest.mark.docker


@pytest.fixture
def small_disk(tmp_path):
    need(os.geteuid() == 0, "mounting a small tmpfs needs root")
    mount = tmp_path / "state"
    mount.mkdir(mode=0o700)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def status(state, *args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "vre_hub.cli", "--state-dir", str(state), "status", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_status_warns_when_the_state_disk_is_nearly_full(small_disk, docker_engine):
    quiet = status(small_disk)
    assert quiet.returncode == 0, quiet.stderr
    assert "state folder" in quiet.stdout and "state folder" not in quiet.stderr

    with open(small_disk / "filler", "wb") as f:
        f.write(b"\0" * int(3.8 * 2**20))
    loud = status(small_disk)
    assert loud.returncode == 0, loud.stderr  # a warning, not a failure
    warnings = [line for line in loud.stderr.splitlines() if "state folder" in line]
    assert len(warnings) == 1, loud.stderr
    assert warnings[0].startswith("warning: the state folder's disk") and "% full" in warnings[0]
    assert "move the state folder ($VRE_STATE_DIR) to a larger disk" in warnings[0]

    found = json.loads(status(small_disk, "--json").stdout)["disks"]
    state_disk = next(d for d in found if d["what"] == "state folder")
    assert state_disk["used_percent"] > 90 and state_disk["warning"]
    assert any(d["what"] == "Docker volumes" for d in found)  # the volumes' disk is checked too
