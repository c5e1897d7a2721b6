"""Dask Gateway as the hub's service: real gateway, real hub tokens, real Slurm jobs and
real local processes of the users' accounts (tests/gateway/conftest.py)."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import time

import cloudpickle
import dask.array as da
import pytest
import requests

# Workers cannot import this test module: send its functions by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])
# A hung gateway client (seen once under heavy load) fails its test instead of the session.
pytestmark = pytest.mark.timeout(600)


def _whoami():
    return getpass.getuser(), os.getuid()


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(1)


def test_slurm_cluster_scales_to_workers_as_slurm_jobs(slurm_gateway, slurm_cluster):
    name, token = slurm_gateway.new_user()
    gateway = slurm_gateway.gateway(token)
    cluster = gateway.new_cluster()
    try:
        cluster.scale(3)
        client = cluster.get_client()
        client.wait_for_workers(3, timeout=240)
        x = da.ones((2000, 2000), chunks=(500, 500))
        assert x.sum().compute() == 4_000_000
        # Scheduler + 3 workers are Slurm jobs of the user, whose processes run as the user.
        mine = slurm_cluster.run("squeue", "-h", "-u", name, "-o", "%i %j %t").stdout.split("\n")
        assert len([line for line in mine if "dask-gateway" in line and line.endswith(" R")]) == 4
        ran_as = set(client.run(_whoami).values())
        assert ran_as == {(name, os.stat(os.path.expanduser(f"~{name}")).st_uid)}
    finally:
        cluster.shutdown()
    _wait(lambda: not slurm_cluster.run("squeue", "-h", "-u", name).stdout.strip(), 60,
          "the cluster's Slurm jobs are still queued after shutdown")


def test_another_user_cannot_see_or_stop_a_cluster(slurm_gateway):
    """User B, with B's own valid token, asks for A's cluster by name: 404/403, A's runs on."""
    _, token_a = slurm_gateway.new_user()
    _, token_b = slurm_gateway.new_user()
    gateway_a = slurm_gateway.gateway(token_a)
    cluster = gateway_a.new_cluster()
    try:
        url = f"{slurm_gateway.url}/api/v1/clusters/{cluster.name}"
        as_b = {"Authorization": f"jupyterhub {token_b}"}
        assert requests.get(url, headers=as_b, timeout=30).status_code in (403, 404)
        assert requests.delete(url, headers=as_b, timeout=30).status_code in (403, 404)
        assert cluster.name not in [c.name for c in slurm_gateway.gateway(token_b).list_clusters()]
        # A token the hub rejects: refused (dask-gateway-server 2026.3.0 answers 500, not 401).
        forged = requests.get(url, headers={"Authorization": "jupyterhub not-a-token"}, timeout=30)
        assert forged.status_code in (401, 403, 500) and cluster.name not in forged.text
        assert gateway_a.get_cluster(cluster.name).status.name == "RUNNING"
    finally:
        cluster.shutdown()


def test_limits_over_the_max_are_refused_in_one_line(local_gateway):
    _, token = local_gateway.new_user()
    gateway = local_gateway.gateway(token)
    with pytest.raises(ValueError) as refused:
        gateway.new_cluster(worker_cores=16)
    message = str(refused.value)
    assert "worker_cores must be <= 2" in message and "\n" not in message.strip()
    assert gateway.list_clusters() == []  # nothing created
    # submit(): the request alone, no client connection to the scheduler (new_cluster's
    # first read from it, which has no timeout, hung twice on this loaded machine).
    name = gateway.submit()
    try:
        with pytest.raises(ValueError) as refused:  # VRE_GATEWAY_MAX_CLUSTERS=1
            gateway.submit()
        assert "already has 1 Dask clusters, the most allowed" in str(refused.value)
        assert [c.name for c in gateway.list_clusters()] == [name]
    finally:
        gateway.stop_cluster(name)


