"""The CLI's one error type: a problem the operator must fix, printed as one line."""

from __future__ import annotations


class CliError(Exception):
    """A problem the operator must fix; printed without a traceback. `code` is the exit status."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
