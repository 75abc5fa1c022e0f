"""Write outputs atomically: a temporary file beside the target, then a rename.

An interrupted run (exception or SIGINT) leaves the destination untouched and
removes the temporary file, so no half-written output is ever visible.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from csmri.errors import InputError, UsageError
from csmri.io.cfl import cfl_pair

_PAIRED = (".cfl", ".hdr")  # BART writes a pair: data and header share a stem


def _companions(path: Path) -> list[Path]:
    """Every file a write to ``path`` creates (a BART pair is two files)."""
    if path.suffix in _PAIRED:
        return list(cfl_pair(path))
    return [path]


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except (OSError, RuntimeError):  # a loop of symbolic links: treat as different
        return False


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
        Input files that must never be the output (for a BART pair, neither file
        of the pair may be).

    Returns
    -------
    Path
        The output path.
    """
    path = Path(path)
    if str(path) in ("", ".") or path.name in ("", ".", ".."):
        raise UsageError(f"{path}: output must name a file")
    if not path.parent.is_dir():
        raise UsageError(f"{path}: output folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise UsageError(f"{path}: output folder {path.parent} is not writable")
    outputs = _companions(path)
    for output in outputs:
        if output.is_dir():
            raise UsageError(f"{output}: output is a directory")
    for source in inputs:
        for candidate in _companions(Path(source)):
            if any(_same_file(output, candidate) for output in outputs):
                raise UsageError(f"{path}: output is the same file as the input {source}")
    if not overwrite:
        for output in outputs:
            if output.exists() or output.is_symlink():
                raise UsageError(f"{output}: output exists; pass --overwrite to replace it")
    return path


def _default_mode(final: Path) -> int:
    """Mode a plain ``open`` would give: the replaced file's, else ``0o666`` less the umask."""
    try:
        return stat.S_IMODE(final.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _sync(path: Path) -> None:
    """Flush a written file to disk so the rename never exposes an empty file after a crash."""
    with contextlib.suppress(OSError):
        handle = os.open(path, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


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
    so a reader never sees a header without its data; if the run is interrupted
    between the two renames, a ``.cfl`` this call created is removed again.
    The output gets the permissions a plain ``open`` would give it (those of the
    file it replaces, or ``0o666`` less the umask), not ``mkstemp``'s ``0o600``.
    """
    path = Path(path)
    suffix = "".join(path.suffixes) or ".tmp"
    try:
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{path.stem}.", suffix=suffix, dir=path.parent
        )
    except OSError as error:
        raise InputError(f"cannot write here ({error.strerror})", path) from None
    temp = Path(temp_name)
    pairs = [(temp, path)]
    if path.suffix == ".cfl":
        pairs.append((cfl_pair(temp)[1], cfl_pair(path)[1]))
    existed = {final: final.exists() for _, final in pairs}
    replaced: list[Path] = []
    try:
        os.close(handle)
        yield temp
        for written, final in pairs:
            _sync(written)
            os.chmod(written, _default_mode(final))
        for written, final in pairs:
            os.replace(written, final)
            replaced.append(final)
    except BaseException:
        for written, _ in pairs:
            written.unlink(missing_ok=True)
        if len(replaced) < len(pairs):  # never leave half of a BART pair behind
            for final in replaced:
                if not existed[final]:
                    final.unlink(missing_ok=True)
        raise