def _cluster_facts():
    return {"cwd": os.getcwd(), "pid": os.getpid(), "user": getpass.getuser()}


def _attack(cwd: str, pid: int) -> dict:
    """From a worker of one user, go for another user's cluster: its TLS key and its worker."""
    import signal

    outcome = {}
    try:
        open(os.path.join(cwd, ".certs", "dask.pem")).read()
        outcome["key"] = "read"
    except PermissionError:
        outcome["key"] = "denied"
    try:
        os.kill(pid, signal.SIGKILL)
        outcome["kill"] = "killed"
    except PermissionError:
        outcome["kill"] = "denied"
    return outcome


def test_two_users_local_clusters_are_isolated(local_gateway):
    name_a, token_a = local_gateway.new_user()
    name_b, token_b = local_gateway.new_user()
    cluster_a = local_gateway.gateway(token_a).new_cluster()
    cluster_b = local_gateway.gateway(token_b).new_cluster()
    try:
        cluster_a.scale(1)
        cluster_b.scale(1)
        client_a, client_b = cluster_a.get_client(), cluster_b.get_client()
        client_a.wait_for_workers(1, timeout=120)
        client_b.wait_for_workers(1, timeout=120)
        (facts_a,) = client_a.run(_cluster_facts).values()
        (facts_b,) = client_b.run(_cluster_facts).values()
        assert (facts_a["user"], facts_b["user"]) == (name_a, name_b)
        (outcome,) = client_a.run(_attack, facts_b["cwd"], facts_b["pid"]).values()
        assert outcome == {"key": "denied", "kill": "denied"}
        assert client_b.submit(sum, [1, 2, 3]).result() == 6  # B's cluster is unharmed
    finally:
        cluster_a.shutdown()
        cluster_b.shutdown()


def _connect(address: str) -> str:
    """From a worker: open a TCP connection to a scheduler's address (tls://ip:port)."""
    import socket

    host, port = address.split("://")[1].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        return "connected"
    except OSError as error:
        return type(error).__name__


def test_docker_workers_have_the_servers_limits_and_users_are_isolated(docker_gateway):
    """Workers are containers of the user image with the server's restrictions; user A's
    worker cannot open a connection to user B's scheduler (same bridge, no inter-container
    traffic); the containers are gone after shutdown."""
    import docker

    engine = docker.from_env()
    _, token_a = docker_gateway.new_user()
    _, token_b = docker_gateway.new_user()
    cluster_a = docker_gateway.gateway(token_a).new_cluster(worker_memory=1)
    cluster_b = docker_gateway.gateway(token_b).new_cluster()
    try:
        cluster_a.scale(2)
        cluster_b.scale(1)
        client_a, client_b = cluster_a.get_client(), cluster_b.get_client()
        client_a.wait_for_workers(2, timeout=180)
        client_b.wait_for_workers(1, timeout=180)
        assert client_a.compute(da.ones((2000, 2000), chunks=(500, 500)).sum()).result() == 4_000_000
        assert set(client_a.run(os.getuid).values()) == {1000}
        workers = engine.containers.list(filters={"label": f"org.dataterra.vre.dask-cluster={cluster_a.name}"})
        assert len(workers) == 3  # scheduler + 2 workers
        for container in workers:
            host = container.attrs["HostConfig"]
            assert host["CapDrop"] == ["ALL"] and "no-new-privileges" in host["SecurityOpt"]
            assert host["PidsLimit"] == 2048 and host["Privileged"] is False
            assert container.attrs["Config"]["User"] == "1000:100"
            if container.name != f"vre-dask-{cluster_a.name}":  # workers: 1 GiB, 1 CPU, no swap
                assert host["Memory"] == host["MemorySwap"] == 1024**3
                assert host["NanoCpus"] == 1_000_000_000
        scheduler_b = cluster_b.scheduler_info["address"]
        assert set(client_a.run(_connect, scheduler_b).values()) != {"connected"}
        assert set(client_b.run(_connect, scheduler_b).values()) == {"connected"}  # the probe works
    finally:
        cluster_a.shutdown()
        cluster_b.shutdown()
    label = {"label": f"org.dataterra.vre.dask-cluster={cluster_a.name}"}
    _wait(lambda: not engine.containers.list(all=True, filters=label), 60, "containers left after shutdown")


