"""Fixtures of the Dask Gateway tests: the real one-node Slurm cluster, unprivileged accounts,
and hubs started as `vre up` starts them with the gateway service turned on (one per backend).

Each gateway user is a hub user and a Unix account of the same name (the backends start
processes or Slurm jobs as that account); clients talk to the gateway from this host over
loopback, with the user's hub token, as `Gateway()` does in a server.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dask
import pytest
import requests
from slurm_cluster import slurm_cluster, unix_user  # noqa: F401  (fixtures)
from vre_core.accounts import set_password
from vre_core.hub import HubClient
from vre_core.state import StateDir
from vre_hub import engine, network
from vre_testing import RunningHub, free_port, need, start_hub

GATEWAY = "/services/dask-gateway"


@dataclass(kw_only=True)
class GatewayHub(RunningHub):
    tcp_address: str
    make_account: object

    @property
    def url(self) -> str:
        return self.process.url + GATEWAY

    def new_user(self, password: str = "") -> tuple[str, str]:
        """A hub user with a Unix account of the same name (and ``password`` to log in to the
        hub, if given); returns (name, hub API token)."""
        name = f"gw{secrets.token_hex(3)}"
        self.make_account(name)
        self.client.ensure_user(name)
        if password:
            set_password(name, password, self.process.state.db_url, rounds=4)
        self.users.append(name)
        return name, self.client.token_for(name, note="gateway tests")

    def gateway(self, token: str):
        """A client of the gateway as ``token``'s user (closed after the test)."""
        from dask_gateway import Gateway, JupyterHubAuth

        gateway = Gateway(
            address=self.url, proxy_address=f"tls://{self.tcp_address}", auth=JupyterHubAuth(api_token=token)
        )
        OPENED.append(gateway)
        return gateway


# Each Gateway runs an event loop thread; under load, many of them make distributed's loop
# start time out (10 s): close them after each test.
OPENED: list = []
#: What a distributed Client sets in dask's configuration when it becomes the default.
SCHEDULER_KEYS = ("scheduler", "shuffle")


@pytest.fixture(autouse=True)
def _close_gateways():
    # A distributed Client makes itself dask's default scheduler for the whole process;
    # restore dask's configuration so later tests (notebooks) compute locally again.
    saved = {key: dask.config.config.get(key) for key in SCHEDULER_KEYS}
    yield
    while OPENED:
        OPENED.pop().close()
    for key, value in saved.items():
        if value is None:
            dask.config.config.pop(key, None)
        else:
            dask.config.config[key] = value


@pytest.fixture(scope="session")
def python_for_all():
    with python_executable_by_all():
        yield


