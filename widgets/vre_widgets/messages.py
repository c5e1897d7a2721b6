"""In-widget status line: errors become one readable sentence, never a traceback."""

from __future__ import annotations

import functools
import html
import logging
import socket

import ipywidgets as w

log = logging.getLogger(__name__)

_STYLE = {
    "info": "color:#333",
    "warning": "color:#8a5300;background:#fff4e0;padding:2px 6px;border-radius:3px",
    "error": "color:#a40000;background:#fde8e8;padding:2px 6px;border-radius:3px",
}


class PreviewTooLarge(ValueError):
    """The quick-look would move too much data into the browser."""


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong and what to do about it."""
    from ._catalog import CatalogUnavailable

    if isinstance(exc, CatalogUnavailable):
        return str(exc)
    if isinstance(exc, PreviewTooLarge):
        return f"preview too large: {exc}"
    if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)) or _is_network_error(exc):
        return (f"dataset unreachable ({type(exc).__name__}: {exc}); the data service may be "
                "down or offline here — choose the 'sample' source to use the embedded sample")
    if isinstance(exc, FileNotFoundError):
        return (f"data file not found ({exc}); regenerate the samples with "
                "`python -m vre_catalog.samples --out DIR` or choose the remote source")
    if isinstance(exc, (KeyError, ValueError)) and exc.args:
        return str(exc.args[0])  # our and the catalogue's messages already say what to do
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def _is_network_error(exc: BaseException) -> bool:
    # aiohttp/requests/OSError wrappers differ; walk the cause chain for a network-ish error.
    seen = 0
    while exc is not None and seen < 10:
        name = type(exc).__name__
        if isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)) or any(
            key in name for key in ("Connect", "Timeout", "ClientOSError", "HTTPError")
        ):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class StatusLine(w.HTML):
    """A one-line message area; ``.kind`` and ``.text`` are inspectable by tests."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.kind, self.text = "info", ""

    def show(self, text: str, kind: str = "info") -> None:
        self.kind, self.text = kind, text
        role = ' role="alert"' if kind == "error" else ""
        self.value = f'<span{role} style="{_STYLE[kind]}">{html.escape(text)}</span>' if text else ""

    def clear(self) -> None:
        self.show("")


def reported(status_attr: str = "status"):
    """Decorate a widget callback so any exception lands in ``self.<status_attr>``.

    Widget callbacks run inside the kernel's comm handler: an uncaught error would go
    to the log console where a participant never looks, so show it in the widget.
    """

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - shown to the user, logged for us
                log.debug("widget callback %s failed", method.__name__, exc_info=True)
                getattr(self, status_attr).show(describe_error(exc), "error")
                return None

        return wrapper

    return decorate
