"""Helpers of the Ansible tests: a deployment of ansible/site.yml on this machine.

The playbook runs through a local connection against this host's real Docker engine.
Everything a deployment creates carries its own name prefix (``vre-ansible-s<random>-``
for the single host, ``vre-ansible-c<random>-`` for the swarm) and free loopback ports, so
it never touches the lead's hub (8000), other tests or a concurrent run of these tests;
teardown removes exactly those containers, services, volumes, networks, its hub image tag
and its folder. The proxy image (Caddy, independent of the source) is kept as a cache,
like the user image.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from vre_hub import network
from vre_testing import free_port

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
VENV_BIN = Path(sys.executable).parent
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)"
)


def docker(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


@dataclass
class PlaybookRun:
    """One ansible-playbook run: exit code, output, PLAY RECAP counts, changed tasks."""

    returncode: int
    output: str
    seconds: float
    recap: dict = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(host["changed"] for host in self.recap.values())

    @property
    def failed(self) -> int:
        return sum(host["failed"] + host["unreachable"] for host in self.recap.values())

    @property
    def changed_tasks(self) -> list[str]:
        """Names of the tasks reported ``changed`` (from the default callback's output)."""
        tasks, current = [], None
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                current = line[line.index("[") + 1 : line.rindex("]")]
            elif line.startswith("changed:") and current:
                tasks.append(current)
        return tasks

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


@dataclass
class Deployment:
    """A deployment of site.yml on this host under ``prefix``, in ``root``."""

    prefix: str
    root: Path
    settings: dict
    cluster: bool = False

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yml"

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.settings['vre_hub_port']}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.settings['reverse_proxy_https_port']}"

    @property
    def certificate(self) -> Path:
        return self.root / "vre" / "proxy" / "tls" / "cert.pem"

    @property
    def state_dir(self) -> Path:
        return self.root / "vre" / "state"

    @property
    def admin_token(self) -> str:
        return (self.state_dir / "admin_token").read_text().strip()

    def write_inventory(self):
        self.root.mkdir(parents=True, exist_ok=True)
        host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        inventory = {
            "all": {
                "children": {
                    "vre_nodes": {
                        "children": {
                            "vre_hub": {"hosts": {"localhost": host}},
                            "vre_workers": {"hosts": {}},
                        }
                    }
                },
                "vars": self.settings,
            }
        }
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))

    def playbook(self, name: str = "site.yml", *extra: str, timeout: float = 1800) -> PlaybookRun:
        env = dict(os.environ)
        env.update(
            ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            ANSIBLE_LOCAL_TEMP=str(self.root / "ansible-tmp"),
            ANSIBLE_REMOTE_TEMP=str(self.root / "ansible-tmp"),
            TMPDIR=str(self.root),  # where the source tarball is packed
            PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
        )
        command = [str(VENV_BIN / "ansible-playbook"), "-i", str(self.inventory), name, *extra]
        print("$", " ".join(command))
        started = time.monotonic()
        result = subprocess.run(
            command, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=timeout
        )
        run = PlaybookRun(result.returncode, result.stdout + result.stderr, time.monotonic() - started)
        in_recap = False
        for line in result.stdout.splitlines():
            if line.startswith("PLAY RECAP"):
                in_recap = True
            elif in_recap and (match := RECAP.match(line)):
                run.recap[match["host"]] = {k: int(v) for k, v in match.groupdict().items() if k != "host"}
        print(f"{name}: rc={run.returncode} in {run.seconds:.0f} s, recap {json.dumps(run.recap)}")
        return run

    # -- teardown -------------------------------------------------------------------

    def remove_created(self):
        """Remove what this deployment created, and nothing else (names carry the prefix)."""
        services = docker("service", "ls", "--format", "{{.Name}}", "--filter", f"name={self.prefix}")
        for name in services.stdout.split():
            if name.startswith(self.prefix):
                docker("service", "rm", name)
        containers = docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"name={self.prefix}")
        for name in containers.stdout.split():
            if name.startswith(self.prefix):
                docker("rm", "-f", name)
        # Service tasks' containers go away shortly after their service.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"name={self.prefix}").stdout
            if not left.strip():
                break
            time.sleep(1)
        volumes = docker("volume", "ls", "--format", "{{.Name}}", "--filter", f"name={self.prefix}")
        for name in volumes.stdout.split():
            if name.startswith(self.prefix):
                docker("volume", "rm", "-f", name)
        networks = docker("network", "ls", "--format", "{{.Name}}", "--filter", f"name={self.prefix}")
        for name in networks.stdout.split():
            if name.startswith(self.prefix):
                network.remove(name)  # and its host firewall rules
        docker("rmi", self.settings["vre_hub_image"])
        docker("rmi", self.settings["vre_hub_user_image"])  # a tag; a copy only if rebuilt
        shutil.rmtree(self.root, ignore_errors=True)


