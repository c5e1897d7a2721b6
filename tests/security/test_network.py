"""Network isolation of user and job containers (issue 12, findings 2, 4, 6, 7, 8).

Every attack runs for real, as uid 1000 inside a real user container of a real hub
(``docker exec -u 1000``), and must fail. The hub fixture puts its containers on a network
of its own (vre_hub.network); with ``VRE_NETWORK=host`` it runs in the old host-network
mode, where these attacks succeed. Traffic goes only to loopback and to the network this
run created (its containers and its gateway); the link-local range (cloud metadata) is
never targeted: its drop rule is read from iptables instead.
"""

import json
import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlparse

import pytest
import requests

from vre_hub import naming, network
from vre_hub.client import HubAPIError
from vre_jobs.containers import LABEL_JOB, ContainerLimits, DockerBackend
from vre_testing import free_port, need

from hub.kernel_client import KernelSession  # tests/ is on sys.path (rootdir packages)

pytestmark = pytest.mark.docker

# Connects to each host:port given; prints one word per target (open, refused, timeout...).
PROBE = """
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, int(port)))
        print("open")
    except socket.timeout:
        print("timeout")
    except OSError as e:
        print("refused" if e.errno == 111 else f"errno{e.errno}")
    finally:
        s.close()
"""

# Subscribes to every iopub URL given for 12 s; prints what it received.
SUBSCRIBE = """
import sys, time, zmq
sub = zmq.Context().socket(zmq.SUB)
sub.setsockopt(zmq.SUBSCRIBE, b"")
for url in sys.argv[1:]:
    sub.connect(url)
end = time.time() + 12
while time.time() < end:
    if sub.poll(500):
        print(b"|".join(sub.recv_multipart()).decode(errors="replace"), flush=True)
"""


