"""The one error type of the VRE's tools, and the exit-code policy of its commands."""

#: Exit codes of every ``vre`` command: done; failed (one line on stderr says what and how to
#: fix it); wrong usage (argparse's); interrupted (Ctrl-C; running the command again finishes it).
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


class VREError(Exception):
    """Something the person at the command can fix: ``what`` is wrong and ``fix``, how to fix it.

    ``str()`` is the one line a command prints (``what; fix``)."""

    def __init__(self, what: str, fix: str = ""):
        self.what = what
        self.fix = fix
        super().__init__(f"{what}; {fix}" if fix else what)
