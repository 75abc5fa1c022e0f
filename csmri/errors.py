"""Exceptions that carry a user-facing, one-line message."""

from __future__ import annotations


class CsmriError(Exception):
    """Base class for errors reported to the user as one line, without a traceback."""

    exit_code = 1


class InputError(CsmriError):
    """A file or array that cannot be used: the message names the file and the problem."""

    def __init__(self, problem: str, path: object | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class UsageError(CsmriError):
    """An option or argument value that makes no sense (exit status 2)."""

    exit_code = 2


class SolverError(CsmriError):
    """A solver diverged or produced non-finite values."""
