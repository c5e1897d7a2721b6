"""The vre_hub role's Dask Gateway option (vre_hub_gateway_*): its real check, variables, task
file and template, run by ansible-playbook on this host against a temporary state folder.

As in test_ansible_jobs_batch.py (vre_ansible_testlib.run_role_tasks), the role's "Restart
hub" handler only says it ran; the rest is the role's own files.
"""

from __future__ import annotations

import stat

from traitlets.config import PyFileConfigLoader

from vre_ansible_testlib import ANSIBLE_DIR, run_role_tasks

ROLE = ANSIBLE_DIR / "roles" / "vre_hub"


TASK_FILE = [{"name": "The role's task file", "ansible.builtin.include_tasks": str(ROLE / "tasks" / "gateway.yml")}]
HUB_ENV = [{"name": "The hub's environment", "ansible.builtin.debug": {"var": "vre_hub_base_env"}}]


def test_limits_reach_the_hub_and_extra_settings_the_gateway(ansible_ready, tmp_path):
    done = run_role_tasks(ansible_ready, tmp_path, HUB_ENV + TASK_FILE, {
        "vre_hub_gateway_backend": "docker", "vre_hub_gateway_max_workers": 8, "vre_hub_gateway_max_clusters": 1,
        "vre_hub_gateway_extra_config": "c.VREBackend.server_check_period = 60.0",
    })
    assert done.returncode == 0, done.stdout[-3000:]
    for line in ('"VRE_GATEWAY_BACKEND": "docker"', '"VRE_GATEWAY_MAX_WORKERS": "8"',
                 '"VRE_GATEWAY_MAX_CLUSTERS": "1"', '"VRE_GATEWAY_MAX_WORKER_CORES": "2"',
                 '"VRE_GATEWAY_IDLE_TIMEOUT": "1800"'):
        assert line in done.stdout, line
    settings = tmp_path / "state" / "vre_gateway_config.py"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600 and "hub restarted" in done.stdout
    config = PyFileConfigLoader(settings.name, path=str(settings.parent)).load_config()
    assert config.VREBackend.server_check_period == 60.0

    done = run_role_tasks(ansible_ready, tmp_path, TASK_FILE, {})  # the default: off
    assert done.returncode == 0, done.stdout[-3000:]
    assert not settings.exists() and "hub restarted" in done.stdout


def test_off_keeps_an_operators_own_settings(ansible_ready, tmp_path):
    (tmp_path / "state").mkdir()
    own = tmp_path / "state" / "vre_gateway_config.py"
    own.write_text("c.VREBackend.max_clusters_per_user = 3\n")
    done = run_role_tasks(ansible_ready, tmp_path, TASK_FILE, {})
    assert done.returncode == 0, done.stdout[-3000:]
    assert own.read_text() == "c.VREBackend.max_clusters_per_user = 3\n" and "hub restarted" not in done.stdout


def test_a_bad_option_stops_the_role_before_it_creates_anything(ansible_ready, tmp_path):
    main = [{"name": "The role's tasks", "ansible.builtin.include_tasks": str(ROLE / "tasks" / "main.yml")}]
    for bad in ({"vre_hub_gateway_backend": "slurm"}, {"vre_hub_gateway_backend": "docker", "vre_hub_gateway_max_workers": 0}):
        done = run_role_tasks(ansible_ready, tmp_path, main, bad)
        assert done.returncode != 0
        assert 'use "" or "docker", on a single host' in done.stdout, done.stdout[-2000:]
        assert not any((tmp_path / "state").iterdir())  # the check is the role's first task
