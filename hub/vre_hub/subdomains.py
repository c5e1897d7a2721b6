"""Per-user subdomains: each user's server on its own origin (``JupyterHub.subdomain_host``).

With ``subdomain_host = "https://vre.example.org"`` the hub stays at ``vre.example.org`` and
the server of ``alice`` is at ``alice.vre.example.org``. HTML or JavaScript a user serves
from their server (any file: they control it) then runs on an origin of its own, so in a
visitor's browser it cannot read the hub's pages (and their XSRF token), call the hub's API
or read another user's server with the visitor's cookies. Needs wildcard DNS
``*.vre.example.org`` and a wildcard TLS certificate; browsers resolve ``*.localhost`` to
loopback, so ``http://vre.localhost:8000`` works on one machine without DNS.

The subdomain of a user is one DNS label: the name itself when it is a plain label (the
hub's own 'idna' rule), else ``u-<stub>--<hash>``. JupyterHub 5.5's 'idna' hook takes 7 hex
digits (28 bits) of SHA-256 there, few enough that someone can search for a name that
lands on another user's subdomain — the same origin again. This hook keeps the hub's rule
and lengthens that hash to 40 hex digits (160 bits).
"""

import hashlib
import re

from jupyterhub.utils import subdomain_hook_idna

#: Hex digits of SHA-256 in a hashed label (160 bits: no feasible search for a collision).
HASH_DIGITS = 40
_HASHED = re.compile(r"^u-([a-z0-9]{1,8})--[0-9a-f]{7}(--[a-z0-9-]+)?$")


def subdomain_hook(name: str, domain: str, kind: str) -> str:
    """``c.JupyterHub.subdomain_hook``: the hub's 'idna' rule with a collision-resistant hash.

    A user name that is a DNS label (``alice``, ``bob-2``) is its own subdomain; any other
    (``jean.dupont``, ``a_b``, ``x--y``) becomes ``u-<first safe characters>--<hash>``, which
    always contains ``--`` and so never equals a plain name (plain names with ``--`` are
    hashed too). A dot in a name therefore never makes a deeper subdomain.
    """
    host = subdomain_hook_idna(name, domain, kind)
    label, _, rest = host.partition(".")
    hashed = _HASHED.match(label)
    if hashed is None:
        return host
    digest = hashlib.sha256(name.encode("utf8")).hexdigest()[:HASH_DIGITS]
    return f"u-{hashed.group(1)}--{digest}{hashed.group(2) or ''}.{rest}"
