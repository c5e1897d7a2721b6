"""`vre workshop collect` streams: memory stays bounded while big homes are copied intact.

Three participants each hold a 40 MiB notebook (random bytes: nothing compresses, nothing
is deduplicated) in a real home volume; collect runs in a child process, which reports
how much its resident memory grew (/proc/self/status: VmHWM, the peak, minus VmRSS before
the copy). The files must arrive in the teacher's home with the same SHA-256.
"""

import json
import secrets
import subprocess
import sys

import pytest

from vre_hub.naming import home_volume_name

pytestmark = [pytest.mark.docker]

MIB = 1024 * 1024
NOTEBOOK_MIB = 40
PARTICIPANTS = 3

CHILD = """
import json, sys
from vre_hub.state import StateDir
from vre_workshop.collect import collect
from vre_workshop.context import Context
from vre_workshop.registry import Workshop

def memory(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

args = json.loads(sys.argv[1])
ctx = Context(state=StateDir(args["state"]), image=args["image"], say=lambda message: None)
ctx.docker  # connect (and check the image) first: the client is not what is measured
workshop = Workshop(name=args["name"], teacher=args["teacher"], participants=args["participants"])
before = memory("VmRSS")
target, counts = collect(ctx, workshop)
print(json.dumps({"before": before, "peak": memory("VmHWM"), "target": target, "counts": counts}))
"""


def _in_volume(image: str, volume: str, script: str, read_only: bool = False) -> str:
    """Run ``script`` as jovyan, without network, in ``volume`` mounted as the home; its stdout."""
    mode = ":ro" if read_only else ""
    result = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-u", "1000:100", "--entrypoint", "sh",
         "-v", f"{volume}:/home/jovyan{mode}", "-w", "/home/jovyan", image, "-c", script],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def big_homes(user_image):
    prefix = f"coll{secrets.token_hex(2)}"
    participants = [f"{prefix}-{i:02d}" for i in range(1, PARTICIPANTS + 1)]
    teacher = f"{prefix}-teacher"
    hashes = {}
    try:
        for user in participants:
            out = _in_volume(
                user_image, home_volume_name(user),
                f"mkdir -p work && head -c {NOTEBOOK_MIB * MIB} /dev/urandom > work/big.ipynb && sha256sum work/big.ipynb",
            )
            hashes[user] = out.split()[0]
        yield prefix, participants, teacher, hashes
    finally:
        for user in [*participants, teacher]:
            subprocess.run(["docker", "volume", "rm", "-f", home_volume_name(user)], capture_output=True)


def test_collect_streams_big_homes_with_bounded_memory(big_homes, user_image, tmp_path):
    prefix, participants, teacher, hashes = big_homes
    args = {"state": str(tmp_path), "image": user_image, "name": f"{prefix}-class",
            "teacher": teacher, "participants": participants}
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True, timeout=600)
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])

    data = PARTICIPANTS * NOTEBOOK_MIB * MIB
    growth = report["peak"] - report["before"]
    print(f"collected {data // MIB} MiB; the CLI's resident memory grew by {growth / MIB:.1f} MiB")
    assert growth < data / 4, f"memory grew by {growth / MIB:.0f} MiB while copying {data // MIB} MiB"
    assert report["counts"] == {user: 1 for user in participants}

    listing = _in_volume(user_image, home_volume_name(teacher),
                         f"cd {report['target']} && sha256sum */work/big.ipynb", read_only=True)
    arrived = {line.split()[1].split("/")[0]: line.split()[0] for line in listing.splitlines()}
    assert arrived == hashes
