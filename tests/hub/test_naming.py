"""Unit tests of the Docker-safe naming of users' containers and volumes."""

import re

from hypothesis import given, strategies as st

from vre_hub import naming

DOCKER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def test_examples():
    assert naming.escape_name("alice") == "alice"
    assert naming.escape_name("Alice") == "-41lice"
    assert naming.escape_name("a.b") != naming.escape_name("a-b")
    assert naming.home_volume_name("alice") == "vre-home-alice"


@given(st.text(min_size=1, max_size=300))
def test_names_are_docker_safe_and_bounded(name):
    for value in (naming.container_name(name), naming.home_volume_name(name), naming.work_volume_name(name)):
        assert DOCKER_NAME.match(value), value
        assert len(value) <= 80


@given(st.text(min_size=1, max_size=300), st.text(min_size=1, max_size=300))
def test_distinct_names_never_collide(a, b):
    if a != b:
        assert naming.escape_name(a) != naming.escape_name(b)
