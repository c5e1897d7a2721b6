"""ansible/ passes ansible-lint's production profile and every playbook's syntax check."""

import subprocess

import pytest

from vre_ansible_testlib import ANSIBLE_DIR

PLAYBOOKS = ["site.yml", "backup.yml", "restore.yml"]
INVENTORIES = ["inventories/single", "inventories/cluster"]


def test_ansible_lint_production_profile(ansible_ready):
    result = subprocess.run(
        [str(ansible_ready / "ansible-lint"), "--profile", "production", "--offline"],
        cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "Profile 'production' was required, and it passed" in output, output[-2000:]


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(ansible_ready, playbook, inventory):
    result = subprocess.run(
        [str(ansible_ready / "ansible-playbook"), "-i", inventory, playbook, "--syntax-check"],
        cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_every_role_has_the_standard_layout():
    roles = sorted(p for p in (ANSIBLE_DIR / "roles").iterdir() if p.is_dir())
    assert {r.name for r in roles} >= {
        "docker_engine", "vre_images", "vre_hub", "reverse_proxy", "backup", "swarm"
    }
    for role in roles:
        for part in ("defaults", "tasks", "handlers", "templates", "meta"):
            assert (role / part).is_dir(), f"{role.name} lacks {part}/"
        assert (role / "README.md").is_file(), f"{role.name} lacks README.md"
        assert (role / "tasks" / "main.yml").is_file(), f"{role.name} lacks tasks/main.yml"
