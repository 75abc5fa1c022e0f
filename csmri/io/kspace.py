"""Read and write single-coil k-space files: fastMRI ``.h5``, BART ``.cfl``, ``.npy``/``.npz``.

Every reader returns :class:`KspaceData` with k-space ``(S, H, W)`` complex64,
a column mask ``(W,)`` (read from the file or inferred from the non-zero
columns), an optional magnitude target and the file's attributes.  Files that
cannot be used raise :class:`csmri.errors.InputError` naming the file, before
any large allocation.
"""

from __future__ import annotations

import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from csmri.errors import InputError
from csmri.io.cfl import bart_to_stack, cfl_pair, read_cfl, stack_to_bart, write_cfl

MAX_KSPACE_ELEMENTS = 2**30  # 8 GiB of complex64: refuse larger before reading
MAX_MASK_ELEMENTS = 2**24  # a column mask, even stored per row, is far smaller
MIN_SIDE = 8
KSPACE_SUFFIXES = (".h5", ".cfl", ".hdr", ".npy", ".npz")
TARGET_KEYS = ("reconstruction_esc", "reconstruction_rss")


@dataclass
class KspaceData:
    """Single-coil k-space stack with its mask, optional target and attributes.

    Attributes
    ----------
    kspace : ndarray of complex64, shape (S, H, W)
        Measured k-space (zero where not sampled).
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    target : ndarray of float32, shape (S, h, w), or None
        Magnitude reference, if the file carries one.
    attrs : dict
        File attributes (fastMRI ``attrs``; simulation parameters).
    mask_inferred : bool
        True when the file had no mask and it was inferred from non-zero columns.
    """

    kspace: np.ndarray
    mask: np.ndarray
    target: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)
    mask_inferred: bool = False


def infer_mask(kspace: np.ndarray) -> np.ndarray:
    """Columns with any non-zero sample in any slice or row.

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W)
        k-space stack.

    Returns
    -------
    ndarray of bool, shape (W,)
        Inferred column mask.
    """
    return np.any(kspace != 0, axis=(0, 1))


def validate_kspace(
    kspace: np.ndarray, mask: np.ndarray | None, path: object = None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Check dtype, rank, size, finiteness and the mask; return ``(kspace, mask, inferred)``.

    Parameters
    ----------
    kspace : ndarray
        Candidate k-space, ``(S, H, W)`` or ``(H, W)``.
    mask : ndarray or None
        Candidate column mask; inferred from the data when None.
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    tuple
        k-space as complex64 ``(S, H, W)``, mask as bool ``(W,)``, and whether it was inferred.
    """
    kspace = np.asanyarray(kspace)
    if kspace.dtype.kind != "c":
        raise InputError(f"k-space must be complex, got {kspace.dtype}", path)
    if kspace.ndim == 2:
        kspace = kspace[np.newaxis]
    if kspace.ndim == 4:
        raise InputError(
            f"multi-coil k-space {kspace.shape}: read it with csmri.io.multicoil.read_multicoil",
            path,
        )
    if kspace.ndim != 3:
        raise InputError(f"k-space must have shape (slices, H, W), got {kspace.shape}", path)
    if min(kspace.shape[-2:]) < MIN_SIDE:
        raise InputError(f"k-space of {kspace.shape[-2]}x{kspace.shape[-1]} is too small", path)
    if kspace.shape[0] == 0:
        raise InputError("k-space has no slices", path)
    with np.errstate(all="ignore"):  # complex128 beyond float32 range becomes inf: refused below
        kspace = np.asarray(kspace, dtype=np.complex64)
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf", path)
    inferred = mask is None
    if inferred:
        mask = infer_mask(kspace)
    else:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biuf":
            raise InputError(f"mask must be boolean or real numbers, got {mask.dtype}", path)
        if mask.ndim != 1 and mask.size == kspace.shape[-1]:
            mask = mask.reshape(-1)
        if mask.ndim != 1 or mask.size != kspace.shape[-1]:
            raise InputError(
                f"mask of shape {mask.shape} does not match k-space width {kspace.shape[-1]}", path
            )
        if not np.isfinite(mask.astype(np.float64)).all():
            raise InputError("mask contains NaN or Inf", path)
        mask = mask != 0
    if not mask.any():
        raise InputError("mask samples no column (all zero)", path)
    return kspace, mask, inferred


def read_kspace(path: str | Path) -> KspaceData:
    """Read a single-coil k-space file by suffix.

    Parameters
    ----------
    path : str or Path
        ``.h5`` (fastMRI), ``.cfl``/``.hdr`` (BART), ``.npy`` or ``.npz``
        (arrays ``kspace``, optional ``mask`` and ``target``).

    Returns
    -------
    KspaceData
        The validated contents.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".cfl", ".hdr"):
        data_file = cfl_pair(path)[0]
        require_file(path if path.exists() else data_file, "a k-space file")
        require_file(data_file, "a BART .cfl data file")
    else:
        require_file(path, "a k-space file")
    with warnings.catch_warnings():  # one line per problem: no library warnings on stderr
        warnings.simplefilter("ignore")
        if suffix == ".h5":
            return _read_h5(path)
        if suffix in (".cfl", ".hdr"):
            stack = bart_to_stack(read_cfl(path), path)
            kspace, mask, inferred = validate_kspace(stack, None, path)
            return KspaceData(kspace, mask, mask_inferred=inferred)
        if suffix in (".npy", ".npz"):
            return _read_numpy(path)
    raise InputError(
        f"unknown k-space format {suffix or '(no suffix)'}; "
        f"expected one of {', '.join(KSPACE_SUFFIXES)}",
        path,
    )


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


