"""Backup and restore drill: a user with files and a finished job; `vre backup` while the hub
and the user's server run; the home volume and the hub's and jobs' databases deleted;
`vre restore` (a damaged and a partial copy of the backup refused first, restoring nothing);
`vre up`; the user logs in through the hub's login form and finds their files and job history.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import docker
import pytest
import requests
from jobs.conftest import NOTEBOOKS, JobsUser, wait_for_service
from security.test_jobs_security import cookie_api, hub_session
from vre_core import accounts
from vre_core.homes import HomeVolume

from .kit import own_hub, vre_up

pytestmark = pytest.mark.docker


def vre(state: Path, *args: str, image: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "vre_hub.cli", "--state-dir", str(state), *args]
    env = {**os.environ, "VRE_USER_IMAGE": image}
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def contents(session: requests.Session, server: str, path: str) -> dict:
    """GET the Jupyter contents API of the user's server with the browser's cookies."""
    xsrf = next(c.value for c in session.cookies if c.name == "_xsrf" and c.path.startswith("/user/"))
    r = session.get(f"{server}api/contents/{path}?content=1", headers={"X-XSRFToken": xsrf}, timeout=60)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return r.json()


def test_backup_restore_drill(tmp_path, user_image, proxy_command):
    hub = own_hub(tmp_path / "state", user_image, proxy_command)
    state = hub.process.state
    client = docker.from_env()
    try:
        name, password = f"b{secrets.token_hex(3)}", secrets.token_urlsafe(12)
        hub.client.ensure_user(name)
        hub.users.append(name)
        accounts.set_password(name, password, state.db_url)
        token = hub.client.token_for(name, note="backup drill")
        server = f"{hub.url}/user/{quote(name, safe='')}/"
        headers = {"Authorization": f"token {token}"}

        # The user's files, saved through their running JupyterLab server.
        hub.client.start_server(name, {"profile": "standard"})
        notes = "field notes, station 7\n" * 100
        for path, model in {
            "work": {"type": "directory"},
            "work/notes.txt": {"type": "file", "format": "text", "content": notes},
            "work/params.ipynb": {"type": "notebook", "content": json.loads((NOTEBOOKS / "params.ipynb").read_text())},
        }.items():
            r = requests.put(f"{server}api/contents/{path}", json=model, headers=headers, timeout=60)
            assert r.status_code in (200, 201), r.text
        # ... and a finished job.
        jobs = JobsUser(name, token, f"{hub.url}/services/jobs/")
        wait_for_service(jobs)
        job = jobs.submit(notebook="work/params.ipynb", parameters={"alpha": 3.0})[0]
        assert jobs.wait([job["id"]], timeout=300)[job["id"]]["state"] == "completed"

        # Back up with the hub and the user's server running.
        backup = tmp_path / "backups" / "nightly"
        made = vre(state.path, "backup", str(backup), image=user_image)
        assert made.returncode == 0, made.stderr
        manifest = json.loads((backup / "manifest.json").read_text())
        assert {"jupyterhub.sqlite", "vre-jobs.sqlite"} <= set(manifest["databases"])
        assert manifest["volumes"][f"vre-home-{name}"] >= 3  # notes, notebook, the job's results
        assert not backup.with_name("nightly.partial").exists()
        assert vre(state.path, "backup", str(backup), image=user_image).returncode == 1  # never over a backup

        # The disaster: the hub stopped, the user's home and both databases gone.
        hub.client.stop_server(name)
        hub.process.stop()
        HomeVolume.of(client, user_image, name).remove()
        for path in state.path.iterdir():
            if path.name.startswith(("jupyterhub.sqlite", "vre-jobs.sqlite")):
                path.unlink()
        before = sorted(p.name for p in state.path.iterdir())

        # A damaged backup and a partial one are refused in one line; nothing is restored.
        damaged = tmp_path / "backups" / "damaged"
        shutil.copytree(backup, damaged)
        with open(damaged / "volumes" / f"vre-home-{name}.tar", "r+b") as tar:
            tar.seek(1000)
            tar.write(b"\x00garbage")
        assert "does not match its checksum" in one_line_refusal(vre(state.path, "restore", str(damaged), image=user_image))
        partial = tmp_path / "backups" / "partial"
        shutil.copytree(backup, partial)
        (partial / "manifest.json").unlink()
        assert "not a complete backup" in one_line_refusal(vre(state.path, "restore", str(partial), image=user_image))
        truncated = tmp_path / "backups" / "truncated"
        shutil.copytree(backup, truncated)
        (truncated / "state" / "vre-jobs.sqlite").unlink()
        assert "is missing" in one_line_refusal(vre(state.path, "restore", str(truncated), image=user_image))
        assert sorted(p.name for p in state.path.iterdir()) == before
        assert not HomeVolume.of(client, user_image, name).exists()

        # Restore, start the hub as an operator does.
        restored = vre(state.path, "restore", str(backup), "--json", image=user_image)
        assert restored.returncode == 0, restored.stderr
        summary = json.loads(restored.stdout)
        assert f"vre-home-{name}" in summary["restored_volumes"] and summary["kept_volumes"] == []
        assert summary["replaced"] is None  # the secrets were the same; nothing else was there
        for secret in ("admin_token", "proxy_token", "jupyterhub_cookie_secret"):
            assert (state.path / secret).stat().st_mode & 0o777 == 0o600
        up = vre_up(hub)
        assert up.returncode == 0, up.stdout + up.stderr

        # The user logs in with their password and finds their job history ...
        session, xsrf = hub_session(hub.url, name, password)
        history = cookie_api(session, xsrf, f"{hub.url}/services/jobs/", "GET", "jobs").json()
        assert [(j["id"], j["state"]) for j in history["jobs"]] == [(job["id"], "completed")], history
        # ... and their files, and the job's results, in their JupyterLab.
        hub.client.start_server(name, {"profile": "standard"})
        assert session.get(f"{server}lab", timeout=60).status_code == 200  # the server's OAuth, as a browser
        assert contents(session, server, "work/notes.txt")["content"] == notes
        assert contents(session, server, "work/params.ipynb")["type"] == "notebook"
        results = {f["name"] for f in contents(session, server, f"jobs/{job['id']}")["content"]}
        assert {"notebook.ipynb", "notebook.html", "status.json"} <= results
        # Restoring again keeps what is there (the volume exists now) and loses nothing.
        hub.client.stop_server(name)
        hub.process.stop()
        again = vre(state.path, "restore", str(backup), "--json", image=user_image)
        assert again.returncode == 0, again.stderr
        again = json.loads(again.stdout)
        assert again["kept_volumes"] == [f"vre-home-{name}"] and again["replaced"]
        assert (Path(again["replaced"]) / "jupyterhub.sqlite").is_file()  # the newer database, kept aside
    finally:
        hub.stop()
