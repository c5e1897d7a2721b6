"""Hub benchmark: server start latency and idle memory, VRE vs a stock DockerSpawner hub.

For each hub, starts 1, then 10, then 30 servers at once through the REST API and times
"start server" -> "server answers through the proxy" (/user/<name>/api/status with the
user's token). Then reads each idle server's memory with `docker stats`. The baseline is a
stock DockerSpawner (host networking, as its docs show) with a minimal JupyterLab image
(jupyterhub + jupyterlab only) built on the same base, measured in the same run.

    .venv/bin/python benchmarks/bench_hub.py                 # 1, 10, 30 users, both hubs
    .venv/bin/python benchmarks/bench_hub.py --sizes 1 5     # quicker
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import requests

from vre_hub import engine, images, naming, network
from vre_hub.client import HubClient
from vre_hub.launcher import HubProcess
from vre_hub.state import StateDir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from vre_testing import free_port  # noqa: E402

MINIMAL_IMAGE = "dataterra-vre/bench-minimal:latest"
TARGETS = {"single_start_s": 2.5, "idle_mib": 150}

STOCK_CONFIG = textwrap.dedent(
    """
    import os
    from dockerspawner import DockerSpawner
    from jupyterhub.utils import random_port

    class HostDockerSpawner(DockerSpawner):  # the override DockerSpawner's docs give for host networking
        async def start(self):
            self.port = random_port()
            return await super().start()

        async def get_ip_and_port(self):
            return "127.0.0.1", self.port

    c = get_config()
    state = os.environ["VRE_STATE_DIR"]
    c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['VRE_HUB_PORT']}"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ['VRE_HUB_API_PORT']}"
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['VRE_PROXY_API_PORT']}"
    c.ConfigurableHTTPProxy.command = [os.environ["VRE_PROXY_COMMAND"]]
    c.JupyterHub.db_url = f"sqlite:///{state}/jupyterhub.sqlite"
    c.JupyterHub.cookie_secret_file = f"{state}/jupyterhub_cookie_secret"
    c.JupyterHub.pid_file = f"{state}/jupyterhub.pid"
    c.JupyterHub.spawner_class = HostDockerSpawner
    c.DockerSpawner.image = os.environ["VRE_USER_IMAGE"]
    c.DockerSpawner.network_name = "host"
    c.DockerSpawner.use_internal_ip = True
    c.DockerSpawner.ip = "127.0.0.1"
    c.DockerSpawner.remove = True
    c.DockerSpawner.name_template = "bench-stock-{username}"
    c.DockerSpawner.cmd = ["jupyterhub-singleuser"]
    c.DockerSpawner.http_timeout = 120  # as the VRE hub
    c.JupyterHub.concurrent_spawn_limit = 100
    c.JupyterHub.authenticator_class = "dummy"
    c.Authenticator.allow_all = True
    c.JupyterHub.services = [{"name": "bench", "api_token": os.environ["BENCH_TOKEN"]}]
    c.JupyterHub.load_roles = [{"name": "admin", "services": ["bench"]}]
    """
)

MINIMAL_DOCKERFILE = textwrap.dedent(
    """
    FROM {base}
    COPY build-ca.crt /tmp/build-ca.crt
    RUN python3 -m venv /opt/venv && PIP_CERT=/tmp/build-ca.crt /opt/venv/bin/pip install -q \\
        jupyterhub==5.5.4 jupyterlab==4.6.6 && useradd -m -u 1000 -g 100 jovyan
    ENV PATH=/opt/venv/bin:$PATH
    USER 1000
    WORKDIR /home/jovyan
    """
)


def build_minimal_image():
    if images.image_exists(MINIMAL_IMAGE):
        return MINIMAL_IMAGE
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "Dockerfile").write_text(MINIMAL_DOCKERFILE.format(base=images.resolve_base("auto")))
        (Path(tmp) / "build-ca.crt").write_bytes(images.HOST_CA_BUNDLE.read_bytes())
        subprocess.run(["docker", "build", "-q", "--network", "host", "-t", MINIMAL_IMAGE, tmp], check=True)
    return MINIMAL_IMAGE


def start_hub(kind: str, state_dir: Path, image: str, proxy: str) -> tuple[HubProcess, str]:
    state = StateDir(state_dir)
    env = {"VRE_PROXY_COMMAND": proxy, "VRE_USER_IMAGE": image, "VRE_CONCURRENT_SPAWN_LIMIT": "100"}
    # The VRE hub on a users' network of its own (removed after, in run()), so that its
    # firewall rules never replace those of an operator's hub; the stock hub uses the host's.
    env["VRE_NETWORK"] = "host" if kind == "stock" else f"vre-bench-{os.getpid()}"
    if kind == "stock":
        import secrets

        token = secrets.token_hex(16)
        config = state_dir / "stock_config.py"
        state_dir.mkdir(parents=True, exist_ok=True)
        config.write_text(STOCK_CONFIG)
        env["BENCH_TOKEN"] = token
        hub = HubProcess(state, port=free_port(), api_port=free_port(), proxy_api_port=free_port(), env=env)
        hub.config_file = config
        return hub.start(), token
    hub = HubProcess(state, port=free_port(), api_port=free_port(), proxy_api_port=free_port(), env=env)
    return hub.start(), state.admin_token


def time_starts(hub: HubProcess, client: HubClient, names: list[str]) -> list[float | None]:
    tokens = {name: client.token_for(client.ensure_user(name)["name"]) for name in names}
    results: dict[str, float | None] = {}
    barrier = threading.Barrier(len(names))

    def one(name):
        barrier.wait()
        started = time.monotonic()
        try:
            # The hub answers 202 after 10 s of a slow spawn; a loaded hub can take longer.
            client.request("POST", client.user_path(name) + "/server", json={}, timeout=180)
            deadline = started + 300
            while time.monotonic() < deadline:
                r = requests.get(
                    f"{hub.url}/user/{name}/api/status",
                    headers={"Authorization": f"token {tokens[name]}"},
                    timeout=10,
                    allow_redirects=False,
                )
                if r.status_code == 200:
                    results[name] = time.monotonic() - started
                    return
                time.sleep(0.05)
            results[name] = None
        except Exception as error:  # counted as a failure
            print(f"  {name}: {error}")
            results[name] = None

    threads = [threading.Thread(target=one, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results[n] for n in names]


def idle_memory_mib(containers: list[str]) -> list[float]:
    time.sleep(10)  # let servers settle
    out = subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{json .}}", *containers], capture_output=True, text=True
    ).stdout
    values = []
    for line in out.splitlines():
        usage = json.loads(line)["MemUsage"].split("/")[0].strip()
        number, unit = float(usage[:-3]), usage[-3:]
        values.append(number * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit])
    return values


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run(kind: str, image: str, sizes: list[int], proxy: str) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"bench-hub-{kind}-") as tmp:
        hub, token = start_hub(kind, Path(tmp), image, proxy)
        client = HubClient(hub.url, token)
        report = {}
        try:
            for size in sizes:
                names = [f"bench{kind}{size}-{i:02d}" for i in range(size)]
                times = time_starts(hub, client, names)
                ok = [t for t in times if t is not None]
                containers = [
                    naming.container_name(n) if kind == "vre" else f"bench-stock-{naming.escape_name(n)}"
                    for n in names
                ]
                memory = idle_memory_mib(containers)
                report[size] = {
                    "p50": statistics.median(ok) if ok else None,
                    "p95": pct(ok, 0.95) if ok else None,
                    "max": max(ok) if ok else None,
                    "failures": len(times) - len(ok),
                    "idle_mib": statistics.median(memory) if memory else None,
                }
                print(f"  {kind:5s} {size:3d} users: " + ", ".join(
                    f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in report[size].items()))
                for name in names:
                    client.request("DELETE", client.user_path(name) + "/server", check=False)
                for name in names:
                    try:
                        client.wait_server(name, ready=False, timeout=120)
                    except Exception:
                        pass
        finally:
            hub.stop()
            for size in sizes:
                for i in range(size):
                    name = f"bench{kind}{size}-{i:02d}"
                    subprocess.run(["docker", "rm", "-f", naming.container_name(name),
                                    f"bench-stock-{naming.escape_name(name)}"],
                                   capture_output=True)
                    subprocess.run(["docker", "volume", "rm", "-f", naming.home_volume_name(name)], capture_output=True)
            if hub.env["VRE_NETWORK"] != network.HOST:
                network.remove(hub.env["VRE_NETWORK"])
        return report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 30])
    parser.add_argument("--skip-stock", action="store_true")
    args = parser.parse_args()
    engine.ensure_docker_engine()
    proxy = engine.ensure_proxy()
    vre_image = images.build_user_image(log=lambda m: print(f"[image] {m}"))
    print("VRE hub (VRESpawner, user image):")
    vre = run("vre", vre_image, args.sizes, proxy)
    if args.skip_stock:
        return
    print("stock hub (DockerSpawner, minimal JupyterLab image):")
    stock = run("stock", build_minimal_image(), args.sizes, proxy)
    print("\nsummary (VRE / stock ratios; < 1 means VRE is faster or lighter):")
    fig = lambda value, spec: "n/a" if value is None else format(value, spec)  # all failed: no figure
    for size in args.sizes:
        v, s = vre[size], stock[size]
        ratio = lambda key: f"{v[key] / s[key]:.2f}" if v[key] and s[key] else "n/a"
        print(f"  {size:3d} users: p50 {fig(v['p50'], '.2f')}s vs {fig(s['p50'], '.2f')}s (x{ratio('p50')}), "
              f"p95 x{ratio('p95')}, failures {v['failures']}/{s['failures']}, "
              f"idle {fig(v['idle_mib'], '.0f')} vs {fig(s['idle_mib'], '.0f')} MiB (x{ratio('idle_mib')})")
    print(f"targets: single start <= {TARGETS['single_start_s']} s (VRE p50 at {args.sizes[0]} user(s): {fig(vre[args.sizes[0]]['p50'], '.2f')} s), "
          f"idle <= {TARGETS['idle_mib']} MiB")


if __name__ == "__main__":
    main()
