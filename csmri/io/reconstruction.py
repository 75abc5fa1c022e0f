"""Write reconstructed images: fastMRI's ``reconstruction`` ``.h5``, ``.npy`` or BART ``.cfl``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.errors import InputError
from csmri.io.cfl import stack_to_bart, write_cfl


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
