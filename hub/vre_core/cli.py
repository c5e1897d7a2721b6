"""The CLI kit of the ``vre`` command groups (``vre``, ``vre jobs``, ``vre workshop``).

One policy everywhere: subcommands (never a verb as a positional choice); the same flag
names (``--url`` for the server a group talks to, ``--token``, ``--state-dir``, ``--json``
to print results as JSON); errors as one line on stderr, ``error: <what>; <how to fix>``
(:class:`~vre_core.errors.VREError`), and the exit codes of :mod:`vre_core.errors`.
"""

import argparse
import json
import sys
from collections.abc import Callable

from .errors import FAILED, INTERRUPTED, VREError


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return FAILED


def run(command: Callable[[], int], unexpected: str = "see the logs") -> int:
    """Run ``command()`` and turn what it raises into one line and an exit code: a
    :class:`VREError` prints what and how to fix; Ctrl-C exits 130; anything else (Docker,
    the file system) prints its type and message with ``unexpected`` as the fix."""
    try:
        return command()
    except VREError as error:
        return fail(str(error))
    except KeyboardInterrupt:
        print("error: interrupted; run the command again to finish", file=sys.stderr, flush=True)
        return INTERRUPTED
    except OSError as error:
        return fail(f"{error}; check the path and permissions")
    except Exception as error:  # one line, not a traceback
        return fail(f"{error.__class__.__name__}: {error}; {unexpected}")


def print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


class _Deprecated(argparse.Action):
    """An old flag name: still works, says which name to use."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"warning: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_url(parser: argparse.ArgumentParser, help: str, old: tuple[str, ...] = ()) -> None:
    """``--url``: the server this command group talks to; ``old`` names keep working (hidden)."""
    parser.add_argument("--url", help=help)
    for name in old:
        parser.add_argument(name, dest="url", action=_Deprecated, new="--url", help=argparse.SUPPRESS)


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", default=None, help="hub state folder (default $VRE_STATE_DIR or ./.vre)")
