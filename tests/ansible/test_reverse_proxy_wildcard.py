"""The reverse_proxy role with a wildcard domain: Caddy serves the hub and every user subdomain.

The role's Caddyfile template is rendered by Ansible itself (template module, local) with
``vre_wildcard_domain`` set, then adapted by the real Caddy of the role's image
(``caddy adapt``: parses and checks the whole configuration, no certificate loaded): the
site must match the hub's name and ``*.<domain>``.
"""

import json
import subprocess
import sys

import pytest

from vre_ansible_testlib import ANSIBLE_DIR, docker
from vre_testing import need

pytestmark = [pytest.mark.docker]

ROLE = ANSIBLE_DIR / "roles" / "reverse_proxy"
PROXY_IMAGE = "dataterra-vre/proxy:caddy"  # the role's default reverse_proxy_image


def _render(ansible_ready, tmp_path, **variables) -> subprocess.CompletedProcess:
    """Render the role's Caddyfile with the role's defaults plus ``variables``."""
    playbook = tmp_path / "render.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml")],
        "tasks": [{"name": "Render", "ansible.builtin.template": {
            "src": str(ROLE / "templates" / "Caddyfile.j2"), "dest": str(tmp_path / "Caddyfile"), "mode": "0644"}}],
    }]))
    return subprocess.run(
        [str(ansible_ready / "ansible-playbook"), "-i", "localhost,", str(playbook), "-e", json.dumps({"ansible_python_interpreter": sys.executable, **variables})],
        capture_output=True, text=True, timeout=120, cwd=ANSIBLE_DIR,
    )


def test_caddy_serves_the_hub_and_every_user_subdomain(ansible_ready, tmp_path):
    need(docker("image", "inspect", PROXY_IMAGE).returncode == 0, f"{PROXY_IMAGE} is not built (the single-host Ansible test builds it)")
    rendered = _render(ansible_ready, tmp_path, vre_wildcard_domain="vre.example.org", reverse_proxy_domain="vre.example.org")
    assert rendered.returncode == 0, rendered.stdout[-2000:]
    adapted = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "-v", f"{tmp_path / 'Caddyfile'}:/etc/caddy/Caddyfile:ro",
         PROXY_IMAGE, "caddy", "adapt", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=120,
    )
    assert adapted.returncode == 0, adapted.stderr[-2000:]
    config = json.loads(adapted.stdout)
    hosts = {
        host
        for server in config["apps"]["http"]["servers"].values()
        for route in server.get("routes", [])
        for match in route.get("match", [])
        for host in match.get("host", [])
    }
    assert {"vre.example.org", "*.vre.example.org"} <= hosts, hosts