def in_container(container: str, code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run Python ``code`` as uid 1000 in ``container``."""
    return subprocess.run(
        ["docker", "exec", "-u", "1000", container, "python3", "-c", code, *args],
        capture_output=True, text=True, timeout=timeout,
    )


def probe(container: str, *targets: str) -> list[str]:
    result = in_container(container, PROBE, *targets)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def inspect(container: str) -> dict:
    out = subprocess.run(["docker", "inspect", container], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)[0]


def container_env(container: str) -> dict:
    return dict(e.split("=", 1) for e in inspect(container)["Config"]["Env"])


def server_url(hub, name: str) -> str:
    return f"{hub.url}/user/{quote(name, safe='')}"


def gateway(hub) -> str:
    assert hub.network != "host", "host-network mode: containers share the host's loopback"
    return network.inspect(hub.network).gateway


@pytest.fixture(scope="module")
def alice(hub):
    """The attacker: a user with a running server."""
    name, token = hub.new_user()
    hub.client.start_server(name)
    yield name, naming.container_name(name)
    hub.client.stop_server(name)


@pytest.fixture(scope="module")
def bob(hub):
    """The victim: a user with a running server."""
    name, token = hub.new_user()
    hub.client.start_server(name)
    yield name, token
    hub.client.stop_server(name)


@pytest.fixture
def http_server():
    """Factory: a real HTTP server of the host on (address, free port), shut down after."""
    servers = []

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"host secret")

        def log_message(self, *args):
            pass

    def start(address: str) -> int:
        server = ThreadingHTTPServer((address, 0), Hello)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_another_users_kernel_cannot_be_reached(hub, alice, bob):
    """Finding 2: alice subscribes to bob's kernel's iopub (the ports read from his connection
    file) at his container's address and at 127.0.0.1, while bob prints a secret."""
    attacker = alice[1]
    victim = naming.container_name(bob[0])
    secret = f"bob-secret-{os.urandom(4).hex()}"
    with KernelSession(server_url(hub, bob[0]), bob[1]) as kernel:
        runtime = in_container(victim, "from jupyter_core.paths import jupyter_runtime_dir; print(jupyter_runtime_dir())")
        path = f"{runtime.stdout.strip()}/kernel-{kernel.kernel_id}.json"
        connection = json.loads(subprocess.run(
            ["docker", "exec", "-u", "1000", victim, "cat", path], capture_output=True, text=True, check=True
        ).stdout)
        ports = [connection[k] for k in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")]
        addresses = ["127.0.0.1"] + [n["IPAddress"] for n in inspect(victim)["NetworkSettings"]["Networks"].values()
                                     if n.get("IPAddress")]
        targets = [f"{address}:{port}" for address in addresses for port in ports]
        listener = subprocess.Popen(
            ["docker", "exec", "-u", "1000", attacker, "python3", "-c", SUBSCRIBE,
             *(f"tcp://{a}:{connection['iopub_port']}" for a in addresses)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(3)  # let it connect
        printed = kernel.execute(f"import time\nfor i in range(6):\n    print({secret!r}, flush=True); time.sleep(1)")
        assert secret in printed["stdout"]  # bob's kernel did print it
        captured, errors = listener.communicate(timeout=60)
    assert listener.returncode == 0, errors
    assert secret not in captured, f"alice read bob's kernel output: {captured[:300]}"
    assert "open" not in probe(attacker, *targets), f"a port of bob's kernel is reachable: {targets}"


def test_host_services_and_proxy_api_are_unreachable(hub, alice, http_server):
    """Finding 6: from a container, only the hub API (and the jobs service) of the host answer:
    not the proxy API, not a loopback-only service, not a service on 0.0.0.0 (firewall)."""
    container = alice[1]
    loopback_only = http_server("127.0.0.1")
    all_interfaces = http_server("0.0.0.0")
    proxy_api = hub.process.proxy_api_port
    assert probe(container, f"127.0.0.1:{proxy_api}", f"127.0.0.1:{loopback_only}") == ["refused", "refused"]
    gw = gateway(hub)
    assert probe(container, f"{gw}:{proxy_api}", f"{gw}:{loopback_only}", f"{gw}:{all_interfaces}") == [
        "refused", "refused", "refused"
    ]
    # The host does answer on that last port (the firewall, not an absent service, refuses).
    assert requests.get(f"http://{gw}:{all_interfaces}/", timeout=5).text == "host secret"
    # Positive control: the hub API answers the server at the address it was given.
    answer = in_container(container, (
        "import os, urllib.request\n"
        "print(urllib.request.urlopen(os.environ['JUPYTERHUB_API_URL'] + '/', timeout=10).status)"
    ))
    assert answer.stdout.strip() == "200", answer.stderr
    assert urlparse(container_env(container)["JUPYTERHUB_API_URL"]).hostname == gw


def test_firewall_rules_are_installed(hub):
    """The host rules of the run's network, read from iptables (169.254.0.0/16 is never
    targeted: the rule that drops it is asserted instead)."""
    need(os.geteuid() == 0, "reading iptables needs root")
    net = network.inspect(hub.network)
    chain = f"VRE-{net.bridge}"

    def rules(name):
        return subprocess.run(["iptables", "-S", name], capture_output=True, text=True).stdout.splitlines()

    assert f"-A DOCKER-USER -d 169.254.0.0/16 -i {net.bridge} -j DROP" in rules("DOCKER-USER")
    # Before any ACCEPT: only other VRE networks' jumps (each matches its own bridge) may
    # come first — other hubs of the same run install theirs at the top too.
    jump = f"-A INPUT -i {net.bridge} -j {chain}"
    input_rules = rules("INPUT")[1:]
    assert jump in input_rules
    before = input_rules[: input_rules.index(jump)]
    assert all(rule.startswith("-A INPUT -i br-") and " -j VRE-br-" in rule for rule in before), before
    open_ports = sorted({hub.process.api_port, hub.process.jobs_port})
    assert rules(chain) == [
        f"-N {chain}",
        f"-A {chain} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        *(f"-A {chain} -d {net.gateway}/32 -p tcp -m tcp --dport {port} -j ACCEPT" for port in open_ports),
        f"-A {chain} -j REJECT --reject-with icmp-port-unreachable",
    ]


def test_a_port_bound_in_a_container_is_not_published(hub, alice):
    """Finding 6: a process in a container listening on 0.0.0.0:P is not on the host's port P."""
    container = alice[1]
    port = free_port()
    subprocess.run(
        ["docker", "exec", "-d", "-u", "1000", container, "python3", "-c",
         f"import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', {port}))\ns.listen()\ntime.sleep(20)"],
        check=True,
    )
    deadline = time.monotonic() + 10
    while probe(container, f"127.0.0.1:{port}") != ["open"]:  # it does listen, in the container
        assert time.monotonic() < deadline, "the listener in the container never started"
        time.sleep(0.5)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
    attrs = inspect(container)
    assert not attrs["HostConfig"]["PortBindings"]
    assert all(not bound for bound in (attrs["NetworkSettings"]["Ports"] or {}).values())
    assert attrs["HostConfig"]["NetworkMode"] == hub.network


def test_jobs_url_survives_a_restart_and_cannot_be_squatted(hub, alice):
    """Finding 4: while the hub is down (`vre restart`), a user binds the jobs service's
    address in a container; it must fail, and the running server's VRE_JOBS_URL must reach
    the real service again once the hub is back."""
    container = alice[1]
    url = urlparse(container_env(container)["VRE_JOBS_URL"])
    hub.process.stop()
    try:
        squat = in_container(container, (
            "import socket, sys\n"
            "s = socket.socket()\n"
            "try:\n    s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); print('bound')\n"
            "except OSError as e:\n    print('errno', e.errno)"
        ), url.hostname, str(url.port))
        assert squat.stdout.split() == ["errno", "99"], squat  # EADDRNOTAVAIL: not an address of the container
    finally:
        hub.process.start()
    deadline = time.monotonic() + 90
    while True:
        listed = subprocess.run(
            ["docker", "exec", "-u", "1000", container, "vre", "jobs", "list"], capture_output=True, text=True
        )
        if listed.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert listed.returncode == 0, listed.stderr + listed.stdout


def test_group_mount_is_gone_after_leaving_the_group(hub):
    """Finding 8: per-start mounts are not kept in the spawner's configuration. JupyterHub
    keeps a spawner whose start failed, so: start (mount present), a start that fails (the
    "starved" profile), leave the group, start again: the group's mount must be gone."""
    group = f"{hub.prefix}-leave"
    name, _ = hub.new_user()

    def work_mounts():  # the user is in no other group
        return [m["Destination"] for m in inspect(naming.container_name(name))["Mounts"]
                if m["Destination"].startswith("/data/work/")]

    assert hub.api("POST", f"/groups/{group}", json={"users": [name]}).status_code == 201
    try:
        hub.client.start_server(name)
        assert len(work_mounts()) == 1
        hub.client.stop_server(name)
        with pytest.raises(HubAPIError):
            hub.client.start_server(name, {"profile": "starved"})
        hub.client.wait_server(name, ready=False, timeout=60)
        assert hub.api("DELETE", f"/groups/{group}/users", json={"users": [name]}).status_code == 200
        hub.client.start_server(name)
        assert work_mounts() == []
        hub.client.stop_server(name)
    finally:
        hub.api("DELETE", f"/groups/{group}")
        subprocess.run(["docker", "volume", "rm", "-f", naming.work_volume_name(group)], capture_output=True)


def test_swap_equals_the_memory_limit_for_servers_and_jobs(hub, alice, user_image):
    """Finding 7: no swap beyond the limit; job containers are on the users' network too."""
    host_config = inspect(alice[1])["HostConfig"]
    assert host_config["Memory"] > 0 and host_config["MemorySwap"] == host_config["Memory"]

    name, token = hub.new_user()
    notebook = Path(__file__).parents[1] / "jobs" / "notebooks" / "sleep.ipynb"
    backend = DockerBackend(user_image, ContainerLimits("1G", 1.0, "1000:100", "none"))
    try:
        backend.write_files(naming.home_volume_name(name), "work", {"sleep.ipynb": notebook.read_bytes()})
    finally:
        backend.expire_scratch(all_=True)
    jobs = f"{hub.url}/services/jobs/api"
    headers = {"Authorization": f"token {token}"}
    deadline = time.monotonic() + 90
    while True:  # the service may still be starting (or restarting after the test above)
        submitted = requests.post(f"{jobs}/jobs", json={"notebook": "work/sleep.ipynb", "parameters": {"seconds": 60},
                                                        "timeout": 120}, headers=headers, timeout=30)
        if submitted.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["jobs"][0]["id"]
    try:
        deadline = time.monotonic() + 90
        while not (found := subprocess.run(["docker", "ps", "-q", "--filter", f"label={LABEL_JOB}={job_id}"],
                                           capture_output=True, text=True).stdout.split()):
            assert time.monotonic() < deadline, "the job's container never ran"
            time.sleep(0.5)
        job = inspect(found[0])["HostConfig"]
        assert job["Memory"] > 0 and job["MemorySwap"] == job["Memory"]
        assert job["NetworkMode"] == hub.network
    finally:
        requests.post(f"{jobs}/jobs/{job_id}/cancel", headers=headers, timeout=30)


def test_internal_switch_keeps_the_hub_reachable_and_removes_the_way_out(user_image, http_server):
    """VRE_NETWORK_INTERNAL=1: a container still reaches the gateway's allowed port (and no
    other), and Docker drops whatever it sends out of the network (the rule is read from
    iptables: nothing is sent outside the run's network)."""
    need(os.geteuid() == 0, "the firewall rules need root")
    name = f"vre-test-int-{os.urandom(3).hex()}"
    try:
        net = network.setup(name, [], internal=True, log=print)
        assert net.internal and not net.icc
        port = http_server(net.gateway)  # a stand-in for the hub API, on the gateway
        network.install_firewall(net, [port])
        other = http_server(net.gateway)  # not an allowed port
        result = subprocess.run(
            ["docker", "run", "--rm", "--network", name, "-u", "1000", "--entrypoint", "python3", user_image,
             "-c", PROBE, f"{net.gateway}:{port}", f"{net.gateway}:{other}"],
            capture_output=True, text=True, timeout=120,
        )
        assert result.stdout.split() == ["open", "refused"], result.stderr
        rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout.splitlines()
        assert f"-A DOCKER-ISOLATION-STAGE-1 ! -d {net.subnet} -i {net.bridge} -j DROP" in rules
    finally:
        network.remove(name)