def deployment_settings(prefix: str, root: Path, ports: dict, cluster: bool) -> dict:
    """Inventory variables of a test deployment: own prefix, folders and ports."""
    return {
        "vre_prefix": prefix,
        "vre_root": str(root / "vre"),
        "vre_domain": "localhost",
        "vre_cluster": cluster,
        # The engine is the machine's: the test never rewrites daemon.json, and the
        # interpreter (this venv) already has the Docker SDK and cryptography.
        "docker_engine_daemon_options": {},
        "docker_engine_support_packages": ["git", "openssl"],
        "vre_hub_port": ports["hub"],
        "vre_hub_api_port": ports["api"],
        "vre_hub_proxy_api_port": ports["proxy_api"],
        "vre_hub_env": {"VRE_CULL_TIMEOUT": "86400"},
        "reverse_proxy_https_port": ports["https"],
        "reverse_proxy_http_port": ports["http"],
        "backup_dir": str(root / "backups"),
        "backup_cron_enabled": False,
        "swarm_advertise_addr": "127.0.0.1",
    }


def make_deployment(tmp_path_factory, kind: str, cluster: bool, user_image: str) -> Deployment:
    """A deployment with its own prefix ``vre-ansible-<kind><random>-``, free loopback
    ports and its own hub image tag, so concurrent test sessions never meet."""
    prefix = f"vre-ansible-{kind}{secrets.token_hex(2)}-"
    ports = {name: free_port() for name in ("hub", "api", "proxy_api", "https", "http")}
    root = Path(tmp_path_factory.mktemp(prefix.rstrip("-")))
    settings = deployment_settings(prefix, root, ports, cluster)
    # The hub image is built from the test's snapshot of the source: a tag of its own
    # (layers shared through the build cache), removed at teardown.
    settings["vre_images_hub_image"] = settings["vre_hub_image"] = f"dataterra-vre/hub:{prefix.rstrip('-')}"
    # The user image: a tag of its own on the current image (no copy), so that another
    # session rebuilding dataterra-vre/user:<version> meanwhile cannot change it under us.
    settings["vre_images_user_image"] = settings["vre_hub_user_image"] = f"dataterra-vre/user:{prefix.rstrip('-')}"
    # The source as it is now: a concurrent edit of the checkout must not count as a change.
    settings["vre_images_source_local"] = str(snapshot_source(root / "checkout"))
    deployment = Deployment(prefix, root, settings, cluster)
    docker("tag", matching_user_image(root / "checkout", user_image), settings["vre_hub_user_image"], check=True)
    deployment.write_inventory()
    return deployment


def matching_user_image(source: Path, default: str) -> str:
    """A local user image built from exactly ``source`` (same context-hash label as
    `vre images build` gives it), else ``default``; the playbook rebuilds a stale one."""
    from vre_hub import images

    with tempfile.TemporaryDirectory() as context:
        wanted = images.assemble_context(Path(context), root=source)
    found = docker("images", "-q", "--filter", f"label={images.CONTEXT_HASH_LABEL}={wanted}").stdout.split()
    return found[0] if found else default


SOURCE_PATHS = ["pyproject.toml", "README.md", "hub", "catalogs", "widgets", "extensions", "notebooks", "images"]


def snapshot_source(dest: Path) -> Path:
    """Copy the checkout's buildable parts to ``dest`` (the controller-side source the
    playbook packs), so edits made meanwhile by others do not change the deployed source."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints", "samples")
    dest.mkdir(parents=True)
    for name in SOURCE_PATHS:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=ignore, symlinks=True)
        elif source.exists():
            shutil.copy2(source, dest / name)
    return dest


def run_role_tasks(ansible_ready: Path, tmp_path: Path, tasks: list, settings: dict) -> subprocess.CompletedProcess:
    """Run ``tasks`` (e.g. an include of one of the vre_hub role's task files, by path) on this
    host with the role's defaults and vars, ``settings`` as extra variables (they win over the
    defaults) and ``vre_hub_state_dir`` in ``tmp_path/state``. The role's "Restart hub" handler
    is replaced by a play handler of the same name that only prints "hub restarted"."""
    role = ANSIBLE_DIR / "roles" / "vre_hub"
    playbook = tmp_path / "role-tasks.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Role tasks",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [str(role / "defaults" / "main.yml"), str(role / "vars" / "main.yml")],
        "tasks": tasks,
        "handlers": [{"name": "Restart hub", "ansible.builtin.debug": {"msg": "hub restarted"}}],
    }]))
    (tmp_path / "state").mkdir(exist_ok=True)
    if not (tmp_path / "templates").exists():  # where a task file included by path finds them
        (tmp_path / "templates").symlink_to(role / "templates")
    extra = tmp_path / "settings.json"
    extra.write_text(json.dumps({
        "ansible_python_interpreter": sys.executable, "vre_hub_state_dir": str(tmp_path / "state"), **settings,
    }))
    return subprocess.run(
        [str(ansible_ready / "ansible-playbook"), "-i", "localhost,", "-e", f"@{extra}", str(playbook)],
        cwd=ANSIBLE_DIR, capture_output=True, text=True, timeout=300,
    )
