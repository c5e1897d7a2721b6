"""What the VRE's tornado services share for their pages: ``static/vre.js`` (the ``el()``,
``api()`` and ``say()`` helpers of the jobs page and the teacher's console), served by each
service next to its own static files, under its own prefix and CSP."""

import os
from pathlib import Path

from tornado import web

#: vre.js and whatever else every service page loads.
SHARED_STATIC = str(Path(__file__).with_name("static"))


class StaticFiles(web.StaticFileHandler):
    """A service's own static folder, then :data:`SHARED_STATIC` for names it does not hold;
    each folder's own checks apply (nothing outside either folder is served)."""

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        own = super().get_absolute_path(root, path)  # 403 for a path leaving root
        return own if os.path.exists(own) else super().get_absolute_path(SHARED_STATIC, path)

    def validate_absolute_path(self, root: str, absolute_path: str):
        shared = absolute_path.startswith(os.path.join(SHARED_STATIC, ""))
        return super().validate_absolute_path(SHARED_STATIC if shared else root, absolute_path)

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")


def static_settings(prefix: str, folder) -> dict:
    """``tornado.web.Application`` settings serving ``folder`` (and vre.js) at ``<prefix>static/``."""
    return {
        "static_path": str(folder),
        "static_url_prefix": f"{prefix.rstrip('/')}/static/",
        "static_handler_class": StaticFiles,
    }
