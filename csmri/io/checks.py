"""Safety checks before reading: regular files, sizes, ``.npy``/``.npz`` headers.

Every reader refuses what it cannot use with :class:`csmri.errors.InputError` naming the
file, before any large allocation: :func:`check_size` bounds the elements of an array
from its declared shape, :func:`check_npy` and :func:`check_npz` compare the headers
with the bytes stored.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from csmri.errors import InputError

MAX_KSPACE_ELEMENTS = 2**30  # 8 GiB of complex64: refuse larger before reading

MAX_MASK_ELEMENTS = 2**24  # a column mask, even stored per row, is far smaller

def require_file(path: str | Path, what: str = "a file") -> Path:
    """Refuse a path that is missing, a directory, or not a regular file (a FIFO, a device).

    Parameters
    ----------
    path : str or Path
        Input file.
    what : str
        What was expected, for the message (``"a k-space file"``).

    Returns
    -------
    Path
        The path, known to name an existing regular file.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(f"is a directory, expected {what}", path)
        if not path.exists():
            raise InputError("no such file", path)
        if not path.is_file():
            raise InputError(f"is not a regular file, expected {what}", path)
    except OSError as error:  # a path too long, a loop of links, no permission on a folder
        raise InputError(f"cannot open ({error.strerror or error})", path) from None
    return path

def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when empty)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

def check_size(shape: tuple[int, ...], path: object, limit: int = MAX_KSPACE_ELEMENTS) -> None:
    """Refuse an array of ``shape`` with more than ``limit`` elements before it is read."""
    count = float(np.prod(shape, dtype=np.float64))
    if count > limit:
        raise InputError(f"array of shape {tuple(shape)} is too large to load", path)

def read_npy_header(handle: BinaryIO, path: object = None) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an open ``.npy`` stream, without reading the data.

    Parameters
    ----------
    handle : binary file
        Positioned at the start of the ``.npy`` content; left just after the header.
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    tuple
        ``(shape, dtype)`` as the header declares them.
    """
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = npformat.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = npformat.read_array_header_2_0(handle)
        else:
            raise InputError(f"unsupported .npy format version {version}", path)
    except InputError:
        raise
    except (ValueError, OSError, EOFError, TypeError, SyntaxError) as error:
        raise InputError(f"not a readable NumPy file ({first_line(error)})", path) from None
    if dtype.hasobject:
        raise InputError("holds Python objects (a pickle); refused", path)
    return tuple(shape), dtype

def check_npy(path: Path, limit: int = MAX_KSPACE_ELEMENTS) -> tuple[tuple[int, ...], np.dtype]:
    """Check a ``.npy`` file's header against its size and ``limit`` before loading it.

    Parameters
    ----------
    path : Path
        The ``.npy`` file.
    limit : int
        Largest number of elements accepted.

    Returns
    -------
    tuple
        ``(shape, dtype)`` from the header.
    """
    try:
        with open(path, "rb") as handle:
            shape, dtype = read_npy_header(handle, path)
            offset = handle.tell()
        size = path.stat().st_size
    except OSError as error:
        raise InputError(f"cannot read ({error.strerror or error})", path) from None
    check_size(shape, path, limit)
    needed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    if size - offset < needed:
        raise InputError(
            f"truncated: header declares {shape} {dtype} ({needed} bytes), "
            f"file holds {size - offset}",
            path,
        )
    return shape, dtype

def check_npz(path: Path) -> None:
    """Check every member's header against its stored size before :func:`numpy.load`."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as handle:
                    shape, dtype = read_npy_header(handle, path)
                    offset = handle.tell()
                check_size(shape, path)
                needed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if info.file_size - offset < needed:
                    raise InputError(
                        f"truncated: member {info.filename} declares {shape} {dtype}", path
                    )
    except InputError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
    ) as error:
        raise InputError(f"not a readable .npz file ({first_line(error)})", path) from None
