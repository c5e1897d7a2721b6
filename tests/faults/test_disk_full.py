"""A user's home full while saving a notebook: the save fails with an error the user sees,
the previous version of the file is intact (never a zero-byte notebook), other users go on.

How the fault is injected: Docker's local volume driver can limit a volume's size only on an
XFS data-root mounted with project quotas (``--opt size=``; on this host's ext4 it answers
"quota size requested but no quota support"), so the test gives the user's home a small
filesystem of its own: a 24 MiB ext4 image on a loop device, made by the test and created as
the user's home volume (``vre-home-<name>``, local driver, ``type=ext4``) before the user's
first start. The spawner, JupyterLab and jupyter_server are the real ones and untouched;
jupyter_server's atomic writing (on by default in the user image, checked below) is what
keeps the previous version.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import uuid
from urllib.parse import quote

import pytest
import requests
from vre_core import naming
from vre_testing import browser_login, need

pytestmark = pytest.mark.docker

SIZE_MB = 24
#: How jupyter_server's error says it (the file system's, or SQLite's for the signature database).
FULL = re.compile(r"No space left on device|disk is full")


def notebook(text: str) -> dict:
    """A one-cell notebook model (nbformat 4) holding ``text``."""
    cell = {"cell_type": "markdown", "id": uuid.uuid4().hex[:8], "metadata": {}, "source": text}
    return {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def fill(container: str) -> None:
    """Fill the home to the last block, as a big download would (1 MiB writes, then 1 KiB)."""
    sh(container, "cd; dd if=/dev/zero of=download.bin bs=1M 2>/dev/null; dd if=/dev/zero of=download.part bs=1K 2>/dev/null; true")


def free(container: str) -> int:
    return int(sh(container, "df --output=avail -B1 ~ | tail -1"))


def sh(container: str, script: str) -> str:
    """Run ``script`` in the user's container as the user (uid 1000)."""
    result = subprocess.run(["docker", "exec", "-u", naming.RUN_AS, container, "sh", "-c", script],
                            capture_output=True, text=True, timeout=120)
    return result.stdout.strip()


@pytest.fixture
def small_home(hub, tmp_path):
    """A user whose home volume is a 24 MiB ext4 filesystem (loop device); (name, token, password)."""
    need(subprocess.run(["losetup", "-f"], capture_output=True).returncode == 0, "no free loop device (needs root)")
    password = secrets.token_urlsafe(12)
    name, token = hub.new_user(password=password)
    image = tmp_path / "home.ext4"
    subprocess.run(["truncate", "-s", f"{SIZE_MB}M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-m", "0", "-E", f"root_owner={naming.USER_UID}:{naming.USER_GID}", str(image)],
                   check=True)
    device = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True,
                            check=True).stdout.strip()
    volume = naming.home_volume_name(name)
    try:
        subprocess.run(["docker", "volume", "create", "--driver", "local", "--opt", "type=ext4",
                        "--opt", f"device={device}", volume], check=True, capture_output=True)
        yield name, token, password
    finally:
        try:
            hub.client.stop_server(name)
        finally:
            subprocess.run(["docker", "rm", "-f", naming.container_name(name)], capture_output=True)
            subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)
            subprocess.run(["losetup", "-d", device], capture_output=True)


