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
- ``ServerProcess``: any of them (or ``RangeHTTPServer`` for Zarr over HTTP) in a child process
  (``python stage_servers.py tables|opendap|files ROOT``), so that a memory measurement of the client does not
  count the server. ``measure`` stages ~200 MB through one protocol that way (the memory test, bench_stage.py).
"""
from __future__ import annotations

import subprocess
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

try:
    from .loopback import LoopbackServer, OpendapServer, RangeHTTPServer, no_proxy_env
except ImportError:  # run as a script (a server process) or imported by benchmarks/ with tests/catalogs on sys.path
    from loopback import LoopbackServer, OpendapServer, RangeHTTPServer, no_proxy_env

T0 = np.datetime64("2000-01-01T00:00:00", "s")
ERDDAP_PATH = "/erddap/tabledap/floats.csv"
FDSN_PATH = "/fdsnws/event/1/query"
ERDDAP_FIELDS = ["platform_number", "time", "latitude", "longitude", "pres", "temp"]
ERDDAP_UNITS = ["", "UTC", "degrees_north", "degrees_east", "decibar", "degree_Celsius"]
FDSN_HEADER = "#EventID|Time|Latitude|Longitude|Depth/km|Author|Catalog|Contributor|ContributorID|MagType|Magnitude|MagAuthor|EventLocationName"
BATCH = 20_000  # rows generated at a time


def rows(n: int, step_s: int, first: int, last: int):
    """Columns of rows first..last-1 (deterministic functions of the row number), in fixed decimals:
    ``(integer, decimals)`` pairs, so the text is made by numpy's C string functions (fast enough to feed
    the client), and their float values."""
    i = np.arange(first, last, dtype=np.int64)
    fixed = {"latitude": (30_000 + i * 7919 % 35000, 3), "longitude": (-30_000 + i * 104729 % 40000, 3),
             "pres": (i % 200 * 10, 1), "temp": (400 + i % 1500, 2), "depth": (i % 300, 1), "mag": (10 + i % 45, 1)}
    out = {"i": i, "time": T0 + i * step_s, "fixed": fixed}
    out.update({name: value / 10 ** digits for name, (value, digits) in fixed.items()})
    return out


def _text(value, digits: int):
    """Fixed-decimal text of integers ``value / 10**digits`` (e.g. -29123, 3 -> '-29.123')."""
    sign = np.where(value < 0, "-", "")
    whole, frac = np.divmod(np.abs(value), 10 ** digits)
    return np.strings.add(np.strings.add(np.strings.add(sign, whole.astype(str)), "."),
                          np.strings.zfill(frac.astype(str), digits))


def expected(n: int, step_s: int, start=None, end=None, bbox=None):
    """What the services hold for a query, computed apart from them (for the tests)."""
    import pandas as pd

    cols = rows(n, step_s, 0, n)
    del cols["fixed"]
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
                       "time": np.strings.add(np.datetime_as_string(c["time"], unit="s"), "Z"),
                       **{k: _text(*c["fixed"][k]) for k in ("latitude", "longitude", "pres", "temp")}}
                return [out[f] for f in fields], ","

            self._stream(head, lo, hi, box, lines, "text/csv")

        def _fdsn(self, q: dict):
            lo, hi = self._time_range(q.get("starttime"), q.get("endtime"))
            box = [float(q.get(k, d)) for k, d in (("minlongitude", -1e9), ("minlatitude", -1e9),
                                                    ("maxlongitude", 1e9), ("maxlatitude", 1e9))]

            def lines(c):  # Author|Catalog|Contributor|ContributorID|MagType are the same on every row
                f = c["fixed"]
                return [np.strings.add("ev", c["i"].astype(str)), np.datetime_as_string(c["time"], unit="s"),
                        _text(*f["latitude"]), _text(*f["longitude"]), np.strings.add(_text(*f["depth"]), "|LOOP|LOOP|stand-in||ML"),
                        _text(*f["mag"]), np.strings.add("LOOP|loopback region", np.full(len(c["i"]), ""))], "|"

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
                c = {k: ({n: (v[keep], d) for n, (v, d) in c["fixed"].items()} if k == "fixed" else c[k][keep]) for k in c}
                if len(c["i"]):
                    columns, sep = lines(c)
                    text = columns[0]
                    for col in columns[1:]:
                        text = np.strings.add(np.strings.add(text, sep), col)
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


# -- shared by the tests and benchmarks/bench_stage.py ----------------------------------------------------

REPO_CATALOG_DIR = Path(__file__).resolve().parents[2] / "catalogs"
POLE_FILES = ["catalog.yaml", "odatis.yaml", "aeris.yaml", "theia.yaml", "formater.yaml"]
#: protocol -> (entry staged, the service path and query its ``_remote`` points at)
ENTRIES = {
    "erddap": ("odatis.argo_profiles", ERDDAP_PATH + "?platform_number,time,latitude,longitude,pres,temp"),
    "fdsn": ("formater.earthquake_catalogue_france", FDSN_PATH + "?minmagnitude=1.5&format=text"),
    "opendap": ("aeris.cmip6_ipsl_tas_monthly", "/tas.nc"),
    "zarr": ("odatis.ocean_environment_monthly", "/cube.zarr"),
}
ROW_BYTES = {"erddap": 55.3, "fdsn": 97.6}  # mean answer bytes per row of TableService, measured


def copy_catalog(dest: Path) -> Path:
    """A private copy of the repository's catalogue YAML files (samples symlinked), safe to edit; its root."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name in POLE_FILES:
        shutil.copy(REPO_CATALOG_DIR / name, dest / name)
    (dest / "samples").symlink_to(REPO_CATALOG_DIR / "samples", target_is_directory=True)
    return dest / "catalog.yaml"