@contextlib.contextmanager
def python_executable_by_all():
    """The gateway's Python made executable by the test accounts while sessions need it.

    Schedulers and workers run the gateway's own environment as the user; where its
    interpreter lies under a 0700 folder (pyenv in /root), the folders on the way get o+x
    (traverse, not list). Sessions running at once share one record (under a lock): the
    last one to end puts the modes back."""
    import fcntl
    import json

    record = Path(tempfile.gettempdir()) / "vre-test-python-for-all.json"
    with open(record.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = json.loads(record.read_text()) if record.exists() else {"sessions": 0, "changed": []}
        for folder in Path(os.path.realpath(sys.executable)).parents:
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                folder.chmod(mode | stat.S_IXOTH)
                state["changed"].append([str(folder), stat.S_IMODE(mode)])
        state["sessions"] += 1
        record.write_text(json.dumps(state))
    try:
        yield
    finally:
        with open(record.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = json.loads(record.read_text())
            state["sessions"] -= 1
            if state["sessions"] <= 0:
                for folder, mode in state["changed"]:
                    os.chmod(folder, mode)
                record.unlink()
            else:
                record.write_text(json.dumps(state))


def _start(state_path: Path, make_account, env: dict):
    need(os.geteuid() == 0, "the gateway's backends start processes as other users: needs root")
    state = StateDir(state_path)
    tcp_port = free_port()
    process = start_hub(state, {
        "VRE_PROXY_COMMAND": engine.ensure_proxy(),
        "VRE_USER_IMAGE": os.environ.get("VRE_TEST_IMAGE", "dataterra-vre/user:0.1.0"),
        # Its own ports (the hub's users' network gateway is the address, as in `vre up`).
        "VRE_GATEWAY_PORT": str(free_port()),
        "VRE_GATEWAY_TCP_PORT": str(tcp_port),
        **env,
    })
    tcp = f"{network.hub_address(process.env['VRE_NETWORK'])}:{tcp_port}"
    # The hub is up before its services: wait for the gateway behind the hub's proxy.
    deadline = time.monotonic() + 60
    while requests.get(f"{process.url}{GATEWAY}/api/health", timeout=10).status_code != 200:
        if time.monotonic() > deadline:
            process.stop()
            raise RuntimeError(f"the gateway did not answer in 60 s; see {process.log_file}")
        time.sleep(0.5)
    return GatewayHub(process, HubClient(process.url, state.admin_token), tcp_address=tcp, make_account=make_account)


@contextlib.contextmanager
def gateway_hub(state_path: Path, make_account, env: dict):
    """A hub with its gateway service (``env``: the VRE_GATEWAY_* settings), stopped after."""
    hub = _start(state_path, make_account, env)
    try:
        yield hub
    finally:
        _stop(hub)


def _stop(hub: GatewayHub):
    for name in hub.users:  # clusters left by a failed test
        try:
            gateway = hub.gateway(hub.client.token_for(name, note="cleanup"))
            for report in gateway.list_clusters():
                gateway.stop_cluster(report.name)
        except Exception as error:
            print(f"[gateway] cleanup of {name}: {error}")
    hub.stop()  # servers a test started, homes the docker backend mounted


def slurm_env(cluster) -> dict:
    """Gateway settings for the test Slurm cluster (one node: schedulers on loopback)."""
    return {"VRE_GATEWAY_BACKEND": "slurm", "VRE_GATEWAY_LISTEN_HOST": "127.0.0.1",
            "SLURM_CONF": str(cluster.conf), "VRE_GATEWAY_MAX_WORKERS": "4"}


@pytest.fixture(scope="session")
def slurm_gateway(tmp_path_factory, slurm_cluster, unix_user, python_for_all):  # noqa: F811
    """A hub whose gateway runs clusters as Slurm jobs on the test cluster."""
    with gateway_hub(tmp_path_factory.mktemp("hub-slurm"), unix_user, slurm_env(slurm_cluster)) as hub:
        yield hub


@pytest.fixture(scope="session")
def local_gateway(tmp_path_factory, unix_user, python_for_all):  # noqa: F811
    """A hub whose gateway runs clusters as local processes of the user's account."""
    env = {"VRE_GATEWAY_BACKEND": "local", "VRE_GATEWAY_MAX_CLUSTERS": "1", "VRE_GATEWAY_MAX_WORKERS": "2"}
    with gateway_hub(tmp_path_factory.mktemp("hub-local"), unix_user, env) as hub:
        yield hub


@pytest.fixture(scope="session")
def docker_gateway(tmp_path_factory, user_image, unix_user):  # noqa: F811
    """A hub whose gateway runs clusters as containers of the user image, on its users'
    network (schedulers reach the gateway through the port the launcher opens)."""
    env = {"VRE_GATEWAY_BACKEND": "docker", "VRE_USER_IMAGE": user_image, "VRE_GATEWAY_MAX_WORKERS": "2",
           "VRE_GATEWAY_SERVER_CHECK_PERIOD": "2"}
    with gateway_hub(tmp_path_factory.mktemp("hub-docker"), unix_user, env) as hub:
        yield hub


def pytest_collection_modifyitems(items):
    # dask-gateway's client can block in a read with no timeout of its own (seen under heavy
    # load); the default signal-based timeout cannot interrupt it there, so a hung gateway
    # test must fail after 10 minutes by the thread method instead of holding the whole run.
    # (A module may give a longer limit: the notebook runs.)
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            marker = item.get_closest_marker("timeout")
            seconds = max(600, marker.args[0] if marker and marker.args else 0)
            item.add_marker(pytest.mark.timeout(seconds, method="thread"))
