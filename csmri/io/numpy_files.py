"""NumPy ``.npy`` and ``.npz`` k-space files: read into and write from an Acquisition.

An ``.npy`` holds the k-space array; an ``.npz`` holds ``kspace`` and optional ``mask``,
``target`` (the magnitude reference) and ``sens_maps``/``maps``.  k-space of 2 or 3 axes is
single-coil ``(H, W)``/``(S, H, W)``; 4 axes are multi-coil ``(S, C, H, W)``; ``coil_axis``
names the coil axis of any other layout (``0`` for ``(C, H, W)``).  Nothing is unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.acquisition import Acquisition
from csmri.errors import InputError
from csmri.io.checks import MAX_MASK_ELEMENTS, check_npy, check_npz, check_size, first_line
from csmri.io.fastmri import MAP_KEYS
from csmri.io.validate import validate_kspace, validate_multicoil, validate_target


def read_numpy(path: Path, coil_axis: int | None = None) -> Acquisition:
    """Read a ``.npy``/``.npz`` k-space file (see the module docstring for the layouts).

    Parameters
    ----------
    path : Path
        An existing ``.npy`` or ``.npz`` file.
    coil_axis : int, optional
        Axis of the coils: default 1 for 4-D arrays; for 3-D multi-coil arrays it must be
        given.

    Returns
    -------
    Acquisition
        The validated contents.
    """
    arrays = _load(path)
    kspace = arrays["kspace"]
    if kspace.ndim != 4 and coil_axis is None:
        mask = arrays.get("mask")
        if mask is not None:
            check_size(mask.shape, path, MAX_MASK_ELEMENTS)
        kspace, mask, inferred = validate_kspace(kspace, mask, path)
        target = validate_target(arrays.get("target"), kspace, path)
        return Acquisition(kspace[:, np.newaxis], mask, reference=target, source=path,
                           mask_inferred=inferred)
    if kspace.ndim not in (3, 4):
        raise InputError(
            f"k-space of shape {kspace.shape} is neither (slices, coils, H, W) nor (coils, H, W)",
            path,
        )
    axis = 1 if coil_axis is None else coil_axis
    if not -kspace.ndim <= axis < kspace.ndim or axis % kspace.ndim >= kspace.ndim - 2:
        raise InputError(
            f"--coil-axis {axis} is not a leading axis of k-space {kspace.shape}", path
        )
    kspace = np.moveaxis(kspace, axis, -3)
    maps = next((arrays[k] for k in MAP_KEYS if k in arrays), None)
    kspace, mask, maps, inferred = validate_multicoil(kspace, arrays.get("mask"), maps, path)
    target = validate_target(arrays.get("target"), kspace[:, 0], path)
    return Acquisition(kspace, mask, maps=maps, reference=target, source=path,
                       mask_inferred=inferred, maps_source="file" if maps is not None else "")


def _write_noncartesian(path: str | Path, acq: Acquisition) -> None:
    """SigPy's convention: ``kspace`` ``(S, C, *samples)``, ``coord`` ``(*samples, 3)``."""
    if Path(path).suffix.lower() != ".npz":
        raise InputError("non-Cartesian k-space is written as .npz (kspace and coord)", path)
    traj = acq.trajectory
    arrays = {"kspace": acq.kspace, "coord": np.moveaxis(traj.coords, 0, -1),
              "shape": np.asarray(traj.matrix)}
    if traj.density is not None:
        arrays["weights"] = traj.density
    if acq.reference is not None:
        arrays["target"] = acq.reference
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _load(path: Path) -> dict[str, np.ndarray]:
    """Every array of the file, after its headers were checked against the stored bytes."""
    npy = path.suffix.lower() == ".npy"
    check_npy(path) if npy else check_npz(path)
    try:
        if npy:
            return {"kspace": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as archive:
            if "kspace" not in archive:
                raise InputError("no 'kspace' array in the .npz file", path)
            return {key: archive[key] for key in archive.files}
    except InputError:
        raise
    except MemoryError:  # a legitimate file too big for this machine
        raise
    except Exception as error:  # zipfile and numpy.lib.format raise many types
        raise InputError(f"not a readable NumPy file ({first_line(error)})", path) from None


def write_numpy(path: str | Path, acq: Acquisition) -> None:
    """Write ``.npz`` (k-space, mask, target, maps) or ``.npy`` (the k-space alone).

    Single-coil acquisitions store ``(S, H, W)`` k-space and a column mask where there is
    one, so that the file reads back as single-coil.

    Parameters
    ----------
    path : str or Path
        Destination ``.npz`` or ``.npy``.
    acq : Acquisition
        Contents.
    """
    if acq.trajectory is not None:
        _write_noncartesian(path, acq)
        return
    single = not acq.is_multicoil
    kspace = acq.kspace[:, 0] if single else acq.kspace
    if Path(path).suffix.lower() == ".npy":
        np.save(path, kspace)
        return
    columns = acq.columns
    arrays = {"kspace": kspace, "mask": acq.mask if columns is None or not single else columns}
    if acq.reference is not None:
        arrays["target"] = acq.reference
    if acq.maps is not None:
        arrays["sens_maps"] = acq.maps
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
