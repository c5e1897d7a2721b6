"""Kept for existing imports: the code is :mod:`vre_core.hub`."""

from vre_core.hub import APIError, HubAPIError, HubClient, ServiceClient  # noqa: F401
