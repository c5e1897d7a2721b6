"""The vre_hub role's jobs backend option (vre_hub_jobs_*): its real task file and template,
run by ansible-playbook on this host against a temporary state folder.

The role's "Restart hub" handler is replaced by a play handler of the same name that only
says it ran (restarting a hub is the single-host deployment test's business;
vre_ansible_testlib.run_role_tasks); the rest is the role's own files, with its defaults.
"""

from __future__ import annotations

import stat

from traitlets.config import PyFileConfigLoader

from vre_ansible_testlib import ANSIBLE_DIR, run_role_tasks

ROLE = ANSIBLE_DIR / "roles" / "vre_hub"


def converge(ansible_ready, tmp_path, **settings):
    task = {"name": "The role's task file", "ansible.builtin.include_tasks": str(ROLE / "tasks" / "jobs_batch.yml")}
    return run_role_tasks(ansible_ready, tmp_path, [task], settings)


def test_slurm_option_writes_the_settings_and_back_to_docker_removes_them(ansible_ready, tmp_path):
    spool = tmp_path / "spool"
    done = converge(
        ansible_ready, tmp_path, vre_hub_jobs_backend="slurm", vre_hub_jobs_spool_dir=str(spool),
        vre_hub_jobs_batch_python="/shared/papermill/bin/python", vre_hub_jobs_batch_partition="short",
        vre_hub_jobs_batch_extra_args=["--qos=normal"],
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "hub restarted" in done.stdout
    settings = tmp_path / "state" / "vre_jobs_config.py"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.stat().st_mode) == 0o711
    config = PyFileConfigLoader(settings.name, path=str(settings.parent)).load_config()
    assert config.JobsService.backend == "slurm"
    assert config.JobsService.max_concurrent == 20
    assert config.BatchBackend.spool_dir == str(spool)
    assert config.BatchBackend.python == "/shared/papermill/bin/python"
    assert config.BatchBackend.partition == "short" and config.BatchBackend.extra_args == ["--qos=normal"]

    done = converge(ansible_ready, tmp_path)  # the default: docker
    assert done.returncode == 0, done.stdout[-3000:]
    assert not settings.exists() and "hub restarted" in done.stdout


def test_docker_keeps_an_operators_own_settings(ansible_ready, tmp_path):
    (tmp_path / "state").mkdir()
    own = tmp_path / "state" / "vre_jobs_config.py"
    own.write_text("c.JobsService.max_concurrent = 4\n")
    done = converge(ansible_ready, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    assert own.read_text() == "c.JobsService.max_concurrent = 4\n" and "hub restarted" not in done.stdout


def test_bad_option_fails_in_one_message(ansible_ready, tmp_path):
    done = converge(ansible_ready, tmp_path, vre_hub_jobs_backend="slurm")  # no Python for the nodes
    assert done.returncode != 0
    assert "vre_hub_jobs_backend=slurm: use docker, slurm or pbs; a batch backend needs vre_hub_jobs_batch_python" in done.stdout
    assert not (tmp_path / "state" / "vre_jobs_config.py").exists()
