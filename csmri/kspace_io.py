"""Read and write single-coil k-space files: fastMRI ``.h5``, BART ``.cfl``, ``.npy``/``.npz``.

Every reader returns :class:`KspaceData` with k-space ``(S, H, W)`` complex64,
a column mask ``(W,)`` (read from the file or inferred from the non-zero
columns), an optional magnitude target and the file's attributes.  Files that
cannot be used raise :class:`csmri.errors.InputError` naming the file, before
any large allocation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from csmri.cfl import bart_to_stack, cfl_base, read_cfl, stack_to_bart, write_cfl
from csmri.errors import InputError

MAX_KSPACE_ELEMENTS = 2**30  # 8 GiB of complex64: refuse larger before reading
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
    if not np.iscomplexobj(kspace):
        raise InputError(f"k-space must be complex, got {kspace.dtype}", path)
    if kspace.ndim == 2:
        kspace = kspace[np.newaxis]
    if kspace.ndim == 4:
        raise InputError(
            f"multi-coil k-space {kspace.shape} is not supported yet; use single-coil data", path
        )
    if kspace.ndim != 3:
        raise InputError(f"k-space must have shape (slices, H, W), got {kspace.shape}", path)
    if min(kspace.shape[-2:]) < MIN_SIDE:
        raise InputError(f"k-space of {kspace.shape[-2]}x{kspace.shape[-1]} is too small", path)
    if kspace.shape[0] == 0:
        raise InputError("k-space has no slices", path)
    kspace = np.asarray(kspace, dtype=np.complex64)
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf", path)
    inferred = mask is None
    if inferred:
        mask = infer_mask(kspace)
    else:
        mask = np.asarray(mask)
        if mask.ndim != 1:
            mask = mask.reshape(-1) if mask.size == kspace.shape[-1] else mask
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
        if not cfl_base(path).with_suffix(".cfl").exists():
            raise InputError("no such file", path)
    elif not path.exists():
        raise InputError("no such file", path)
    if path.is_dir():
        raise InputError("is a directory, expected a k-space file", path)
    if suffix == ".h5":
        return _read_h5(path)
    if suffix in (".cfl", ".hdr"):
        kspace, mask, inferred = validate_kspace(bart_to_stack(read_cfl(path), path), None, path)
        return KspaceData(kspace, mask, mask_inferred=inferred)
    if suffix in (".npy", ".npz"):
        return _read_numpy(path)
    raise InputError(
        f"unknown k-space format {suffix or '(no suffix)'}; "
        f"expected one of {', '.join(KSPACE_SUFFIXES)}",
        path,
    )


def _check_size(shape: tuple[int, ...], path: Path) -> None:
    count = float(np.prod(shape, dtype=np.float64))
    if count > MAX_KSPACE_ELEMENTS:
        raise InputError(f"k-space of shape {shape} is too large to load", path)


def _read_h5(path: Path) -> KspaceData:
    import h5py

    try:
        with h5py.File(path, "r") as file:
            if "kspace" not in file or not isinstance(file["kspace"], h5py.Dataset):
                raise InputError("no 'kspace' dataset (not a fastMRI file)", path)
            dataset = file["kspace"]
            if dataset.ndim == 4:
                raise InputError(
                    f"multi-coil k-space {dataset.shape} is not supported yet; "
                    "use single-coil data",
                    path,
                )
            _check_size(dataset.shape, path)
            if dataset.dtype.kind != "c":
                raise InputError(f"k-space must be complex, got {dataset.dtype}", path)
            kspace = dataset[()]
            mask = file["mask"][()] if "mask" in file else None
            target = None
            for key in TARGET_KEYS:
                if key in file:
                    _check_size(file[key].shape, path)
                    target = np.asarray(file[key][()])
                    break
            attrs = {key: _plain(value) for key, value in file.attrs.items()}
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as error:
        raise InputError(f"not a readable HDF5 file ({_first_line(error)})", path) from None
    kspace, mask, inferred = validate_kspace(kspace, mask, path)
    target = _validate_target(target, kspace, path)
    return KspaceData(kspace, mask, target, attrs, inferred)


def _read_numpy(path: Path) -> KspaceData:
    try:
        if path.suffix.lower() == ".npy":
            kspace = np.load(path, mmap_mode="r", allow_pickle=False)
            _check_size(kspace.shape, path)
            mask = target = None
            kspace = np.array(kspace)
        else:
            with np.load(path, allow_pickle=False) as archive:
                if "kspace" not in archive:
                    raise InputError("no 'kspace' array in the .npz file", path)
                kspace = archive["kspace"]
                mask = archive["mask"] if "mask" in archive else None
                target = archive["target"] if "target" in archive else None
    except InputError:
        raise
    except (ValueError, OSError, EOFError, KeyError) as error:
        raise InputError(f"not a readable NumPy file ({_first_line(error)})", path) from None
    kspace, mask, inferred = validate_kspace(kspace, mask, path)
    return KspaceData(kspace, mask, _validate_target(target, kspace, path), {}, inferred)


def _validate_target(
    target: np.ndarray | None, kspace: np.ndarray, path: Path
) -> np.ndarray | None:
    if target is None:
        return None
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


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def write_fastmri_h5(path: str | Path, data: KspaceData) -> None:
    """Write the fastMRI single-coil layout: ``kspace``, ``mask``, ``reconstruction_esc``, attrs.

    Parameters
    ----------
    path : str or Path
        Destination ``.h5`` (written as is; callers wrap it in :func:`csmri.atomic.atomic_path`).
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
        Destination (written as is; wrap in :func:`csmri.atomic.atomic_path`).
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
