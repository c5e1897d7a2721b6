"""`vre up`, `status`, `users add`, `logs`, `restart`, `down` as an operator runs them."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from vre_hub.client import HubClient
from vre_testing import free_port, login, own_network, remove_network

pytestmark = pytest.mark.docker
VRE = [sys.executable, "-m", "vre_hub.cli"]


def vre(state: Path, ports: list[int], *args, env=None):
    command = VRE + [
        "--state-dir", str(state), "--port", str(ports[0]), "--api-port", str(ports[1]),
        "--proxy-api-port", str(ports[2]), *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)


def test_up_status_users_down(tmp_path, user_image, proxy_command):
    state = tmp_path / "state"
    ports = [free_port(), free_port(), free_port()]
    env = dict(os.environ, VRE_USER_IMAGE=user_image, **own_network())
    up = vre(state, ports, "up", env=env)
    try:
        assert up.returncode == 0, up.stderr
        url = f"http://127.0.0.1:{ports[0]}"
        assert f"JupyterHub is up at {url}" in up.stdout
        assert "checking the Docker engine" in up.stdout and "user image" in up.stdout
        # Servers get a network of their own, firewalled (as root), before the hub starts.
        assert f"created Docker network {env['VRE_NETWORK']}" in up.stdout
        assert os.geteuid() != 0 or "host firewall for" in up.stdout, up.stdout

        # Secrets were generated, private, and the admin can log in with the printed file.
        for secret in ("admin_password", "admin_token", "proxy_token", "jupyterhub_cookie_secret"):
            mode = stat.S_IMODE((state / secret).stat().st_mode)
            assert mode == 0o600, f"{secret} has mode {mode:o}"
        password = (state / "admin_password").read_text().strip()
        assert requests.get(f"{url}/hub/home", timeout=10).url.endswith("/hub/login?next=%2Fhub%2Fhome")
        assert login(url, "admin", password).get(f"{url}/hub/admin", timeout=30).status_code == 200
        assert login(url, "admin", "wrong-password").get(f"{url}/hub/home", timeout=30).url.startswith(
            f"{url}/hub/login"
        )

        # A second `up` is harmless.
        again = vre(state, ports, "up", env=env)
        assert again.returncode == 0 and "already running" in again.stdout

        added = vre(state, ports, "users", "add", "Marie.Curie", env=env)
        assert added.returncode == 0, added.stderr
        new_password = added.stdout.strip().rsplit("password: ", 1)[1]
        assert login(url, "marie.curie", new_password).get(f"{url}/hub/home", timeout=30).url == f"{url}/hub/home"

        status = vre(state, ports, "status", env=env)
        assert "hub           : running" in status.stdout and "users         : 2" in status.stdout

        logs = vre(state, ports, "logs", "-n", "5", env=env)
        assert logs.returncode == 0 and logs.stdout.strip()

        # `restart` loads new config; a running server stays and answers through the new proxy.
        admin = HubClient(url, (state / "admin_token").read_text().strip())
        admin.start_server("marie.curie")
        token = admin.token_for("marie.curie")
        pid = int((state / "jupyterhub.pid").read_text())
        restart = vre(state, ports, "restart", env=env)
        assert restart.returncode == 0, restart.stderr
        assert "stopping JupyterHub" in restart.stdout and f"JupyterHub is up at {url}" in restart.stdout
        assert "stopping marie.curie's server" not in restart.stdout
        assert int((state / "jupyterhub.pid").read_text()) != pid
        answer = requests.get(f"{url}/user/marie.curie/api/status", headers={"Authorization": f"token {token}"}, timeout=30)
        assert answer.status_code == 200, answer.text
    finally:
        down = vre(state, ports, "down", env=env)
        remove_network(env["VRE_NETWORK"])
    assert down.returncode == 0, down.stderr
    assert "stopping JupyterHub" in down.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{ports[0]}/hub/api/", timeout=5)
    assert "hub           : stopped" in vre(state, ports, "status", env=env).stdout


def test_errors_are_one_line(tmp_path):
    result = subprocess.run(VRE + ["--state-dir", str(tmp_path), "logs"], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: no log at")
