"""The Unix account that runs a hub user's work outside containers.

Batch jobs (the jobs service's Slurm/PBS backends) and Dask processes (the gateway's local and
Slurm backends) run as the account **named like the hub user**: a local account, or one of the
site's directory (LDAP/SSSD), which the scheduler knows too. Never root: a hub user whose name
maps to uid 0 (``root``, or an alias of it) is refused.
"""

from __future__ import annotations

import os
import pwd

from .errors import VREError


def unix_account(username: str) -> pwd.struct_passwd:
    """The account running ``username``'s batch work; a one-line :class:`VREError` if there is
    none or it is root."""
    try:
        account = pwd.getpwnam(username)
    except KeyError:
        raise VREError(
            f"hub user {username!r} has no Unix account on this host, and batch jobs run as that account",
            f"ask the operator to create the account {username!r} (or to add it to the site's directory)",
        ) from None
    if account.pw_uid == 0:
        raise VREError(f"hub user {username!r} maps to uid 0", "batch work never runs as root; use another account")
    return account


def account_groups(account: pwd.struct_passwd) -> list[int]:
    """Every group id of ``account`` (primary and supplementary), as a login would give it."""
    return os.getgrouplist(account.pw_name, account.pw_gid)
