"""fastMRI ``.h5`` k-space one slice at a time: what a training set needs without the volume.

:func:`probe_fastmri` reads a file's sizes, mask, header crop and the sha256 of its k-space
by walking the ``kspace`` dataset slice by slice (never the whole volume at once), with the
checks of :func:`csmri.io.fastmri.read_fastmri`; :func:`read_fastmri_slice` reads one slice,
the same numbers as ``read_acquisition(path).kspace[index]``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csmri.errors import InputError
from csmri.mri.matrix import recon_crop


@dataclass(frozen=True)
class FileInfo:
    """What a training set keeps of one k-space file: sizes and small arrays only.

    Attributes
    ----------
    path : Path
        The file.
    lazy : bool
        fastMRI ``.h5``, read one slice at a time.
    slices, coils : int
        Slice and coil counts.
    mask : ndarray of bool, shape (H, W)
        Measured samples.
    recon_crop : tuple of int or None
        Centre crop of the image to the recon matrix, None when that is the whole image.
    sha256 : str
        SHA-256 of the k-space bytes, complex64 ``(S, C, H, W)`` in C order.
    subject : str or None
        The file's own subject (fastMRI ``patient_id``), None when it names none.
    """

    path: Path
    lazy: bool
    slices: int
    coils: int
    mask: np.ndarray
    recon_crop: tuple[int, int] | None
    sha256: str
    subject: str | None


def is_fastmri(path: Path) -> bool:
    """An ``.h5`` file with a ``kspace`` dataset (ISMRMRD files have a ``dataset`` group)."""
    import h5py

    if path.suffix.lower() != ".h5":
        return False
    try:
        with h5py.File(path, "r") as file:
            return "kspace" in file
    except Exception:  # unreadable: the full reader reports it in one line
        return False


def probe_fastmri(path: Path) -> FileInfo:
    """Sizes, mask, crop and k-space sha256 of a fastMRI file, one slice in memory at a time.

    Parameters
    ----------
    path : Path
        fastMRI ``.h5`` (``kspace`` ``(S, H, W)`` or ``(S, C, H, W)``).

    Returns
    -------
    FileInfo
        ``lazy=True``.

    Raises
    ------
    InputError
        As :func:`csmri.io.fastmri.read_fastmri` (not complex, wrong rank, bad mask, NaN,
        a header that contradicts the data).
    """
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return _probe(file, path)
    except (InputError, MemoryError):
        raise
    except Exception as error:  # h5py raises many types on bad files
        from csmri.io.checks import first_line

        raise InputError(f"not a readable HDF5 file ({first_line(error)})", path) from None


def _probe(file, path: Path) -> FileInfo:
    from csmri.io.checks import MAX_MASK_ELEMENTS, check_size
    from csmri.io.fastmri import (
        TARGET_KEYS,
        check_fastmri_header,
        h5_attrs,
        h5_dataset,
        header_matrices,
    )
    from csmri.io.validate import check_header_matrices, validate_kspace, validate_multicoil

    dataset = h5_dataset(file, "kspace", path)
    if dataset is None:
        raise InputError("no 'kspace' dataset (not a fastMRI file)", path)
    if dataset.dtype.kind != "c":
        raise InputError(f"k-space must be complex, got {dataset.dtype}", path)
    if dataset.ndim not in (3, 4) or dataset.shape[0] == 0:
        raise InputError(f"k-space must have shape (slices, [coils,] H, W), got "
                         f"{dataset.shape}", path)
    multi = dataset.ndim == 4
    stored = h5_dataset(file, "mask", path)
    if stored is not None:
        check_size(stored.shape, path, MAX_MASK_ELEMENTS)
        stored = np.asarray(stored[()])
    first = dataset[0:1]
    h, w = dataset.shape[-2:]
    if multi:  # shape, size and mask checks of the full reader, on the first slice
        ones = np.ones((h, w), dtype=bool)
        mask = validate_multicoil(first, ones if stored is None else stored, None, path)[1]
    else:
        columns = validate_kspace(first, np.ones(w) if stored is None else stored, path)[1]
        mask = np.broadcast_to(columns, (h, w))
    digest, seen = hashlib.sha256(), np.zeros((h, w) if multi else (w,), dtype=bool)
    for index in range(dataset.shape[0]):
        with np.errstate(all="ignore"):
            part = np.ascontiguousarray(dataset[index], dtype=np.complex64)
        if not np.isfinite(part).all():
            raise InputError("k-space contains NaN or Inf", path)
        digest.update(part.tobytes())
        if stored is None:
            seen |= np.any(part != 0, axis=0)
    if stored is None:
        if not seen.any():
            raise InputError("mask samples nothing (all zero)", path)
        mask = seen if multi else np.broadcast_to(seen, (h, w))
    target = next((file[k] for k in TARGET_KEYS if h5_dataset(file, k, path) is not None), None)
    reference = None if target is None else tuple(target.shape)
    encoded = recon = None
    if "ismrmrd_header" in file:
        xml = file["ismrmrd_header"][()]
        encoded, recon = header_matrices(xml)
        check_header_matrices(encoded, recon, path)
        if multi:
            stub = None if reference is None else np.broadcast_to(np.float32(0), reference)
            check_fastmri_header(xml, dataset.shape, stub, path)
    patient = h5_attrs(file).get("patient_id")
    return FileInfo(
        path=path, lazy=True, slices=int(dataset.shape[0]),
        coils=int(dataset.shape[1]) if multi else 1,
        mask=np.ascontiguousarray(mask, dtype=bool),
        recon_crop=recon_crop((h, w), recon, reference, path),
        sha256=digest.hexdigest(), subject=str(patient) if patient else None,
    )


def read_fastmri_slice(path: Path, index: int) -> np.ndarray:
    """One slice of a fastMRI file's k-space, ``(C, H, W)`` complex64 (``C = 1``: single-coil).

    Parameters
    ----------
    path : Path
        fastMRI ``.h5`` file (probed by :func:`probe_fastmri`).
    index : int
        Slice.

    Returns
    -------
    ndarray of complex64, shape (C, H, W)
        The k-space of that slice as stored.
    """
    import h5py

    with h5py.File(path, "r") as file:
        dataset = file["kspace"]
        with np.errstate(all="ignore"):
            part = np.asarray(dataset[index], dtype=np.complex64)
    if not np.isfinite(part).all():  # the file changed since it was probed
        raise InputError(f"k-space of slice {index} contains NaN or Inf", path)
    return part if part.ndim == 3 else part[np.newaxis]
