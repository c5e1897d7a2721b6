"""JupyterLab on a compute node (VRE_COMPUTE_NODE=slurm, hub/vre_hub/compute_node.py): a real
hub with the profile on, the real one-node Slurm cluster (tests/slurm_cluster.py), a Unix
account named like the hub user. The user's server starts as a Slurm job of that account,
answers through the hub's proxy with the user's token, and its job leaves the queue when the
server stops. The container profiles stay as they were (a large-memory container beside it;
an unknown profile: 400).

The one-node cluster's node is this host: its server listens on 127.0.0.1 (a site leaves
VRESlurmSpawner.ip at 0.0.0.0 so that the proxy reaches the node).
"""

from __future__ import annotations

import os
import secrets
import time

import docker
import pytest
import requests
from vre_core import naming
from vre_core.hub import APIError, HubClient
from vre_core.state import StateDir
from vre_hub import engine
from vre_testing import RunningHub, start_hub

pytestmark = pytest.mark.timeout(600, method="thread")


def _jobs_of(cluster, name: str) -> list[list[str]]:
    out = cluster.run("squeue", "-h", "-u", name, "-o", "%i %j %t %u").stdout
    return [line.split() for line in out.splitlines()]


def test_a_users_jupyterlab_runs_as_a_slurm_job_of_their_account(
    tmp_path, slurm_cluster, unix_user, python_for_all
):
    state = StateDir(tmp_path / "state").ensure()
    process = start_hub(state, {
        "VRE_PROXY_COMMAND": engine.ensure_proxy(),
        "VRE_USER_IMAGE": os.environ.get("VRE_TEST_IMAGE", "dataterra-vre/user:0.1.0"),
        "VRE_COMPUTE_NODE": "slurm",
        "SLURM_CONF": str(slurm_cluster.conf),
        "VRE_COMPUTE_NODE_IP": "127.0.0.1",  # the one test node is this host
        "VRE_COMPUTE_NODE_MEMORY": "1G",
    })
    hub = RunningHub(process, HubClient(process.url, state.admin_token))
    name = f"cn{secrets.token_hex(3)}"
    account = unix_user(name)
    try:
        hub.client.ensure_user(name)
        hub.users.append(name)
        with pytest.raises(APIError) as refused:  # the profiles are checked as before
            hub.client.start_server(name, {"profile": "supercomputer"}, wait=30)
        assert refused.value.status == 400 and "unknown profile 'supercomputer'" in str(refused.value)

        started = time.monotonic()
        hub.client.start_server(name, {"profile": "compute-node"}, wait=240)
        print(f"[compute-node] server ready in {time.monotonic() - started:.1f} s")
        jobs = _jobs_of(slurm_cluster, name)
        assert [(j[1], j[2], j[3]) for j in jobs] == [("spawner-jupyterhub", "R", name)], jobs

        token = hub.client.token_for(name, note="compute-node test")
        headers = {"Authorization": f"token {token}"}
        status = requests.get(f"{process.url}/user/{name}/api/status", headers=headers, timeout=30)
        assert status.status_code == 200 and "started" in status.json()
        # The server (and so the kernels it starts) is the user's account, in its home.
        me = requests.get(f"{process.url}/user/{name}/api/contents", headers=headers, timeout=30)
        assert me.status_code == 200
        home = os.stat(account.pw_dir)
        assert home.st_uid == account.pw_uid != 0
        lab = requests.get(f"{process.url}/user/{name}/lab", headers=headers, timeout=30)
        assert lab.status_code == 200 and "JupyterLab" in lab.text

        hub.client.stop_server(name, wait=120)
        slurm_cluster.wait_job(jobs[0][0], timeout=60)

        # The container profiles work as before beside it: a container with the profile's limits.
        other = f"cn{secrets.token_hex(3)}"
        hub.client.ensure_user(other)
        hub.users.append(other)
        hub.client.start_server(other, {"profile": "large-memory"}, wait=180)
        container = docker.from_env().containers.get(naming.container_name(other))
        assert container.attrs["HostConfig"]["Memory"] == 8 * 1024**3
        token = hub.client.token_for(other, note="compute-node test")
        status = requests.get(f"{process.url}/user/{other}/api/status",
                              headers={"Authorization": f"token {token}"}, timeout=30)
        assert status.status_code == 200
        assert not _jobs_of(slurm_cluster, other)
    finally:
        hub.stop()
