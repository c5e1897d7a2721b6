"""Drive a real JupyterLab with Playwright: start a server, open a notebook, run cells.

Kept free of widget specifics so other browser tests (e.g. the hub's, against a lab
spawned in the user image) can reuse ``open_notebook``/``run_cell``/``cell_output``
with their own page and lab URL.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from vre_testing import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
]
NOTEBOOK = ".jp-NotebookPanel:visible .jp-Notebook"  # the notebook of the visible tab (Playwright CSS)
LOOPBACK = re.compile(r"^(https?|wss?)://(127\.\d+\.\d+\.\d+|localhost)(:\d+)?/")


class LabServer:
    """A real ``jupyter lab`` on a free loopback port, with a token, serving ``root_dir``."""

    def __init__(self, root_dir: Path, env: dict | None = None, python: str = sys.executable,
                 log_path: Path | None = None):
        self.root_dir = Path(root_dir)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.python = python
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path or self.root_dir / "jupyter-lab.log"
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> "LabServer":
        settings = self.root_dir / ".lab-user-settings"
        workspaces = self.root_dir / ".lab-workspaces"
        for folder in (settings, workspaces):
            folder.mkdir(parents=True, exist_ok=True)
        # No news feed, no update check: the server must not reach outside loopback.
        _write_lab_settings(settings)
        env = {**self.env, "JUPYTERLAB_SETTINGS_DIR": str(settings),
               "JUPYTERLAB_WORKSPACES_DIR": str(workspaces)}
        command = [
            self.python, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
            f"--port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=self.root_dir, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self.process.returncode}); "
                                   f"see {self.log_path}")
            try:
                self.api("GET", "/api/status")
                return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer within {timeout}s; see {self.log_path}")

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def write_notebook(self, name: str, cells: list[str] | None = None) -> str:
        """Create ``name`` (a python3 notebook, optionally with code cells) through the API."""
        self.api("PUT", f"/api/contents/{name}", {"type": "notebook", "format": "json",
                                                    "content": new_notebook(cells)})
        return name

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if getattr(self, "_log", None):
            self._log.close()


def _write_lab_settings(folder: Path) -> None:
    news = folder / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def new_notebook(cells: list[str] | None = None) -> dict:
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": src,
                   "outputs": [], "execution_count": None} for i, src in enumerate(cells or [""])],
    }


# ---------------------------------------------------------------------------- browser side
def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def loopback_only(page) -> list[str]:
    """Abort every request that would leave 127.0.0.0/8; return the list of blocked URLs."""
    blocked: list[str] = []

    def route(route):
        url = route.request.url
        if LOOPBACK.match(url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", route)
    return blocked


def open_notebook(page, lab_url: str, path: str, token: str | None = None,
                  timeout: float = 120_000):
    """Open ``path`` in JupyterLab and wait for its kernel to be idle."""
    # ?reset: start from an empty workspace, not with the tabs of a previous test open.
    query = f"?reset&token={token}" if token else "?reset"
    page.goto(f"{lab_url.rstrip('/')}/lab/tree/{path}{query}")
    page.locator(f"{NOTEBOOK} .jp-Cell").first.wait_for(timeout=timeout)
    wait_kernel_idle(page, timeout)


def wait_kernel_idle(page, timeout: float = 120_000):
    """Wait until the status bar says the notebook's kernel is connected and idle."""
    page.wait_for_function(
        """() => {
            const s = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const bar = document.querySelector('#jp-main-statusbar');
            return s && s.getAttribute('data-status') === 'idle'
                && bar && bar.textContent.includes('Idle');
        }""", timeout=timeout)


def run_cell(page, code: str, timeout: float = 120_000):
    """Put ``code`` into the last cell, run it, wait until it finished; return that cell."""
    cells = page.locator(f"{NOTEBOOK} .jp-CodeCell")
    cell = cells.nth(cells.count() - 1)
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)  # no key events: no auto-closed brackets or auto-indent
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputPrompt")
    page.wait_for_function(
        """(el) => /\\[\\d+\\]/.test(el.textContent)""", arg=prompt.element_handle(),
        timeout=timeout)
    return cell


def cell_output(cell) -> str:
    """The text of a cell's outputs (stdout, results and errors)."""
    outputs = cell.locator(".jp-OutputArea-output")
    return "\n".join(outputs.nth(i).inner_text() for i in range(outputs.count())).strip()
