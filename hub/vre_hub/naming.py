"""Kept for existing imports: the code is :mod:`vre_core.naming`."""

from vre_core.naming import *  # noqa: F401,F403