def test_a_notebook_gets_a_cluster_in_one_line_stopped_with_its_server(docker_gateway):
    """In a real user server (its environment, its server token), the README's one line
    gives a gateway cluster whose worker computes: the gateway is reachable from the users'
    network through the ports the launcher opens, and the server's token may use it. The
    cluster, left running, is stopped when the server stops."""
    from vre_core import naming

    import docker

    name, token = docker_gateway.new_user()
    docker_gateway.client.start_server(name, wait=180)
    code = (
        "from vre_gateway.client import new_cluster; import dask.array as da\n"
        "cluster, client = new_cluster(workers=1, shutdown_on_close=False)\n"
        "print(client.compute(da.ones((1000, 1000), chunks=(250, 250)).sum()).result())\n"
    )
    run = subprocess.run(
        ["docker", "exec", "-u", "1000", naming.container_name(name), "python", "-c", code],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "1000000.0"
    # Left running (shutdown_on_close=False): stopping the server stops it
    # (VRE_GATEWAY_SERVER_CHECK_PERIOD=2).
    (cluster,) = docker_gateway.gateway(token).list_clusters()
    docker_gateway.client.stop_server(name, wait=60)
    _wait(lambda: not docker_gateway.gateway(token).list_clusters(), 60, "cluster still running after its server stopped")
    label = {"label": f"org.dataterra.vre.dask-cluster={cluster.name}"}
    _wait(lambda: not docker.from_env().containers.list(all=True, filters=label), 60, "its containers remain")


# An operator's cluster options that look something up before answering (here a pause, as
# a request to a quota service or the hub would take): while they wait, the gateway serves
# the user's other requests.
SLOW_OPTIONS = '''
import asyncio
from dask_gateway_server.options import Integer, Options

async def _options(user):
    await asyncio.sleep(0.5)
    return Options(Integer("worker_cores", default=1, min=1, max=2))

c.Backend.cluster_options = _options
'''


def test_concurrent_requests_of_a_user_do_not_pass_the_cluster_cap(tmp_path, unix_user, python_for_all):  # noqa: F811
    """Six simultaneous new-cluster requests of one user (cap: 1, options that wait):
    one cluster is created, five are refused in one line."""
    from concurrent.futures import ThreadPoolExecutor

    from gateway.conftest import gateway_hub

    (tmp_path / "vre_gateway_config.py").write_text(SLOW_OPTIONS)
    env = {"VRE_GATEWAY_BACKEND": "local", "VRE_GATEWAY_MAX_CLUSTERS": "1"}
    with gateway_hub(tmp_path, unix_user, env) as hub:
        name, token = hub.new_user()
        headers = {"Authorization": f"jupyterhub {token}"}

        def new_cluster(_):
            return requests.post(f"{hub.url}/api/v1/clusters/", json={"cluster_options": {}}, headers=headers, timeout=60)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(new_cluster, range(6)))
        created = [a.json()["name"] for a in answers if a.status_code == 201]
        try:
            refused = [a for a in answers if a.status_code == 422]
            assert len(created) == 1 and len(refused) == 5, [(a.status_code, a.text) for a in answers]
            assert all(f"{name} already has 1 Dask clusters, the most allowed" in a.json()["error"] for a in refused)
            assert [c.name for c in hub.gateway(token).list_clusters()] == created
        finally:
            for cluster in created:
                requests.delete(f"{hub.url}/api/v1/clusters/{cluster}", headers=headers, timeout=60)