def point_remote(catalog_root: Path, entry_id: str, url: str) -> None:
    """Point ``<name>_remote`` of a catalogue copy at ``url`` (nothing else changes)."""
    import re

    pole, _, name = entry_id.partition(".")
    file = Path(catalog_root).parent / f"{pole}.yaml"
    text, n = re.subn(rf"(\n  {name}_remote:\n(?:    .*\n)*?      urlpath: )\S+", lambda m: m.group(1) + url, file.read_text())
    assert n == 1, entry_id
    file.write_text(text)


def write_cube(path: Path, size_mb: float) -> int:
    """A (time, 250, 500) float32 NetCDF cube of about ``size_mb``, written 50 steps at a time; its bytes."""
    import netCDF4

    n_time = max(1, int(size_mb * 1e6 / (250 * 500 * 4)))
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", n_time)
        nc.createDimension("lat", 250)
        nc.createDimension("lon", 500)
        time = nc.createVariable("time", "f8", ("time",))
        time.units, time.calendar = "days since 1990-01-01", "standard"
        time[:] = np.arange(n_time) * 30.0
        nc.createVariable("lat", "f8", ("lat",))[:] = np.linspace(30, 65, 250)
        nc.createVariable("lon", "f8", ("lon",))[:] = np.linspace(-20, 10, 500)
        tas = nc.createVariable("tas", "f4", ("time", "lat", "lon"), chunksizes=(1, 250, 500))
        rng = np.random.default_rng(2)
        for i in range(0, n_time, 50):
            tas[i:i + 50] = rng.normal(280, 8, (min(50, n_time - i), 250, 500)).astype("float32")
    return n_time * 250 * 500 * 4


def write_zarr_cube(path: Path, size_mb: float) -> int:
    """The same kind of cube as Zarr (one chunk per time step, variable ``thetao``), 50 steps at a time."""
    import pandas as pd
    import xarray as xr
    import zarr

    n_time = max(1, int(size_mb * 1e6 / (250 * 500 * 4)))
    times = pd.date_range("1990-01-01", periods=n_time, freq="MS")
    rng = np.random.default_rng(1)
    for i in range(0, n_time, 50):
        part = xr.Dataset({"thetao": (("time", "latitude", "longitude"),
                                      rng.normal(12, 3, (len(times[i:i + 50]), 250, 500)).astype("float32"))},
                          coords={"time": times[i:i + 50], "latitude": np.linspace(30, 65, 250),
                                  "longitude": np.linspace(-20, 10, 500)})
        part.chunk({"time": 1}).to_zarr(path, zarr_format=2, mode="w" if i == 0 else "a",
                                        **({} if i == 0 else {"append_dim": "time"}))
    zarr.consolidate_metadata(str(path))
    return n_time * 250 * 500 * 4


def measure(protocol: str, workdir: Path, size_mb: float = 200, block_mb: float = 16, trace: bool = True) -> dict:
    """Stage about ``size_mb`` through ``protocol`` from a server in a child process (not counted), with the
    Python heap traced: seconds, MB/s, the peak heap (tracemalloc; numpy and pandas' arrays report to it; the
    libraries are imported before), the rise of the process's peak RSS, and the staged store."""
    import re
    import time
    import tracemalloc

    from vre_catalog.index import CatalogIndex
    from vre_catalog.stage import stage

    no_proxy_env()
    workdir = Path(workdir)
    root = copy_catalog(workdir / "catalog")
    entry, path = ENTRIES[protocol]
    if protocol == "opendap":
        (workdir / "dap").mkdir(parents=True, exist_ok=True)
        size = write_cube(workdir / "dap" / "tas.nc", size_mb)
        server = ServerProcess("opendap", workdir / "dap")
    elif protocol == "zarr":
        size = write_zarr_cube(workdir / "www" / "cube.zarr", size_mb)
        server = ServerProcess("files", workdir / "www")
    else:
        size = 0
        server = ServerProcess("tables", workdir / "tables", str(int(size_mb * 1e6 / ROW_BYTES[protocol])), "60")
    said = []
    with server:
        point_remote(root, entry, server.url + path)
        index = CatalogIndex.from_catalog(root, cache=False)
        import pandas, pydap.client, xarray, zarr  # noqa: F401, E401  (code, not data: imported before the trace)

        rss0 = _peak_rss(reset=True)
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        store = stage(entry, workdir / "dataref", index=index, block_mb=block_mb, default=False, log=said.append)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace else float("nan")
        tracemalloc.stop()
    answer = next((re.search(r"from (\d+) bytes of the answer", line) for line in said if "bytes of the answer" in line), None)
    size = int(answer.group(1)) if answer else size
    return {"protocol": protocol, "entry": entry, "mb": size / 1e6, "seconds": seconds, "mb_per_s": size / 1e6 / seconds,
            "peak_heap_mb": peak / 1e6, "rss_rise_mb": (_peak_rss() - rss0) / 1e6, "block_mb": block_mb, "store": store}


def _peak_rss(reset: bool = False) -> int:
    """This process's peak resident memory (VmHWM), bytes; ``reset`` first sets the peak to the current RSS
    (``5`` into /proc/self/clear_refs), so that a second measurement in one process is not hidden by the first."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _serve(kind: str, root: str, *args: str) -> None:
    no_proxy_env()
    if kind == "tables":
        server = TableService(Path(root), *map(int, args))
    elif kind == "files":
        server = RangeHTTPServer(Path(root))
    else:
        server = OpendapServer(Path(root))
    with server:
        print(server.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


if __name__ == "__main__":
    _serve(*sys.argv[1:])
