"""A real hub spawning real containers: kernels, identity, storage, limits, isolation."""

import json
import subprocess
from urllib.parse import quote

import pytest
import requests

from vre_hub import naming

from .kernel_client import KernelSession

pytestmark = pytest.mark.docker


def inspect(container: str) -> dict:
    out = subprocess.run(["docker", "inspect", container], capture_output=True, text=True)
    assert out.returncode == 0, f"no container {container}: {out.stderr}"
    return json.loads(out.stdout)[0]


def container_exists(container: str) -> bool:
    return subprocess.run(["docker", "inspect", container], capture_output=True).returncode == 0


def server_url(hub, name: str) -> str:
    return f"{hub.url}/user/{quote(name, safe='')}"


@pytest.fixture(scope="module")
def alice(hub):
    """A user whose standard server is running."""
    name, token = hub.new_user()
    hub.client.start_server(name, {"profile": "standard"})
    return name, token


def test_kernel_executes_code_as_jovyan(hub, alice):
    name, token = alice
    with KernelSession(server_url(hub, name), token) as kernel:
        result = kernel.execute("import os, pwd; print(os.getuid(), pwd.getpwuid(os.getuid()).pw_name, 6 * 7)")
    assert result["status"] == "ok", result
    assert result["stdout"].split() == ["1000", "jovyan", "42"]
    assert inspect(naming.container_name(name))["Config"]["User"].split(":")[0] in {"1000", "jovyan"}


def test_server_answers_through_proxy_with_lab(hub, alice):
    name, token = alice
    response = requests.get(f"{server_url(hub, name)}/lab", headers={"Authorization": f"token {token}"}, timeout=30)
    assert response.status_code == 200
    assert "JupyterLab" in response.text


def test_limits_are_set_on_the_container(hub, alice):
    host_config = inspect(naming.container_name(alice[0]))["HostConfig"]
    assert host_config["Memory"] == 2 * 1024**3  # standard profile: 2G
    assert host_config["CpuQuota"] == 100_000 and host_config["CpuPeriod"] == 100_000  # 1 CPU
    assert "no-new-privileges" in host_config["SecurityOpt"]
    assert host_config["CapDrop"] == ["ALL"]


def test_docker_socket_and_hub_database_are_invisible(hub, alice):
    name, token = alice
    mounts = inspect(naming.container_name(name))["Mounts"]
    assert not any("docker.sock" in (m.get("Source") or "") for m in mounts)
    assert not any(str(hub.state_dir) in (m.get("Source") or "") for m in mounts)
    code = (
        "import os, subprocess\n"
        f"print(os.path.exists('/var/run/docker.sock'), os.path.exists('/run/docker.sock'), "
        f"os.path.exists({str(hub.state_dir / 'jupyterhub.sqlite')!r}), "
        "len(subprocess.run(['find', '/', '-xdev', '-name', '*.sqlite'], capture_output=True, text=True).stdout.split()))"
    )
    with KernelSession(server_url(hub, name), token) as kernel:
        result = kernel.execute(code, timeout=120)
    assert result["stdout"].split() == ["False", "False", "False", "0"], result


def test_dataref_is_read_only_and_home_is_writable(hub, alice):
    name, token = alice
    code = (
        "import os\n"
        "try:\n    open('/data/ref/probe', 'w')\n    print('ref-writable')\n"
        "except OSError as e:\n    print('ref-readonly', e.errno)\n"
        "open(os.path.expanduser('~/probe.txt'), 'w').write('ok')\n"
        "print('home-writable')"
    )
    with KernelSession(server_url(hub, name), token) as kernel:
        result = kernel.execute(code)
    assert result["stdout"].split() == ["ref-readonly", "30", "home-writable"], result  # 30 = EROFS
    mount = next(m for m in inspect(naming.container_name(name))["Mounts"] if m["Destination"] == "/data/ref")
    assert mount["RW"] is False


def test_home_survives_stop_start_and_container_removal(hub):
    name, token = hub.new_user()
    hub.client.start_server(name)
    with KernelSession(server_url(hub, name), token) as kernel:
        kernel.execute("open('/home/jovyan/keep.txt', 'w').write('precious results')")
    hub.client.stop_server(name)
    assert not container_exists(naming.container_name(name)), "container should be removed on stop"
    hub.client.start_server(name)
    with KernelSession(server_url(hub, name), token) as kernel:
        result = kernel.execute("print(open('/home/jovyan/keep.txt').read())")
    assert result["stdout"].strip() == "precious results"
    hub.client.stop_server(name)


def test_shipped_notebooks_and_catalog_are_in_the_container(hub, alice):
    name, token = alice
    code = "import os; print(os.path.isdir(os.path.expanduser('~/notebooks')), os.path.exists(os.environ['VRE_CATALOG']))"
    with KernelSession(server_url(hub, name), token) as kernel:
        result = kernel.execute(code)
    assert result["stdout"].split() == ["True", "True"], result


def test_group_members_share_a_work_volume(hub):
    group = f"{hub.prefix}-grp"
    (a, token_a), (b, token_b) = hub.new_user(), hub.new_user()
    assert hub.api("POST", f"/groups/{group}", json={"users": [a, b]}).status_code == 201
    try:
        hub.client.start_server(a)
        hub.client.start_server(b)
        path = f"/data/work/{group}/shared.txt"  # the group name itself (the user-name rule)
        with KernelSession(server_url(hub, a), token_a) as kernel:
            assert kernel.execute(f"open({path!r}, 'w').write('from a')")["status"] == "ok"
        with KernelSession(server_url(hub, b), token_b) as kernel:
            assert kernel.execute(f"print(open({path!r}).read())")["stdout"].strip() == "from a"
    finally:
        hub.client.stop_server(a)
        hub.client.stop_server(b)
        hub.api("DELETE", f"/groups/{group}")
        subprocess.run(["docker", "volume", "rm", "-f", naming.work_volume_name(group)], capture_output=True)


def test_large_memory_profile_sets_larger_limits(hub):
    name, _ = hub.new_user()
    hub.client.start_server(name, {"profile": "large-memory"})
    host_config = inspect(naming.container_name(name))["HostConfig"]
    assert host_config["Memory"] == 8 * 1024**3
    assert host_config["CpuQuota"] == 200_000
    hub.client.stop_server(name)


def test_process_over_the_memory_limit_is_killed_and_files_stay(hub):
    """Over the profile's memory limit the kernel's child is OOM-killed; server and files stay."""
    name, token = hub.new_user()
    hub.client.start_server(name, {"profile": "tiny"})
    assert inspect(naming.container_name(name))["HostConfig"]["Memory"] == 400 * 1024**2
    url = server_url(hub, name)
    try:
        with KernelSession(url, token) as kernel:
            kernel.execute("open('/home/jovyan/before-oom.txt', 'w').write('kept')")
            result = kernel.execute(
                "import subprocess, sys\n"
                "r = subprocess.run([sys.executable, '-c', 'x = bytearray(1024 * 2**20)'])\n"  # 1 GiB > 400 MiB
                "print(r.returncode)",
                timeout=120,
            )
            assert result["stdout"].strip() == "-9", result  # SIGKILL from the kernel's OOM killer
            after = kernel.execute("print(open('/home/jovyan/before-oom.txt').read())")
            assert after["stdout"].strip() == "kept"
        headers = {"Authorization": f"token {token}"}
        assert requests.get(f"{url}/api/status", headers=headers, timeout=10).status_code == 200
    finally:
        hub.client.stop_server(name)
