"""Exceptions that carry a user-facing, one-line message."""

from __future__ import annotations

MAX_MESSAGE = 500


def one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    """Collapse whitespace (newlines included) and cap the length of a message.

    Parameters
    ----------
    text : object
        Message, or an exception whose text may span lines (nibabel's, h5py's).
    limit : int
        Longest message kept; longer ones end in an ellipsis.

    Returns
    -------
    str
        One line.
    """
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class CsmriError(Exception):
    """Base class for errors reported to the user as one line, without a traceback."""

    exit_code = 1

    def __str__(self) -> str:
        return one_line(super().__str__())


class InputError(CsmriError, ValueError):
    """A file or array that cannot be used: the message names the file and the problem.

    A :class:`ValueError`, as NumPy callers expect of a bad argument.
    """

    def __init__(self, problem: str, path: object | None = None) -> None:
        self.path = None if path is None else str(path)
        self.problem = one_line(problem)
        super().__init__(f"{self.path}: {self.problem}" if self.path else self.problem)


class UsageError(CsmriError, ValueError):
    """An option or argument value that makes no sense (exit status 2); a :class:`ValueError`."""

    exit_code = 2


class SolverError(CsmriError):
    """A solver diverged or produced non-finite values."""


class DataWarning(UserWarning):
    """The data contradict the file's header (or look suspicious): the data decide.

    Readers warn with this category; :func:`csmri.io.read_acquisition` passes these on
    (library warnings are silenced) and the ``csmri`` command prints each as one line.
    """