def test_full_home_fails_the_save_and_keeps_the_previous_version(hub, small_home):
    name, token, _ = small_home
    other, other_token = hub.new_user()
    for user in (name, other):
        hub.client.start_server(user, {"profile": "standard"})
    container = naming.container_name(name)
    assert sh(container, "df --output=fstype,size -BM ~ | tail -1").split()[0] == "ext4"  # the small home
    # The user image saves with jupyter_server's atomic writing (the default; never switched off).
    atomic = sh(container, "python3 -c 'from jupyter_server.services.contents.filemanager import FileContentsManager as F;"
                           " print(F().use_atomic_writing)'")
    assert atomic == "True", atomic

    def api(user, user_token, method, path, **kwargs):
        url = f"{hub.url}/user/{quote(user, safe='')}/api/contents/{path}"
        return requests.request(method, url, headers={"Authorization": f"token {user_token}"}, timeout=120, **kwargs)

    def save(user, user_token, path, text):
        return api(user, user_token, "PUT", path, json={"type": "notebook", "content": notebook(text)})

    def content(path):
        r = api(name, token, "GET", f"{path}?content=1")
        assert r.status_code == 200, r.text[:300]
        return r.json()["content"]["cells"][0]["source"]

    assert save(name, token, "analysis.ipynb", "version 1: the analysis").status_code == 201

    # 1. A notebook larger than the free space (an output that grew): refused, v1 intact.
    refused = save(name, token, "analysis.ipynb", "x" * (free(container) + 2 * 2**20))
    assert refused.status_code == 500, refused.text[:300]
    assert FULL.search(refused.json()["message"])  # what JupyterLab's dialog shows
    assert content("analysis.ipynb") == "version 1: the analysis"
    assert int(sh(container, "stat -c %s ~/analysis.ipynb")) > 0
    assert sh(container, "ls -A ~ | grep -c '^\\.~' || true") == "0"  # the backup copy was moved back

    # 2. The home completely full (a big download, say), then a small save: refused, v1 intact.
    fill(container)
    assert free(container) == 0
    small = save(name, token, "analysis.ipynb", "version 2: the analysis, edited")
    # (here the notebook-signature database in ~/.local, written first, is what finds the disk full)
    assert small.status_code == 500 and FULL.search(small.json()["message"]), small.text[:300]
    assert content("analysis.ipynb") == "version 1: the analysis"

    # Another user saves and reads as usual meanwhile.
    assert save(other, other_token, "theirs.ipynb", "someone else's work").status_code == 201
    assert api(other, other_token, "GET", "theirs.ipynb?content=1").json()["content"]["cells"][0]["source"] == "someone else's work"

    # Space freed: the same save goes through.
    sh(container, "rm -f ~/download.bin ~/download.part ~/.~*")
    assert save(name, token, "analysis.ipynb", "version 2: the analysis, edited").status_code == 200
    assert content("analysis.ipynb") == "version 2: the analysis, edited"


@pytest.mark.browser
def test_full_home_save_error_shown_in_jupyterlab(hub, small_home, output_dir):
    """The same fault seen by the person: JupyterLab's save shows an error dialog naming the
    full disk, and the notebook on disk is still the previous version."""
    need(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    from widgets.lab import CHROMIUM, CHROMIUM_ARGS, NOTEBOOK, open_notebook

    name, token, password = small_home
    hub.client.start_server(name, {"profile": "standard"})
    container = naming.container_name(name)
    server = f"{hub.url}/user/{quote(name, safe='')}"
    cell = {"cell_type": "code", "id": "c1", "metadata": {}, "source": "x = 1  # version 1",
            "outputs": [], "execution_count": None}
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    model = {"type": "notebook", "content": {"cells": [cell], "metadata": kernel, "nbformat": 4, "nbformat_minor": 5}}
    headers = {"Authorization": f"token {token}"}
    assert requests.put(f"{server}/api/contents/analysis.ipynb", json=model, headers=headers, timeout=60).status_code == 201
    (output_dir / "faults").mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(90_000)
        try:
            browser_login(page, hub.url, name, password, then=f"/user/{quote(name, safe='')}/lab")
            open_notebook(page, server, "analysis.ipynb")
            fill(container)  # the home fills while the notebook is open
            assert free(container) == 0
            page.locator(f"{NOTEBOOK} .jp-CodeCell .cm-content").first.click()
            page.keyboard.press("End")
            page.keyboard.insert_text("\ny = 2  # version 2, not saved")
            page.keyboard.press("Control+s")
            dialog = page.locator(".jp-Dialog")
            dialog.wait_for()
            page.screenshot(path=output_dir / "faults" / "disk-full-save-error.png")
            text = dialog.inner_text()
            assert "Save Error" in text and FULL.search(text), text
        except Exception:
            page.screenshot(path=output_dir / "faults" / "disk-full-failed.png")
            raise
        finally:
            browser.close()
    r = requests.get(f"{server}/api/contents/analysis.ipynb?content=1", headers=headers, timeout=60)
    assert r.status_code == 200 and r.json()["content"]["cells"][0]["source"] == "x = 1  # version 1", r.text[:300]
