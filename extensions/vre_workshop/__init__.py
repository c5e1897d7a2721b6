"""Teaching workshops: a JupyterHub group of participant accounts run by one teacher.

``vre workshop create|distribute|prewarm|status|collect|end`` drive the hub through its
REST API (users, groups, servers) and Docker (the participants' home volumes).

The teacher's permissions are a JupyterHub role scoped to the workshop's group
(``servers!group=NAME``, ``access:servers!group=NAME``...). JupyterHub 5.5 has no REST
API for roles (they are loaded from config at startup), so each workshop is recorded in
the state directory and :func:`vre_workshop.hubconfig.apply` turns the records into
``c.JupyterHub.load_roles`` entries: the teacher role takes effect at the next hub start.
"""

from .errors import WorkshopError

__all__ = ["WorkshopError"]
