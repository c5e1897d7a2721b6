"""The VRE's names and fixed facts, each written once: the user-name rule, the Docker names
derived from user and group names, the user image, paths and ids inside it, default ports and
the jobs service's result files. The hub, the jobs service and the workshop tools read them here.

**The rule** (the one place it is written; the hub, the sign-up page, ``vre users add``,
workshops and the spawner all use it): a user or group name is 1 to 28 lower-case ASCII
letters and digits, optionally joined by single ``.``, ``-`` or ``_`` (``marie.curie``,
``neo-2026-01``, ``a_b``). So it starts and ends with a letter or digit and never holds
two of ``.-_`` in a row: no control characters, no Unicode, no spaces, no ``..``, nothing
that changes meaning in a URL or a path. Upper case is lower-cased first (JupyterHub's
``normalize_username``), so ``Marie.Curie`` logs in as ``marie.curie``.

**Docker names** keep DockerSpawner's escaping (letters and digits as they are, each
``.``, ``-``, ``_`` written ``-2e``, ``-2d``, ``-5f``): the names of existing homes do
not change. On allowed names the escaping is injective (a ``-`` is always followed by two
hex digits, so it decodes back) and its result is a valid Swarm service name (no ``.``).
28 is the longest name whose container name ``vre-user-<escaped>`` stays within 63
characters, a DNS label, which Swarm service names must be: 28 characters hold at most 13
of ``.-_``, escaped to 28 + 2 * 13 = 54, plus 9 for ``vre-user-``.
"""

import hashlib
import re
import string

from . import __version__

#: Longest allowed user or group name (see above for why 28).
MAX_NAME_LENGTH = 28

#: The rule as a regular expression (``c.Authenticator.username_pattern``). ``\\Z``, not
#: ``$``: ``$`` also matches before a final newline.
NAME_PATTERN = rf"\A(?=.{{1,{MAX_NAME_LENGTH}}}\Z)[a-z0-9]+(?:[._-][a-z0-9]+)*\Z"
_NAME = re.compile(NAME_PATTERN, re.ASCII)

#: The rule in words, for error messages.
NAME_RULE = (
    f"use 1-{MAX_NAME_LENGTH} lower-case letters (a-z) and digits, "
    "optionally joined by single '.', '-' or '_' (e.g. marie.curie)"
)

#: Escaped names longer than this (only names from before the rule) are shortened with a hash.
MAX_ESCAPED_LENGTH = 63
_SAFE = set(string.ascii_lowercase + string.digits)


class BadName(ValueError):
    """A user or group name that breaks the rule; the message says which and how to fix it."""


def is_allowed(name) -> bool:
    return isinstance(name, str) and _NAME.match(name) is not None


def check_name(name, what: str = "user name") -> str:
    """Return ``name`` if it follows the rule, else raise :class:`BadName` (one line)."""
    if not is_allowed(name):
        raise BadName(f"{what} {name!r} is not allowed: {NAME_RULE}")
    return name


def escape_name(name: str) -> str:
    """Escape ``name`` for Docker object names (same rule as DockerSpawner 12+).

    Usable as ``c.DockerSpawner.escape``; total, so that DockerSpawner can still name (and
    stop) the container of an account from before the rule, which the spawner refuses to
    start. Escaped names over 63 characters (never an allowed name) end in ``--<hash>``.
    """
    # DockerSpawner's dependency, imported here: the user image (whose `vre jobs` reads this
    # module's facts) does not have it.
    from escapism import escape

    escaped = escape(name, _SAFE, escape_char="-").lower()
    if len(escaped) <= MAX_ESCAPED_LENGTH:
        return escaped
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return f"{escaped[: MAX_ESCAPED_LENGTH - 18]}--{digest}"


def container_name(username: str, server_name: str = "") -> str:
    """Name of the user's server container (``DockerSpawner.name_template``); ``--``,
    which escaping never produces, separates a named server's name."""
    check_name(username)
    suffix = f"--{escape_name(check_name(server_name, 'server name'))}" if server_name else ""
    return f"vre-user-{escape_name(username)}{suffix}"


def home_volume_name(username: str) -> str:
    """The user's persistent home (*Datahome*) volume."""
    return f"vre-home-{escape_name(check_name(username))}"


def work_volume_name(group: str) -> str:
    """A group's shared work (*Datawork*) volume, mounted for the group's members."""
    return f"vre-work-{escape_name(check_name(group, 'group name'))}"


#: The shared read-only reference data (*Dataref*) volume.
DATAREF_VOLUME = "vre-dataref"


# -- the user image and the account inside it -------------------------------------------

#: Repository of the user image (tagged with the project's version).
USER_IMAGE_REPO = "dataterra-vre/user"


def user_image_tag(version: str = __version__) -> str:
    """The user image the spawner, the jobs service and workshops run (``VRE_USER_IMAGE`` overrides
    it where they read the environment)."""
    return f"{USER_IMAGE_REPO}:{version}"


#: Where a user's home (*Datahome*) is mounted in every container of the user image.
HOME = "/home/jovyan"
#: The image's user (jovyan) and group (users): servers, jobs and home files belong to them.
USER_UID, USER_GID = 1000, 100
RUN_AS = f"{USER_UID}:{USER_GID}"

# -- default ports ---------------------------------------------------------------------

#: Public port of the hub (its proxy), the hub's REST API, the proxy's API.
HUB_PORT, HUB_API_PORT, PROXY_API_PORT = 8000, 8081, 8001
#: The jobs service's fixed port on the users' network gateway (``VRE_JOBS_PORT``): fixed so
#: that the ``VRE_JOBS_URL`` given to servers outlives hub restarts.
JOBS_PORT = 8082
#: The Dask Gateway's HTTP and scheduler (TLS) ports on the same gateway, when it is on
#: (``VRE_GATEWAY_BACKEND``; ``VRE_GATEWAY_PORT``, ``VRE_GATEWAY_TCP_PORT``).
GATEWAY_PORT, GATEWAY_TCP_PORT = 8083, 8084

# -- the jobs service -------------------------------------------------------------------

#: Its name among the hub's services (``/services/jobs/``).
JOBS_SERVICE = "jobs"
#: What each job leaves in its results folder (``container.log`` only when papermill never ran).
RESULT_FILES = ("notebook.ipynb", "notebook.html", "parameters.json", "job.log", "status.json")
CONTAINER_LOG = "container.log"
