"""Accounts (issue 12, findings 1 and 5): who can get which name, against a real hub.

Every attack goes through the hub's real front door (HTTP sign-up form with its XSRF
cookie, the REST API, the `vre` command line). Before the fix each of them succeeded:
sign-up took `admin` (the Ansible hub never set its password) and names with control
characters or Unicode, the REST API took `secé` and `sec\\x0c3\\n9` (one home volume for
both), and `vre users add ..` said it had created an account.
"""

import sqlite3
import subprocess
import sys
from urllib.parse import quote

import pytest

from vre_testing import login, signup

pytestmark = pytest.mark.docker

PASSWORD = "correct-horse-battery-staple-42"  # long enough, not a common password

# Names that broke the old escaping or the URL space: control characters, Unicode,
# look-alikes, path-like names, too long.
BAD_NAMES = [
    "tab\there", "new\nline", "vt\x0bx", "ff\x0cx", "cr\rx", "nul\x00x", "secé", "sec\x0c3\n9", "ünïcode",
    "..", "a..b", ".hidden", "trailing.", "-dash", "a b", "a,b", "a/b", "at@example.org", "x" * 29,
]


def account_rows(hub) -> set[str]:
    """Names with a NativeAuthenticator account (sign-up rows), read from the hub database."""
    with sqlite3.connect(hub.process.state.db_file) as db:
        return {row[0] for row in db.execute("SELECT username FROM users_info")}


def hub_users(hub) -> set[str]:
    return {user["name"] for user in hub.client.get("/users")}


def admin_password(hub) -> str:
    return (hub.state_dir / "admin_password").read_text().strip()


def test_signup_cannot_claim_the_admin_account(hub):
    """Finding 5: on a hub started as Ansible starts it (no step after start), signing up
    as `admin` took the admin account. Now the account exists with its generated password
    before the hub answers, and sign-up refuses admin and reserved names."""
    for name in ("admin", "Admin", "root", "vre-admin", "idle-culler"):
        response, message = signup(hub.url, name, PASSWORD)
        assert response.status_code == 400, (name, response.status_code, message)
        assert message == f"user name {name.lower()!r} is reserved; choose another name.", message
    assert login(hub.url, "admin", PASSWORD).get(f"{hub.url}/hub/admin", timeout=30).url.startswith(
        f"{hub.url}/hub/login"
    ), "the attacker's password must not open the admin account"
    admin = login(hub.url, "admin", admin_password(hub)).get(f"{hub.url}/hub/admin", timeout=30)
    assert admin.status_code == 200 and admin.url == f"{hub.url}/hub/admin"
    assert not {"root", "vre-admin", "idle-culler"} & (account_rows(hub) | hub_users(hub))


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_signup_refuses_names_breaking_the_rule(hub, name):
    before = account_rows(hub), hub_users(hub)
    response, message = signup(hub.url, name, PASSWORD)
    assert response.status_code == 400, (response.status_code, message)
    assert "is not allowed: use 1-28 lower-case letters" in message and "\n" not in message, message
    assert (account_rows(hub), hub_users(hub)) == before, "nothing may be created"


def test_signup_with_an_allowed_name_still_works(hub):
    name = f"{hub.prefix}.new-comer"
    response, message = signup(hub.url, name.upper(), PASSWORD)  # lower-cased, as at login
    assert response.status_code == 200 and "sent to the admin" in message, message
    assert name in account_rows(hub)


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_rest_api_refuses_names_breaking_the_rule(hub, name):
    before = hub_users(hub)
    single = hub.api("POST", f"/users/{quote(name, safe='')}")
    assert 400 <= single.status_code < 500, single.text  # `..`: the proxy resolves it to /hub/api/ (405)
    several = hub.api("POST", "/users", json={"usernames": [name]})
    assert several.status_code == 400 and "Invalid username" in several.json()["message"], several.text
    assert hub_users(hub) == before


def test_colliding_names_cannot_both_exist(hub):
    """`secé` and `sec\\x0c3\\n9` had one home volume; neither name can be created now, by
    any way in. (vre_hub.naming's property tests show allowed names never collide.)"""
    for name in ("secé", "sec\x0c3\n9"):
        assert hub.api("POST", f"/users/{quote(name, safe='')}").status_code == 400
        assert signup(hub.url, name, PASSWORD)[0].status_code == 400
        assert vre_users_add(hub, name).returncode == 1
    assert not {"secé", "sec\x0c3\n9"} & (hub_users(hub) | account_rows(hub))


def vre_users_add(hub, name):
    return subprocess.run(
        [sys.executable, "-m", "vre_hub.cli", "--state-dir", str(hub.state_dir), "users", "add", name],
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.parametrize("name", ["..", "a b", "a/b", "tab\there", "secé"], ids=repr)
def test_vre_users_add_refuses_names_breaking_the_rule(hub, name):
    """`vre users add ..` printed "account '..' ready" and created nothing (the proxy
    resolved /hub/api/users/..)."""
    before = account_rows(hub), hub_users(hub)
    result = vre_users_add(hub, name)
    assert result.returncode == 1 and result.stdout == "", result.stdout
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: users: user name {name!r} is not allowed: use 1-28"), result.stderr
    assert (account_rows(hub), hub_users(hub)) == before
