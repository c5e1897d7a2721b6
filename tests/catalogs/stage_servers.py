"""Loopback services for the staging tests and benchmarks/bench_stage.py (127.0.0.1 only).

- ``TableService``: rows generated on the fly (deterministic, any size) and answered as
  * ERDDAP tabledap CSV (``/erddap/tabledap/floats.csv?fields&time>=..&latitude<=..``: a header row, a units
    row, then rows), or
  * FDSN web service event text (``/fdsnws/event/1/query?starttime=..&minlatitude=..&format=text``:
    ``#EventID|Time|Latitude|...`` then ``|``-separated rows; 204 when nothing matches).
  This is a protocol stand-in, not ERDDAP or an FDSN server: it speaks the query syntax and the answer formats
  of those services (what ``vre data stage`` relies on), streamed with chunked transfer encoding like theirs,
  and ignores ``Range`` as dynamic services do. A ``fail_after`` file in its folder (bytes) makes it drop the
  connection after that many bytes of an answer (a server failing half-way); removing the file heals it.
- ``OpendapServer`` (loopback.py): pydap's DapServer.
- ``ServerProcess``: any of them in a child process (``python stage_servers.py KIND ROOT``), so that a memory
  measurement of the client does not count the server.
"""
from __future__ import annotations

import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

try:
    from .loopback import LoopbackServer, OpendapServer, no_proxy_env
except ImportError:  # run as a script (a server process) or imported by benchmarks/ with tests/catalogs on sys.path
    from loopback import LoopbackServer, OpendapServer, no_proxy_env

T0 = np.datetime64("2000-01-01T00:00:00", "s")
ERDDAP_PATH = "/erddap/tabledap/floats.csv"
FDSN_PATH = "/fdsnws/event/1/query"
ERDDAP_FIELDS = ["platform_number", "time", "latitude", "longitude", "pres", "temp"]
ERDDAP_UNITS = ["", "UTC", "degrees_north", "degrees_east", "decibar", "degree_Celsius"]
FDSN_HEADER = "#EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID|MagType|Magnitude|MagAuthor|EventLocationName"
BATCH = 20_000  # rows generated at a time


def rows(n: int, step_s: int, first: int, last: int):
    """Columns of rows first..last-1 (deterministic functions of the row number)."""
    i = np.arange(first, last, dtype=np.int64)
    return {"i": i, "time": T0 + i * step_s,
            "latitude": 30 + (i * 7919 % 35000) / 1000, "longitude": -30 + (i * 104729 % 40000) / 1000,
            "pres": (i % 200) * 10.0, "temp": 4 + (i % 1500) / 100, "depth": (i % 300) / 10, "mag": 1 + (i % 45) / 10}


def expected(n: int, step_s: int, start=None, end=None, bbox=None):
    """What the services hold for a query, computed apart from them (for the tests)."""
    import pandas as pd

    cols = rows(n, step_s, 0, n)
    keep = np.ones(n, bool)
    if start:
        keep &= cols["time"] >= np.datetime64(start)
    if end:
        keep &= cols["time"] <= np.datetime64(end)
    if bbox:
        west, south, east, north = bbox
        keep &= (cols["latitude"] >= south) & (cols["latitude"] <= north) & (cols["longitude"] >= west) & (cols["longitude"] <= east)
    return pd.DataFrame({k: v[keep] for k, v in cols.items()})


