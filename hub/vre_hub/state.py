"""Kept for existing imports: the code is :mod:`vre_core.state`."""

from vre_core.state import *  # noqa: F401,F403
