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