def check_size(shape: tuple[int, ...], path: object, limit: int = MAX_KSPACE_ELEMENTS) -> None:
    """Refuse an array of ``shape`` with more than ``limit`` elements before it is read."""
    count = float(np.prod(shape, dtype=np.float64))
    if count > limit:
        raise InputError(f"array of shape {tuple(shape)} is too large to load", path)


def _read_h5(path: Path) -> KspaceData:
    import h5py

    try:
        with h5py.File(path, "r") as file:
            dataset = h5_dataset(file, "kspace", path)
            if dataset is None:
                raise InputError("no 'kspace' dataset (not a fastMRI file)", path)
            if dataset.ndim == 4:
                raise InputError(
                    f"multi-coil k-space {dataset.shape}: "
                    "read it with csmri.io.multicoil.read_multicoil",
                    path,
                )
            check_size(dataset.shape, path)
            if dataset.dtype.kind != "c":
                raise InputError(f"k-space must be complex, got {dataset.dtype}", path)
            kspace = dataset[()]
            mask = None
            mask_set = h5_dataset(file, "mask", path)
            if mask_set is not None:
                check_size(mask_set.shape, path, MAX_MASK_ELEMENTS)
                mask = np.asarray(mask_set[()])
            target = None
            for key in TARGET_KEYS:
                target_set = h5_dataset(file, key, path)
                if target_set is not None:
                    check_size(target_set.shape, path)
                    target = np.asarray(target_set[()])
                    break
            attrs = h5_attrs(file)
    except InputError:
        raise
    except MemoryError:  # a legitimate file too big for this machine
        raise
    except Exception as error:  # h5py raises many types (OSError, KeyError, ...) on bad files
        raise InputError(f"not a readable HDF5 file ({first_line(error)})", path) from None
    kspace, mask, inferred = validate_kspace(kspace, mask, path)
    target = validate_target(target, kspace, path)
    return KspaceData(kspace, mask, target, attrs, inferred)


def h5_dataset(file: object, key: str, path: Path) -> object | None:
    """The dataset ``key`` if present; refuse groups and data stored outside the file."""
    import h5py

    if key not in file:  # type: ignore[operator]
        return None
    item = file[key]  # type: ignore[index]
    if not isinstance(item, h5py.Dataset):
        raise InputError(f"'{key}' is not a dataset", path)
    if item.external or item.is_virtual:
        raise InputError(f"'{key}' stores its data in other files; refused", path)
    return item


def h5_attrs(file: object) -> dict:
    """File attributes as plain values, skipping any that h5py cannot decode."""
    attrs = {}
    for key in list(file.attrs):  # type: ignore[attr-defined]
        try:
            attrs[key] = _plain(file.attrs[key])  # type: ignore[attr-defined]
        except Exception:  # an exotic attribute is not worth refusing the file
            continue
    return attrs


def _read_numpy(path: Path) -> KspaceData:
    if path.suffix.lower() == ".npy":
        check_npy(path)
    else:
        check_npz(path)
    try:
        if path.suffix.lower() == ".npy":
            kspace = np.load(path, allow_pickle=False)
            mask = target = None
        else:
            with np.load(path, allow_pickle=False) as archive:
                if "kspace" not in archive:
                    raise InputError("no 'kspace' array in the .npz file", path)
                kspace = archive["kspace"]
                mask = archive["mask"] if "mask" in archive else None
                target = archive["target"] if "target" in archive else None
    except InputError:
        raise
    except MemoryError:  # a legitimate file too big for this machine
        raise
    except Exception as error:  # zipfile and numpy.lib.format raise many types
        raise InputError(f"not a readable NumPy file ({first_line(error)})", path) from None
    if mask is not None:
        check_size(mask.shape, path, MAX_MASK_ELEMENTS)
    kspace, mask, inferred = validate_kspace(kspace, mask, path)
    return KspaceData(kspace, mask, validate_target(target, kspace, path), {}, inferred)


