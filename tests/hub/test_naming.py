"""The user-name rule and the Docker names derived from allowed names (vre_hub.naming)."""

import re
import string

import pytest
from hypothesis import given, settings, strategies as st

from vre_hub import naming

# Docker's rule for container and volume names, and swarmkit's for service names (<= 63).
DOCKER_NAME = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
SWARM_SERVICE_NAME = re.compile(r"\A[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*\Z")

ALNUM = string.ascii_lowercase + string.digits
# Allowed names: words of letters and digits joined by single '.', '-' or '_', at most 28.
allowed_names = st.builds(
    lambda first, rest: (first + "".join(sep + word for sep, word in rest))[: naming.MAX_NAME_LENGTH].rstrip("._-"),
    st.text(ALNUM, min_size=1, max_size=6),
    st.lists(st.tuples(st.sampled_from("._-"), st.text(ALNUM, min_size=1, max_size=3)), max_size=14),
)


def unescape(escaped: str) -> str:
    """Inverse of the escaping on allowed names: each '-XX' is one character."""
    return re.sub(r"-([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), escaped)


def test_examples():
    assert naming.home_volume_name("alice") == "vre-home-alice"
    assert naming.container_name("marie.curie") == "vre-user-marie-2ecurie"
    assert naming.work_volume_name("neo-2026") == "vre-work-neo-2d2026"  # as before the rule: homes keep their names
    assert naming.container_name("a", "b") != naming.container_name("a-b")


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "a..b", ".hidden", "a.", "-a", "a--b", "a/b", "a b", " a", "a\tb", "a\nb", "a\n", "a\x0bb",
     "a\x0cb", "a\rb", "a\x00b", "Alice", "secé", "ünïcode", "a@b.org", "x" * 29, "a:b", "a%2fb"],
)
def test_bad_names_are_refused_in_one_line(name):
    assert not naming.is_allowed(name)
    with pytest.raises(naming.BadName) as error:
        naming.check_name(name)
    message = str(error.value)
    assert "\n" not in message and "is not allowed" in message and "lower-case letters" in message
    for derive in (naming.container_name, naming.home_volume_name, naming.work_volume_name):
        with pytest.raises(naming.BadName):
            derive(name)


def test_the_old_escaping_collision_is_impossible():
    """`secé` and `sec\\x0c3\\n9` both escape to `sec-c3-a9` (no padding): neither is allowed."""
    assert naming.escape_name("secé") == naming.escape_name("sec\x0c3\n9") == "sec-c3-a9"
    for name in ("secé", "sec\x0c3\n9"):
        with pytest.raises(naming.BadName):
            naming.home_volume_name(name)


def test_longest_names_fit_a_swarm_service_name():
    worst = "a." * 13 + "aa"  # 28 characters, 13 of them escaped to 3
    assert len(worst) == naming.MAX_NAME_LENGTH and naming.is_allowed(worst)
    assert len(naming.container_name(worst)) == 63
    assert not naming.is_allowed(worst + "a")


@settings(max_examples=500)
@given(allowed_names)
def test_derived_names_are_valid_docker_names_and_decode_back(name):
    assert naming.is_allowed(name), name
    escaped = naming.escape_name(name)
    assert unescape(escaped) == name  # injective: the name is recovered from its Docker form
    for value in (naming.container_name(name), naming.home_volume_name(name), naming.work_volume_name(name)):
        assert DOCKER_NAME.match(value), value
        assert SWARM_SERVICE_NAME.match(value) and len(value) <= 63, value


@settings(max_examples=500)
@given(allowed_names, allowed_names)
def test_distinct_allowed_names_never_share_a_container_or_volume(a, b):
    if a != b:
        assert naming.container_name(a) != naming.container_name(b)
        assert naming.home_volume_name(a) != naming.home_volume_name(b)
        assert naming.work_volume_name(a) != naming.work_volume_name(b)


@given(st.text(max_size=40))
def test_the_rule_is_exactly_the_pattern(text):
    allowed = naming.is_allowed(text)
    assert allowed == bool(re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", text) and len(text) <= 28)
    if allowed:
        assert unescape(naming.escape_name(text)) == text
