"""The test Slurm cluster itself: jobs run, as the user who submitted them, and cancel works."""

import time


def test_sbatch_runs_as_the_submitting_user(slurm_cluster, unix_user):
    account = unix_user("vreslurm1")
    out = f"{account.pw_dir}/who.txt"
    job = slurm_cluster.run(
        "sbatch", "--parsable", f"--output={out}", "--wrap", "id -un; id -u", user="vreslurm1"
    ).stdout.strip()
    slurm_cluster.wait_job(job)
    for _ in range(20):  # the output file is closed just after the job leaves the queue
        text = open(out).read().split() if __import__("os").path.exists(out) else []
        if len(text) == 2:
            break
        time.sleep(0.2)
    assert text == ["vreslurm1", str(account.pw_uid)]
    assert account.pw_uid != 0


def test_cancelled_job_is_gone_from_squeue(slurm_cluster, unix_user):
    unix_user("vreslurm1")
    job = slurm_cluster.run("sbatch", "--parsable", "--wrap", "sleep 300", user="vreslurm1").stdout.strip()
    assert job in slurm_cluster.queue()
    slurm_cluster.run("scancel", job, user="vreslurm1")
    slurm_cluster.wait_job(job, timeout=30)
    assert job not in slurm_cluster.queue()


def test_a_user_cannot_cancel_another_users_job(slurm_cluster, unix_user):
    unix_user("vreslurm1")
    unix_user("vreslurm2")
    job = slurm_cluster.run("sbatch", "--parsable", "--wrap", "sleep 300", user="vreslurm1").stdout.strip()
    try:
        refused = slurm_cluster.run("scancel", job, user="vreslurm2", check=False)
        assert refused.returncode != 0 or "Access/permission denied" in refused.stderr, refused
        assert job in slurm_cluster.queue()
    finally:
        slurm_cluster.run("scancel", job, user="vreslurm1")
