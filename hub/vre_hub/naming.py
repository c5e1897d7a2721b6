"""Docker-safe, collision-free names derived from JupyterHub user and group names.

JupyterHub accepts almost any user name (``Ünïcode.Name``, 200 characters...). Docker
container and volume names accept ``[a-z0-9_.-]`` and, through the volume's directory,
at most 255 bytes. We use DockerSpawner's own escaping (lowercase letters and digits kept,
everything else ``-XX`` hex-escaped, so ``A`` and ``a`` stay distinct), and shorten long
results with a hash of the *full* name. A shortened name carries ``--``, which the
escaping never produces, so it cannot collide with a short name.
"""

import hashlib
import string

from escapism import escape

#: Longest escaped name kept as is; 63 is a DNS label, which Swarm service names must be.
MAX_NAME_LENGTH = 63
_SAFE = set(string.ascii_lowercase + string.digits)


def escape_name(name: str) -> str:
    """Escape ``name`` for use in Docker object names (same rule as DockerSpawner 12+).

    Usable as ``c.DockerSpawner.escape``.
    """
    escaped = escape(name, _SAFE, escape_char="-").lower()
    if len(escaped) <= MAX_NAME_LENGTH:
        return escaped
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
    return f"{escaped[: MAX_NAME_LENGTH - 18]}--{digest}"


def container_name(username: str, server_name: str = "") -> str:
    """Name of the user's server container (``DockerSpawner.name_template``)."""
    suffix = f"-{escape_name(server_name)}" if server_name else ""
    return f"vre-user-{escape_name(username)}{suffix}"


def home_volume_name(username: str) -> str:
    """The user's persistent home (*Datahome*) volume."""
    return f"vre-home-{escape_name(username)}"


def work_volume_name(group: str) -> str:
    """A group's shared work (*Datawork*) volume, mounted for the group's members."""
    return f"vre-work-{escape_name(group)}"


#: The shared read-only reference data (*Dataref*) volume.
DATAREF_VOLUME = "vre-dataref"
