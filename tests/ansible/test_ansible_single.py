"""A real converge of ansible/site.yml on this machine (single host, local connection).

Applied twice: the second run must change nothing. The hub it brings up answers directly
and through the TLS reverse proxy, spawns a user's server reachable through its proxy,
and the backup playbook (`vre backup`) saves a user's home that the restore playbook (`vre restore`) brings back.
"""

import os
import stat

import pytest
import requests

from vre_ansible_testlib import docker, make_deployment
from vre_testing import login, signup

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, ansible_ready, current_user_image):
    deployment = make_deployment(tmp_path_factory, "s", cluster=False, user_image=current_user_image)
    try:
        yield deployment
    finally:
        deployment.remove_created()


@pytest.fixture(scope="module")
def converged(deployment):
    first = deployment.playbook("site.yml")
    assert first.returncode == 0 and first.failed == 0, first.tail()
    second = deployment.playbook("site.yml")
    return first, second


def test_first_run_converges(converged):
    first, _ = converged
    assert first.recap["localhost"]["changed"] > 0, "a fresh deployment must create things"


def test_second_run_changes_nothing(converged):
    _, second = converged
    assert second.returncode == 0 and second.failed == 0, second.tail()
    assert second.changed == 0, f"changed on the second run: {second.changed_tasks}"


def test_hub_answers_directly_and_through_tls(deployment, converged):
    direct = requests.get(f"{deployment.hub_url}/hub/api", timeout=10)
    assert direct.status_code == 200 and direct.json()["version"].startswith("5.")
    # Real TLS verification against the certificate the role made (SAN IP:127.0.0.1).
    tls = requests.get(f"{deployment.https_url}/hub/api", verify=deployment.certificate, timeout=10)
    assert tls.status_code == 200 and tls.json() == direct.json()
    plain = requests.get(
        f"http://127.0.0.1:{deployment.settings['reverse_proxy_http_port']}/hub/", allow_redirects=False, timeout=10
    )
    assert plain.status_code in (301, 308)
    assert plain.headers["Location"].startswith(f"https://127.0.0.1:{deployment.settings['reverse_proxy_https_port']}/")


def test_state_and_secrets_are_private(deployment, converged):
    assert stat.S_IMODE(deployment.state_dir.stat().st_mode) == 0o700
    for name in ("jupyterhub_cookie_secret", "proxy_token", "admin_token", "admin_password"):
        path = deployment.state_dir / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
        assert len(path.read_text().strip()) == 64, f"{name} is not a 32-byte hex secret"
    key = deployment.root / "vre" / "proxy" / "tls" / "key.pem"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_admin_account_has_its_generated_password_and_sign_up_cannot_take_it(deployment, converged):
    """The role never set an admin password: the first to sign up as `admin` became hub admin."""
    response, message = signup(deployment.hub_url, "admin", "attacker-password-1234")
    assert response.status_code == 400 and "is reserved" in message, message
    password = (deployment.state_dir / "admin_password").read_text().strip()
    admin = login(deployment.hub_url, "admin", password).get(f"{deployment.hub_url}/hub/admin", timeout=30)
    assert admin.status_code == 200 and admin.url == f"{deployment.hub_url}/hub/admin"


def test_hub_spawns_a_server_reachable_through_the_proxy(deployment, converged, hub_client_for):
    client = hub_client_for(deployment)
    name = client.ensure_user("ansibletester")["name"]
    try:
        try:
            client.start_server(name, wait=180)
        except Exception:
            print(docker("logs", "--tail", "40", f"{deployment.prefix}hub").stderr)  # why it failed
            raise
        token = client.token_for(name, note="ansible test")
        headers = {"Authorization": f"token {token}"}
        status = requests.get(f"{deployment.hub_url}/user/{name}/api/status", headers=headers, timeout=15)
        assert status.status_code == 200 and "started" in status.json()
        tls = requests.get(
            f"{deployment.https_url}/user/{name}/api/status",
            headers=headers, verify=deployment.certificate, timeout=15,
        )
        assert tls.status_code == 200
        # The user's container: this deployment's name, no Docker socket, limits set.
        container = f"{deployment.prefix}user-{name}"
        inspect = docker("inspect", "--format",
                         "{{.Config.User}} {{.HostConfig.Memory}} {{range .Mounts}}{{.Source}} {{end}}",
                         container)
        assert inspect.returncode == 0, inspect.stderr
        user, memory, *mounts = inspect.stdout.split()
        assert int(memory) > 0
        assert not any("docker.sock" in m for m in mounts)
        hub_mounts = docker("inspect", "--format", "{{range .Mounts}}{{.Source}} {{end}}", f"{deployment.prefix}hub")
        assert "/var/run/docker.sock" in hub_mounts.stdout.split()
    finally:
        client.stop_server(name, wait=60)


def test_backup_then_restore_a_user_volume(deployment, converged, hub_client_for):
    """backup.yml runs `vre backup` (hub image) and restore.yml `vre restore` with the hub stopped."""
    name = hub_client_for(deployment).ensure_user("backupprobe")["name"]
    volume = f"{deployment.prefix}home-{name}"
    base = "dataterra-vre/base:bookworm"
    written = docker("run", "--rm", "--network", "none", "-v", f"{volume}:/v", base,
                     "sh", "-c", "mkdir -p /v/work && echo 'niche model v1' > /v/work/notes.txt")
    assert written.returncode == 0, written.stderr

    backup = deployment.playbook("backup.yml")
    assert backup.returncode == 0, backup.tail()
    backups = sorted((deployment.root / "backups").glob("vre-backup-2*"))
    assert len(backups) == 1, os.listdir(deployment.root / "backups")
    assert (backups[0] / "manifest.json").is_file() and (backups[0] / "volumes" / f"{volume}.tar").is_file()
    assert (deployment.root / "backups").stat().st_mode & 0o077 == 0

    assert docker("volume", "rm", volume).returncode == 0
    restore_args = ["-e", f"backup_restore_from={backups[0]}"]
    restored = deployment.playbook("restore.yml", *restore_args)
    assert restored.returncode == 0, restored.tail()
    content = docker("run", "--rm", "--network", "none", "-v", f"{volume}:/v:ro", base, "cat", "/v/work/notes.txt")
    assert content.stdout.strip() == "niche model v1"
    assert requests.get(f"{deployment.hub_url}/hub/api", timeout=10).status_code == 200  # started again

    # The volume exists now: a second restore keeps it as it is, and nothing is lost.
    again = deployment.playbook("restore.yml", *restore_args)
    assert again.returncode == 0, again.tail()
    assert f"kept {volume} as it is" in again.output
    content = docker("run", "--rm", "--network", "none", "-v", f"{volume}:/v:ro", base, "cat", "/v/work/notes.txt")
    assert content.stdout.strip() == "niche model v1"
