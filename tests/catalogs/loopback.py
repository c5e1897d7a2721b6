"""Loopback data servers for the remote-protocol tests (127.0.0.1 only).

- RangeHTTPServer: static files with HTTP Range support (what fsspec's HTTP filesystem needs for
  lazy NetCDF/Zarr reads), counting the bytes it sends.
- OPeNDAP: pydap's own DapServer (WSGI) wrapped in a byte-counting middleware.
"""
from __future__ import annotations

import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class ByteCounter:
    def __init__(self):
        self._lock = threading.Lock()
        self.bytes = 0
        self.requests = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.bytes += n
            self.requests += 1

    def reset(self) -> None:
        with self._lock:
            self.bytes = self.requests = 0


def _handler(root: Path, counter: ByteCounter):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _target(self) -> Path | None:
            rel = self.path.split("?", 1)[0].lstrip("/")
            path = (root / rel).resolve()
            return path if path.is_file() and root in path.parents else None

        def do_HEAD(self):
            self._serve(body=False)

        def do_GET(self):
            self._serve(body=True)

        def _serve(self, body: bool):
            path = self._target()
            if path is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = path.stat().st_size
            start, end, status = 0, size - 1, 200
            match = _RANGE.match(self.headers.get("Range", ""))
            if match and size:
                a, b = match.groups()
                if a:
                    start, end = int(a), min(int(b) if b else size - 1, size - 1)
                else:  # suffix range: last N bytes
                    start, end = max(size - int(b), 0), size - 1
                status = 206
            length = max(end - start + 1, 0)
            self.send_response(status)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            if body and length:
                with open(path, "rb") as f:
                    f.seek(start)
                    data = f.read(length)
                self.wfile.write(data)
                counter.add(len(data))

    return Handler


class LoopbackServer:
    """A threaded server on a free 127.0.0.1 port, serving in a thread for a ``with`` block;
    ``url`` is its address. Subclasses make the server and pass it to ``__init__``."""

    def __init__(self, httpd):
        self.httpd = httpd
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class RangeHTTPServer(LoopbackServer):
    """Serve ``root`` on 127.0.0.1 with Range support; ``url`` and ``counter`` for the tests."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.counter = ByteCounter()
        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.root, self.counter)))


def _patch_pydap_block_reshape() -> None:
    """Work around a server-side bug of pydap 3.5.9's netCDF handler.

    ``LazyVariable.__getitem__`` reshapes whatever block it reads to the variable's full shape, so serving a
    multi-dimensional array in blocks (what the DODS response does) fails with "cannot reshape".  We only
    reshape when the sizes agree.  The client side under test (xarray's pydap engine through intake's
    ``opendap`` driver) is untouched.
    """
    import numpy as np
    from pydap.handlers import netcdf_handler

    cls = netcdf_handler.LazyVariable
    if getattr(cls, "_vre_patched", False):
        return
    from netCDF4 import Dataset as netcdf_file

    def __getitem__(self, key):
        with netcdf_file(self.filepath, "r") as source:
            source.set_auto_scale(False)
            data = np.asarray(source[self.path][key]).astype(self.dtype)
        return data.reshape(self._reshape) if data.size == int(np.prod(self._reshape)) else data

    cls.__getitem__ = __getitem__
    cls._vre_patched = True


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class OpendapServer(LoopbackServer):
    """pydap's DapServer over ``root`` on 127.0.0.1, counting response bytes."""

    def __init__(self, root: Path):
        from pydap.wsgi.app import DapServer

        _patch_pydap_block_reshape()
        self.counter = ByteCounter()
        app = DapServer(str(root))
        counter = self.counter

        def counting(environ, start_response):
            sent = 0
            for chunk in app(environ, start_response):
                sent += len(chunk)
                yield chunk
            counter.add(sent)

        super().__init__(make_server("127.0.0.1", 0, counting, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler))


def no_proxy_env() -> None:
    """Loopback requests must never go through a proxy."""
    for key in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        os.environ.pop(key, None)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
