"""vre_core.web.StaticFiles: each service serves its own static files and the shared vre.js
(one copy of the pages' helpers), and nothing outside the two folders."""

import asyncio
from pathlib import Path

from tornado import httpclient, web

import vre_workshop
from vre_core.web import SHARED_STATIC, static_settings
from vre_testing import free_port


def test_own_and_shared_static_files_and_nothing_else():
    own = Path(vre_workshop.__file__).with_name("static")

    async def fetch_all():
        port = free_port()
        app = web.Application([], **static_settings("/services/workshop/", own))
        server = app.listen(port, "127.0.0.1")
        client = httpclient.AsyncHTTPClient()
        got = {}
        try:
            for path in ("workshop.js", "vre.js", "../service.py", "..%2Fservice.py", "..%2F..%2F..%2Fhub%2Fvre_core%2Fweb.py",
                         "nothere.js"):
                response = await client.fetch(f"http://127.0.0.1:{port}/services/workshop/static/{path}", raise_error=False)
                got[path] = response
        finally:
            server.stop()
        return got

    got = asyncio.run(fetch_all())
    assert got["workshop.js"].code == 200 and b"loadWorkshops" in got["workshop.js"].body
    assert got["vre.js"].code == 200 and got["vre.js"].body == (Path(SHARED_STATIC) / "vre.js").read_bytes()
    assert got["vre.js"].headers["X-Content-Type-Options"] == "nosniff"
    for path in ("../service.py", "..%2Fservice.py", "..%2F..%2F..%2Fhub%2Fvre_core%2Fweb.py", "nothere.js"):
        assert got[path].code in (403, 404), path
        assert b"import" not in got[path].body, path
