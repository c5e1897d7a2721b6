"""Helpers shared by the test folders (imported as `vre_testing`; conftest names clash)."""

import os
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(condition: bool, why: str):
    """Skip (printing why) when a requirement is missing; fail instead in CI."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {why}")
    pytest.skip(why)


def _form(session, url: str) -> dict:
    """The _xsrf field of the hub form page at ``url`` (its cookie stays in ``session``)."""
    import re

    page = session.get(url, timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    return {"_xsrf": xsrf.group(1)} if xsrf else {}


def login(url: str, username: str, password: str):
    """A requests session logged in to the hub at ``url`` (if the password is right)."""
    import requests

    session = requests.Session()
    data = {**_form(session, f"{url}/hub/login"), "username": username, "password": password}
    session.post(f"{url}/hub/login?next=/hub/home", data=data, timeout=30, allow_redirects=True)
    return session


def signup(url: str, username: str, password: str):
    """POST the hub's /hub/signup form as a browser does; returns (response, alert text)."""
    import html
    import re

    import requests

    session = requests.Session()
    data = {
        **_form(session, f"{url}/hub/signup"),
        "username": username,
        "signup_password": password,
        "signup_password_confirmation": password,
    }
    response = session.post(f"{url}/hub/signup", data=data, timeout=30)
    alert = re.search(r'<div class="alert [^"]*" role="alert">\s*<p>(.*?)</p>', response.text, re.S)
    return response, html.unescape(alert.group(1)).strip() if alert else ""