def validate_target(target: np.ndarray | None, kspace: np.ndarray, path: Path) -> np.ndarray | None:
    """A stored target as float32 magnitudes ``(S, h, w)`` that fit the k-space slices, or None."""
    if target is None:
        return None
    target = np.asanyarray(target)
    if target.dtype.kind not in "biufc":
        raise InputError(f"target must be numeric, got {target.dtype}", path)
    if target.ndim == 2:
        target = target[np.newaxis]
    if target.ndim != 3 or target.shape[0] != kspace.shape[0]:
        raise InputError(
            f"target of shape {target.shape} does not match {kspace.shape[0]} k-space slices", path
        )
    if target.shape[1] > kspace.shape[1] or target.shape[2] > kspace.shape[2]:
        raise InputError(
            f"target of {target.shape[1]}x{target.shape[2]} cannot be cropped from "
            f"{kspace.shape[1]}x{kspace.shape[2]} images",
            path,
        )
    with np.errstate(all="ignore"):  # overflow becomes inf, refused below
        target = np.abs(target).astype(np.float32)
    if not np.isfinite(target).all():
        raise InputError("target contains NaN or Inf", path)
    return target


def _plain(value: object) -> object:
    """HDF5 attribute -> JSON-friendly Python value."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name when empty)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def write_fastmri_h5(path: str | Path, data: KspaceData) -> None:
    """Write the fastMRI single-coil layout: ``kspace``, ``mask``, ``reconstruction_esc``, attrs.

    Parameters
    ----------
    path : str or Path
        Destination ``.h5`` (written as is; callers wrap it in :func:`csmri.io.atomic.atomic_path`).
    data : KspaceData
        Contents; the target (if any) is stored as ``reconstruction_esc``.
    """
    import h5py

    with h5py.File(path, "w") as file:
        file.create_dataset("kspace", data=data.kspace.astype(np.complex64))
        file.create_dataset("mask", data=data.mask.astype(np.float32))
        if data.target is not None:
            file.create_dataset("reconstruction_esc", data=data.target.astype(np.float32))
            file.attrs["max"] = float(data.target.max())
            file.attrs["norm"] = float(np.linalg.norm(data.target))
        file.attrs["acquisition"] = "SIMULATED"
        for key, value in data.attrs.items():
            file.attrs[key] = value


def write_kspace(path: str | Path, data: KspaceData) -> None:
    """Write k-space in the format named by the suffix (``.h5``, ``.cfl``, ``.npz``).

    Parameters
    ----------
    path : str or Path
        Destination.
    data : KspaceData
        Contents (``.cfl`` stores only the k-space; the mask is re-inferred on reading).
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".h5":
        write_fastmri_h5(path, data)
    elif suffix == ".cfl":
        write_cfl(path, stack_to_bart(data.kspace))
    elif suffix == ".npz":
        arrays = {"kspace": data.kspace, "mask": data.mask}
        if data.target is not None:
            arrays["target"] = data.target
        with open(path, "wb") as handle:
            np.savez(handle, **arrays)
    elif suffix == ".npy":
        np.save(path, data.kspace)
    else:
        raise InputError(f"unknown k-space format {suffix}; use .h5, .cfl, .npz or .npy", path)


def write_reconstruction(path: str | Path, images: np.ndarray, attrs: dict | None = None) -> None:
    """Write reconstructed magnitude images ``(S, H, W)`` float32 by suffix.

    ``.h5`` gets a ``reconstruction`` dataset plus attributes (fastMRI's
    submission layout); ``.npy`` the array; ``.cfl`` BART order.

    Parameters
    ----------
    path : str or Path
        Destination (written as is; wrap in :func:`csmri.io.atomic.atomic_path`).
    images : ndarray, shape (S, H, W)
        Magnitude images.
    attrs : dict, optional
        Attributes stored in ``.h5`` files.
    """
    import h5py

    images = np.asarray(images, dtype=np.float32)
    suffix = Path(path).suffix.lower()
    if suffix == ".h5":
        with h5py.File(path, "w") as file:
            file.create_dataset("reconstruction", data=images)
            for key, value in (attrs or {}).items():
                file.attrs[key] = value
    elif suffix == ".npy":
        np.save(path, images)
    elif suffix == ".cfl":
        write_cfl(path, stack_to_bart(images))
    else:
        raise InputError(f"unknown output format {suffix}; use .h5, .npy or .cfl", path)
