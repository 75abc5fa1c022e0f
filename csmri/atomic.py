"""Write outputs atomically: a temporary file beside the target, then a rename.

An interrupted run (exception or SIGINT) leaves the destination untouched and
removes the temporary file, so no half-written output is ever visible.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from csmri.errors import InputError, UsageError


def check_output_path(
    path: str | Path, overwrite: bool, inputs: tuple[str | Path, ...] = ()
) -> Path:
    """Refuse an output that would clobber an input, overwrite silently, or has no folder.

    Parameters
    ----------
    path : str or Path
        Intended output file.
    overwrite : bool
        Whether an existing file may be replaced.
    inputs : tuple of path-like
        Input files that must never be the output.

    Returns
    -------
    Path
        The output path.
    """
    path = Path(path)
    if not path.parent.exists() or not path.parent.is_dir():
        raise UsageError(f"{path}: output folder {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"{path}: output is a directory")
    for source in inputs:
        if path.resolve() == Path(source).resolve():
            raise UsageError(f"{path}: output is the same file as the input")
    if path.exists() and not overwrite:
        raise UsageError(f"{path}: output exists; pass --overwrite to replace it")
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the destination's folder; rename it into place on success.

    Parameters
    ----------
    path : str or Path
        Final destination.

    Yields
    ------
    Path
        Where to write; it replaces ``path`` only if the block finishes without error.

    Notes
    -----
    A BART ``.cfl`` destination also moves its ``.hdr`` companion, header last,
    so a reader never sees a header without its data.
    """
    path = Path(path)
    suffix = "".join(path.suffixes) or ".tmp"
    try:
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=suffix, dir=path.parent
        )
    except OSError as error:
        raise InputError(f"cannot write here ({error.strerror})", path) from None
    os.close(handle)
    temp = Path(temp_name)
    pairs = [(temp, path)]
    if path.suffix == ".cfl":
        pairs.append((temp.with_suffix(".hdr"), path.with_suffix(".hdr")))
    try:
        yield temp
        for written, final in pairs:
            os.replace(written, final)
    except BaseException:
        for written, _ in pairs:
            written.unlink(missing_ok=True)
        raise
