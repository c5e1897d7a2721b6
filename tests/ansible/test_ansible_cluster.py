"""The cluster path of ansible/site.yml on a one-node Docker Swarm.

The swarm role initialises the swarm (advertised on 127.0.0.1) unless this engine is
already in one; the hub then spawns the user's server as a Swarm service with
DockerSpawner's SwarmSpawner, and the server answers through the hub's proxy. The test
leaves the swarm at the end only if the playbook created it.
"""

import fcntl
import json

import pytest
import requests

from vre_ansible_testlib import docker, make_deployment

pytestmark = [pytest.mark.docker, pytest.mark.slow]



def swarm_state() -> str:
    return docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()


@pytest.fixture(scope="module")
def swarm_lock():
    """One swarm test at a time on this engine: a concurrent session must not see our
    swarm as pre-existing, nor leave it under us."""
    with open("/tmp/vre-ansible-swarm.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, ansible_ready, current_user_image, swarm_lock):
    was_in_swarm = swarm_state() == "active"
    deployment = make_deployment(tmp_path_factory, "c", cluster=True, user_image=current_user_image)
    try:
        yield deployment
    finally:
        deployment.remove_created()
        if not was_in_swarm and swarm_state() == "active":
            left = docker("swarm", "leave", "--force")
            print("left the one-node swarm:", left.returncode, left.stderr.strip())


@pytest.fixture(scope="module")
def converged(cluster):
    first = cluster.playbook("site.yml")
    assert first.returncode == 0 and first.failed == 0, first.tail()
    second = cluster.playbook("site.yml")
    return first, second


def test_cluster_converges_into_a_swarm_and_again_changes_nothing(converged):
    first, second = converged
    assert swarm_state() == "active"
    assert second.returncode == 0 and second.failed == 0, second.tail()
    assert second.changed == 0, f"changed on the second run: {second.changed_tasks}"


def test_hub_joins_the_overlay_network(cluster, converged):
    network = f"{cluster.prefix}net"
    driver = docker("network", "inspect", "--format", "{{.Driver}} {{.Attachable}}", network)
    assert driver.stdout.split() == ["overlay", "true"]
    attached = docker("inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                      f"{cluster.prefix}hub")
    assert network in attached.stdout.split()


def test_swarm_spawner_starts_a_service_that_answers_through_the_hub(cluster, converged, hub_client_for):
    client = hub_client_for(cluster)
    name = client.ensure_user("swarmtester")["name"]
    service = f"{cluster.prefix}user-{name}"
    try:
        try:
            client.start_server(name, wait=240)
        except Exception:
            print(docker("logs", "--tail", "40", f"{cluster.prefix}hub").stderr)  # why it failed
            raise
        listed = docker("service", "inspect", "--format",
                        "{{.Spec.TaskTemplate.ContainerSpec.Image}} {{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}",
                        service)
        assert listed.returncode == 0, f"no Swarm service {service}: {listed.stderr}"
        image, memory = listed.stdout.split()
        assert image.startswith("dataterra-vre/user:") and int(memory) > 0
        mounts = docker("service", "inspect", "--format",
                        "{{range .Spec.TaskTemplate.ContainerSpec.Mounts}}{{.Type}}:{{.Source}}:{{.ReadOnly}} {{end}}",
                        service).stdout.split()
        assert f"volume:{cluster.prefix}home-{name}:false" in mounts
        assert f"volume:{cluster.prefix}dataref:true" in mounts
        assert not any("docker.sock" in m for m in mounts)

        # The single-host hardening, where Swarm has it (the role's README says where not).
        spec = json.loads(docker("service", "inspect", "--format",
                                 "{{json .Spec.TaskTemplate}}", service).stdout)
        assert spec["ContainerSpec"]["CapabilityDrop"] == ["ALL"]
        assert spec["Resources"]["Limits"]["Pids"] == 2048
        task = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}").stdout.split()[0]
        host = json.loads(docker("inspect", "--format", "{{json .HostConfig}}", task).stdout)
        assert host["CapDrop"] == ["ALL"] and host["PidsLimit"] == 2048
        no_new_privs = docker("exec", task, "grep", "NoNewPrivs", "/proc/self/status").stdout.split()[-1]
        api = docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
        if tuple(map(int, api.split("."))) >= (1, 44):
            assert spec["ContainerSpec"]["Privileges"]["NoNewPrivileges"] is True and no_new_privs == "1"
        else:  # the engine drops the field: the hub says so
            hub_log = docker("logs", f"{cluster.prefix}hub")
            assert "ignores no-new-privileges for Swarm services" in hub_log.stdout + hub_log.stderr
            print(f"Docker Engine API {api}: no-new-privileges not applied to Swarm tasks (NoNewPrivs {no_new_privs})")

        token = client.token_for(name, note="ansible swarm test")
        headers = {"Authorization": f"token {token}"}
        status = requests.get(f"{cluster.hub_url}/user/{name}/api/status", headers=headers, timeout=15)
        assert status.status_code == 200 and "started" in status.json()
        tls = requests.get(f"{cluster.https_url}/user/{name}/api/status", headers=headers,
                           verify=cluster.certificate, timeout=15)
        assert tls.status_code == 200
    finally:
        client.stop_server(name, wait=90)
    assert docker("service", "inspect", service).returncode != 0, "the service outlived its server"
