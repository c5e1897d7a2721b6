"""Fixtures of the Ansible tests (helpers in vre_ansible_testlib)."""

import json
import subprocess

import pytest

from vre_ansible_testlib import VENV_BIN


@pytest.fixture(scope="session")
def ansible_ready():
    """ansible-playbook and the collections the roles use, from this venv."""
    missing = [tool for tool in ("ansible-playbook", "ansible-lint") if not (VENV_BIN / tool).exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing; fix: pip install -e '.[test]'")
    listing = subprocess.run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "list", "--format", "json"],
        capture_output=True, text=True,
    )
    found = {name for paths in json.loads(listing.stdout or "{}").values() for name in paths}
    needed = {"community.docker", "community.crypto", "ansible.posix"}
    if needed - found:
        pytest.fail(f"collections {sorted(needed - found)} missing; they ship in the ansible package")
    return VENV_BIN


@pytest.fixture(scope="session")
def hub_client_for():
    """An admin client of a deployment's hub, with the token the role generated."""
    from vre_hub.client import HubClient

    def client(deployment):
        return HubClient(deployment.hub_url, deployment.admin_token, timeout=30)

    return client


@pytest.fixture(scope="session")
def current_user_image(docker_engine):
    """The user image as it is now; built (the lead's `user_image` fixture) only if missing.

    The playbook itself then checks it against the deployed source and rebuilds it if stale
    (that is what the vre_images role is for)."""
    from vre_hub import images

    tag = images.user_image_tag()
    if images.image_exists(tag):
        return tag
    return images.build_user_image(log=lambda m: print(f"[image] {m}"))
