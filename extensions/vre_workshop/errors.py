"""The one error type of the workshop commands: :class:`vre_core.errors.VREError` (what is
wrong; how to fix it), printed as a single line by the CLI."""

from vre_core.errors import VREError


class WorkshopError(VREError):
    """Something the operator can fix; ``str()`` says what is wrong and how to fix it."""
