"""Real catalogue servers on 127.0.0.1 for the harvest/publish tests.

- PycswServer: pycsw (the OGC CSW reference implementation, from PyPI) with a SQLite repository loaded from a
  directory of ISO 19139 XML files, in its own process and virtualenv (pycsw-requirements.txt says why).
  ``fail_from(n)`` makes it answer HTTP 500 to any GetRecords page starting at record n or later.
- StaticServer: plain files (a static STAC catalogue) over HTTP, with a request counter.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .loopback import LoopbackServer

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "pycsw-requirements.txt"


def pycsw_python() -> Path:
    """The python of a virtualenv with pycsw, built once (about 20 s) under ~/.cache/dataterra-vre/."""
    key = hashlib.sha1(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dataterra-vre" / f"pycsw-{key}"
    python = cache / "bin" / "python"
    if not (cache / ".complete").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(cache)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
        (cache / ".complete").touch()
    return python


class PycswServer:
    def __init__(self, workdir: Path, records_dir: Path):
        self.workdir, self.records_dir = Path(workdir), Path(records_dir)
        self.python = pycsw_python()
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.loaded = 0

    def __enter__(self):
        self.proc = subprocess.Popen([str(self.python), str(HERE / "pycsw_server.py"), str(self.workdir), str(self.records_dir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2:
            self.proc.kill()
            raise RuntimeError(f"pycsw did not start (exit {self.proc.wait()}); see the captured stderr")
        self.loaded, self.url = int(line[0]), line[1]
        return self

    def load(self, records_dir: Path | None = None) -> int:
        """(Re)load the XML files (new identifiers added, existing ones updated) while the server runs."""
        out = subprocess.run([str(self.python), str(HERE / "pycsw_server.py"), str(self.workdir),
                              str(records_dir or self.records_dir), "--load"], capture_output=True, text=True, check=True)
        return int(out.stdout.split()[-1])

    def fail_from(self, position: int | None) -> None:
        """Answer HTTP 500 to GetRecords pages starting at ``position`` (1-based) or later; None heals it."""
        flag = self.workdir / "fail_from"
        if position is None:
            flag.unlink(missing_ok=True)
        else:
            flag.write_text(str(position))

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class StaticServer(LoopbackServer):
    """Serve ``root`` read-only on 127.0.0.1; ``requests`` counts GETs."""

    def __init__(self, root: Path):
        server = self
        self.requests = 0

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                server.requests += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        super().__init__(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
