"""The one error type of the workshop commands: printed as a single line by the CLI."""


class WorkshopError(Exception):
    """Something the operator can fix; ``str()`` says what is wrong and how to fix it."""

    def __init__(self, what: str, fix: str = ""):
        self.what = what
        self.fix = fix
        super().__init__(f"{what}; {fix}" if fix else what)
