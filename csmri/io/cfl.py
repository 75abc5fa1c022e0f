"""BART's ``.cfl``/``.hdr`` file pair: complex64 data in column-major order, 16 dims.

Our k-space stacks ``(S, H, W)`` map to BART dims ``[H, W, 1, 1, ..., S]``: the
readout (rows, BART's x) first, phase encoding (columns, BART's y) second and
slices in BART's slice dimension (13).  Coils live in dimension 3.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.acquisition import Acquisition
from csmri.errors import InputError

BART_DIMS = 16
COIL_DIM = 3
SLICE_DIM = 13
MAX_ELEMENTS = 2**31
MAX_HEADER_BYTES = 1 << 16  # a BART header is one comment and one line of 16 numbers


def cfl_base(path: str | Path) -> Path:
    """Strip a ``.cfl`` or ``.hdr`` suffix: BART names a pair by its common stem."""
    path = Path(path)
    return path.with_suffix("") if path.suffix in (".cfl", ".hdr") else path


def cfl_pair(path: str | Path) -> tuple[Path, Path]:
    """The ``(data, header)`` files of a BART pair named by either file or the stem.

    Parameters
    ----------
    path : str or Path
        ``NAME.cfl``, ``NAME.hdr`` or ``NAME``; ``NAME`` may itself contain dots
        (``sub.01.cfl`` pairs with ``sub.01.hdr``, not ``sub.hdr``).

    Returns
    -------
    tuple of Path
        ``NAME.cfl`` and ``NAME.hdr``.
    """
    base = cfl_base(path)
    return base.with_name(base.name + ".cfl"), base.with_name(base.name + ".hdr")


def read_cfl_header(path: str | Path) -> tuple[int, ...]:
    """Dimensions listed in a ``.hdr`` file.

    Parameters
    ----------
    path : str or Path
        The ``.cfl``/``.hdr`` pair (either name, or the stem).

    Returns
    -------
    tuple of int
        The dimensions, BART order, as listed.
    """
    header = cfl_pair(path)[1]
    try:
        if not header.is_file():
            raise InputError("missing BART header (.hdr) beside the .cfl file", header)
        if header.stat().st_size > MAX_HEADER_BYTES:
            raise InputError("BART header is too large to be a header", header)
        lines = header.read_text(encoding="ascii", errors="strict").splitlines()
    except (UnicodeDecodeError, OSError) as error:
        reason = getattr(error, "strerror", None) or "not ASCII text"
        raise InputError(f"unreadable BART header ({reason})", header) from None
    fields = [line for line in lines if line.strip() and not line.startswith("#")]
    try:
        dims = tuple(int(value) for value in fields[0].split())
    except (IndexError, ValueError):
        raise InputError("BART header has no dimension line", header) from None
    if not dims or any(d < 1 for d in dims):
        raise InputError(f"BART header lists invalid dimensions {dims}", header)
    return dims


def read_cfl(path: str | Path) -> np.ndarray:
    """Read a ``.cfl``/``.hdr`` pair into a Fortran-ordered complex64 array.

    Parameters
    ----------
    path : str or Path
        Either file of the pair, or the stem.

    Returns
    -------
    ndarray of complex64
        Shape as in the header, trailing singleton dimensions dropped.
    """
    dims = read_cfl_header(path)
    data_file = cfl_pair(path)[0]
    count = int(np.prod(dims, dtype=np.float64))
    if count > MAX_ELEMENTS:
        raise InputError(
            f"BART header claims {count} elements, more than this tool reads", data_file
        )
    try:
        if not data_file.is_file():
            raise InputError("missing BART data file (.cfl)", data_file)
        size = data_file.stat().st_size
        if size != count * 8:
            raise InputError(
                f"BART data file has {size} bytes, header dims {dims} need {count * 8}", data_file
            )
        data = np.fromfile(data_file, dtype=np.complex64, count=count)
    except OSError as error:
        raise InputError(f"cannot read ({error.strerror or error})", data_file) from None
    if data.size != count:  # the file shrank while we read it
        raise InputError(f"BART data file is truncated ({data.size} of {count} values)", data_file)
    while len(dims) > 2 and dims[-1] == 1:  # trailing singletons, as BART's readcfl drops them
        dims = dims[:-1]
    return data.reshape(dims, order="F")


def write_cfl(path: str | Path, array: np.ndarray) -> None:
    """Write an array (BART dimension order) as a ``.cfl``/``.hdr`` pair.

    Parameters
    ----------
    path : str or Path
        Either file of the pair, or the stem.
    array : ndarray
        Data in BART's dimension order; stored as complex64, column-major.
    """
    data_file, header = cfl_pair(path)
    array = np.asarray(array, dtype=np.complex64)
    dims = list(array.shape) + [1] * max(0, BART_DIMS - array.ndim)
    header.write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    np.asfortranarray(array).T.tofile(data_file)


def stack_to_bart(stack: np.ndarray) -> np.ndarray:
    """``(S, H, W)`` (or ``(H, W)``) -> BART order ``[H, W, 1, ..., S]`` (14 dims)."""
    stack = np.asarray(stack)
    if stack.ndim == 2:
        stack = stack[np.newaxis]
    return coil_stack_to_bart(stack[:, np.newaxis])


def coil_stack_to_bart(stack: np.ndarray) -> np.ndarray:
    """``(S, C, H, W)`` -> BART order ``[H, W, 1, C, 1, ..., S]`` (slices in dim 13)."""
    s, c, h, w = stack.shape
    out = np.transpose(stack, (2, 3, 1, 0))  # H, W, C, S
    dims = [h, w, 1, c] + [1] * (SLICE_DIM - 4) + [s]
    return np.asfortranarray(out).reshape(dims, order="F")


def bart_to_stack(array: np.ndarray, path: object = None) -> np.ndarray:
    """BART order -> ``(S, H, W)``, taking slices from dims 2 (z) or 13 (slice).

    Parameters
    ----------
    array : ndarray
        BART-ordered data.
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    ndarray, shape (S, H, W)
        Slices first.
    """
    dims = list(array.shape) + [1] * (BART_DIMS - array.ndim)
    if dims[COIL_DIM] > 1:
        raise InputError(f"multi-coil data ({dims[COIL_DIM]} coils) where one coil is expected",
                         path)
    return _slice_stack(array, path, "single-coil")[:, 0]


def bart_to_coil_stack(array: np.ndarray, path: object = None) -> np.ndarray:
    """BART order (coils in dim 3, slices in dim 2 or 13) -> ``(S, C, H, W)``.

    Parameters
    ----------
    array : ndarray
        BART-ordered data.
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    ndarray, shape (S, C, H, W)
        Slices first, then coils.
    """
    return _slice_stack(array, path, "multi-coil")


def _slice_stack(array: np.ndarray, path: object, kind: str) -> np.ndarray:
    """``(S, C, H, W)`` of BART data; ``kind`` names the expected data in the error."""
    dims = list(array.shape) + [1] * (BART_DIMS - array.ndim)
    extra = [d for i, d in enumerate(dims) if i not in (0, 1, 2, COIL_DIM, SLICE_DIM) and d > 1]
    if extra or (dims[2] > 1 and dims[SLICE_DIM] > 1):
        raise InputError(f"BART dims {tuple(dims)} are not a {kind} 2-D slice stack", path)
    h, w, c, s = dims[0], dims[1], dims[COIL_DIM], dims[2] * dims[SLICE_DIM]
    array = array.reshape(dims, order="F")
    array = np.moveaxis(array, (2, SLICE_DIM), (-2, -1)).reshape(h, w, c, s, order="F")
    return np.ascontiguousarray(np.transpose(array, (3, 2, 0, 1)))


def read_cfl_kspace(path: str | Path) -> Acquisition:
    """Read BART k-space (coils in dim 3; slices in dim 2 or 13) into an Acquisition.

    Parameters
    ----------
    path : str or Path
        ``.cfl`` or ``.hdr`` of the pair.

    Returns
    -------
    Acquisition
        One coil or several; the mask is inferred from the non-zero samples.
    """
    from csmri.io.validate import validate_kspace, validate_multicoil

    array = read_cfl(path)
    dims = list(array.shape) + [1] * (BART_DIMS - array.ndim)
    if dims[COIL_DIM] > 1:
        stack = bart_to_coil_stack(array, path)
        kspace, mask, _, inferred = validate_multicoil(stack, None, None, path)
    else:
        kspace, mask, inferred = validate_kspace(bart_to_stack(array, path), None, path)
        kspace = kspace[:, np.newaxis]
    return Acquisition(kspace, mask, source=Path(path), mask_inferred=inferred)