def _handler(root: Path, n: int, step_s: int, counter: dict):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            path, _, query = self.path.partition("?")
            if path == ERDDAP_PATH:
                self._erddap(urllib.parse.unquote(query))
            elif path == FDSN_PATH:
                self._fdsn(dict(urllib.parse.parse_qsl(query)))
            else:
                self.send_error(404)

        # -- the two dialects -------------------------------------------------------
        def _erddap(self, query: str):
            fields, *constraints = query.split("&")
            fields = [f for f in fields.split(",") if f] or ERDDAP_FIELDS
            if any(f not in ERDDAP_FIELDS for f in fields):
                return self.send_error(400, "Query error: unknown variable")
            limits = {}
            for c in constraints:
                for op in (">=", "<="):
                    if op in c:
                        name, value = c.split(op, 1)
                        limits[(name, op)] = value
            lo, hi = self._time_range(limits.get(("time", ">=")), limits.get(("time", "<=")))
            box = [float(limits.get(k, d)) for k, d in ((("longitude", ">="), -1e9), (("latitude", ">="), -1e9),
                                                       (("longitude", "<="), 1e9), (("latitude", "<="), 1e9))]
            head = (",".join(fields) + "\n" + ",".join(ERDDAP_UNITS[ERDDAP_FIELDS.index(f)] for f in fields) + "\n")

            def lines(c):
                out = {"platform_number": (6900000 + c["i"] % 500).astype(str),
                       "time": np.char.add(np.datetime_as_string(c["time"], unit="s"), "Z"),
                       "latitude": np.char.mod("%.3f", c["latitude"]), "longitude": np.char.mod("%.3f", c["longitude"]),
                       "pres": np.char.mod("%.1f", c["pres"]), "temp": np.char.mod("%.2f", c["temp"])}
                return [out[f] for f in fields], ","

            self._stream(head, lo, hi, box, lines, "text/csv")

        def _fdsn(self, q: dict):
            lo, hi = self._time_range(q.get("starttime"), q.get("endtime"))
            box = [float(q.get(k, d)) for k, d in (("minlongitude", -1e9), ("minlatitude", -1e9),
                                                    ("maxlongitude", 1e9), ("maxlatitude", 1e9))]

            def lines(c):
                k = len(c["i"])
                return [np.char.add("ev", c["i"].astype(str)), np.datetime_as_string(c["time"], unit="s"),
                        np.char.mod("%.4f", c["latitude"]), np.char.mod("%.4f", c["longitude"]),
                        np.char.mod("%.1f", c["depth"]), np.full(k, "LOOP"), np.full(k, "LOOP"), np.full(k, "stand-in"),
                        np.full(k, ""), np.full(k, "ML"), np.char.mod("%.1f", c["mag"]), np.full(k, "LOOP"),
                        np.full(k, "loopback region")], "|"

            self._stream(FDSN_HEADER + "\n", lo, hi, box, lines, "text/plain", empty_status=204)

        # -- common -------------------------------------------------------------------
        def _time_range(self, start, end):
            lo = 0 if not start else max(0, int(np.ceil((np.datetime64(start.rstrip("Z"), "s") - T0).astype(int) / step_s)))
            hi = n if not end else min(n, int((np.datetime64(end.rstrip("Z"), "s") - T0).astype(int) // step_s) + 1)
            return lo, max(lo, hi)

        def _batches(self, lo, hi, box, lines):
            west, south, east, north = box
            for first in range(lo, hi, BATCH):
                c = rows(n, step_s, first, min(hi, first + BATCH))
                keep = (c["latitude"] >= south) & (c["latitude"] <= north) & (c["longitude"] >= west) & (c["longitude"] <= east)
                c = {k: v[keep] for k, v in c.items()}
                if len(c["i"]):
                    columns, sep = lines(c)
                    text = columns[0]
                    for col in columns[1:]:
                        text = np.char.add(np.char.add(text, sep), col)
                    yield ("\n".join(text.tolist()) + "\n").encode()

        def _stream(self, head: str, lo, hi, box, lines, ctype, empty_status=None):
            batches = self._batches(lo, hi, box, lines)
            first = next(batches, None)
            if first is None and empty_status:
                self.send_response(empty_status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            fail = root / "fail_after"
            fail_after = int(fail.read_text()) if fail.exists() else None
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            for data in [head.encode()] + ([first] if first else []):
                sent += self._chunk(data)
            for data in batches:
                if fail_after is not None and sent >= fail_after:
                    counter["bytes"] += sent
                    self.close_connection = True
                    self.wfile.flush()
                    self.connection.shutdown(2)  # half-way: no terminating chunk
                    return
                sent += self._chunk(data)
            self.wfile.write(b"0\r\n\r\n")
            counter["bytes"] += sent

        def _chunk(self, data: bytes) -> int:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            return len(data)

    return Handler


class TableService(LoopbackServer):
    """``n`` rows, one every ``step_s`` seconds from 2000-01-01, as ERDDAP CSV and FDSN text; ``bytes`` sent."""

    def __init__(self, root: Path, n: int = 10_000, step_s: int = 3600):
        self.root, self.n, self.step_s = Path(root), n, step_s
        self.root.mkdir(parents=True, exist_ok=True)
        self.counter = {"bytes": 0}
        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.root, n, step_s, self.counter)))

    def fail_after(self, nbytes: int | None) -> None:
        flag = self.root / "fail_after"
        if nbytes is None:
            flag.unlink(missing_ok=True)
        else:
            flag.write_text(str(nbytes))


class FailingOpendap(OpendapServer):
    """pydap's server; after ``fail_after(n)`` it answers 500 to data requests (``.dods``) after the n-th."""

    def __init__(self, root: Path):
        super().__init__(root)
        self._limit, self._seen = None, 0
        app = self.httpd.get_app()

        def failing(environ, start_response):
            if environ.get("PATH_INFO", "").endswith(".dods"):
                self._seen += 1
                if self._limit is not None and self._seen > self._limit:
                    start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
                    return [b"failing half-way"]
            return app(environ, start_response)

        self.httpd.set_app(failing)

    def fail_after(self, requests: int | None) -> None:
        self._limit, self._seen = requests, 0


class ServerProcess:
    """``kind`` (tables | opendap) serving ``root`` from a child process; ``url`` once started."""

    def __init__(self, kind: str, root: Path, *args: str):
        self.command = [sys.executable, str(Path(__file__).resolve()), kind, str(root), *args]
        self.url = ""

    def __enter__(self):
        self.proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"the {self.command[2]} server did not start (exit {self.proc.wait()})")
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _serve(kind: str, root: str, *args: str) -> None:
    no_proxy_env()
    server = TableService(Path(root), *map(int, args)) if kind == "tables" else OpendapServer(Path(root))
    with server:
        print(server.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


if __name__ == "__main__":
    _serve(*sys.argv[1:])
