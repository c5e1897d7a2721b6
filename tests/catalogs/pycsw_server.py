"""Run pycsw on 127.0.0.1 (executed by the pycsw virtualenv's python; see catalog_servers.PycswServer).

    python pycsw_server.py WORKDIR RECORDS_DIR          # create WORKDIR/records.db, load, serve; prints the URL
    python pycsw_server.py WORKDIR RECORDS_DIR --load   # (re)load the XML files into the existing database

While serving, a file WORKDIR/fail_from holding a number N makes every GetRecords page that starts at record
N or later answer HTTP 500 (a back end failing half-way); delete the file to heal the server.
"""
import logging
import re
import warnings
import sys
import threading
from io import BytesIO
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

warnings.simplefilter("ignore")  # pycsw 2.6 on Shapely 2 / OWSLib: deprecation noise only
from pycsw import server
from pycsw.core import admin
from pycsw.core.config import StaticContext

_START = re.compile(rb'startPosition="(\d+)"|startposition=(\d+)', re.I)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    workdir, records = Path(sys.argv[1]), Path(sys.argv[2])
    database = f"sqlite:///{workdir / 'records.db'}"
    context = StaticContext()
    logging.basicConfig(level=logging.ERROR)
    if "--load" not in sys.argv:
        workdir.mkdir(parents=True, exist_ok=True)
        admin.setup_db(database, "records", str(workdir))
    loaded = admin.load_records(context, database, "records", str(records), force_update=True)
    if "--load" in sys.argv:
        print(len(loaded), flush=True)
        return
    fail_file = workdir / "fail_from"
    config = {
        "server": {"home": str(workdir), "url": "", "mimetype": "application/xml; charset=UTF-8", "encoding": "UTF-8",
                   "language": "en-US", "maxrecords": "100", "loglevel": "ERROR", "logfile": str(workdir / "pycsw.log"), "pretty_print": "true",
                   "domainquerytype": "list", "domaincounts": "true", "profiles": "apiso"},
        "manager": {"transactions": "false", "allowed_ips": "127.0.0.1"},
        "metadata:main": {k: "test" for k in (
            "identification_title", "identification_abstract", "identification_keywords", "identification_fees",
            "identification_accessconstraints", "provider_name", "contact_name", "contact_position", "contact_address",
            "contact_city", "contact_stateorprovince", "contact_postalcode", "contact_country", "contact_phone",
            "contact_fax", "contact_hours", "contact_instructions")} | {
            "identification_keywords_type": "theme", "provider_url": "http://127.0.0.1", "contact_email": "test@localhost",
            "contact_url": "http://127.0.0.1", "contact_role": "pointOfContact"},
        "repository": {"database": database, "table": "records"},
    }

    def app(env, start_response):
        body = b""
        if env.get("REQUEST_METHOD") == "POST":
            body = env["wsgi.input"].read(int(env.get("CONTENT_LENGTH") or 0))
            env["wsgi.input"] = BytesIO(body)
        match = _START.search(body + env.get("QUERY_STRING", "").encode())
        if fail_file.exists() and match and int(match.group(1) or match.group(2)) >= int(fail_file.read_text()):
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"simulated back-end failure"]
        csw = server.Csw(dict(config, server=dict(config["server"], url=url)), env)
        status, contents = csw.dispatch_wsgi()
        start_response(status, [("Content-Type", str(csw.contenttype)), ("Content-Length", str(len(contents)))])
        return [contents]

    httpd = make_server("127.0.0.1", 0, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/csw"
    print(f"{len(loaded)} {url}", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), httpd.shutdown()), daemon=True).start()  # stdin closed: stop
    httpd.serve_forever()


if __name__ == "__main__":
    main()
