"""Coil-map files: BART ``.cfl`` (``ecalib`` output), ``.npy``, ``.npz``, ``.h5`` ``sens_maps``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.errors import InputError
from csmri.io.cfl import (
    BART_DIMS,
    bart_to_coil_stack,
    cfl_pair,
    coil_stack_to_bart,
    read_cfl,
    write_cfl,
)
from csmri.io.checks import check_npy, check_npz, check_size, first_line, require_file
from csmri.io.fastmri import MAP_KEYS, h5_dataset
from csmri.io.validate import check_maps


def read_maps(path: str | Path, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Read coil maps from a BART ``.cfl``, ``.npy``, ``.npz`` or ``.h5`` (``sens_maps``).

    Parameters
    ----------
    path : str or Path
        Maps file (BART ``ecalib`` output: coils in dim 3, first map set only).
    shape : tuple of int
        The k-space shape ``(S, C, H, W)`` the maps must fit.

    Returns
    -------
    ndarray of complex64, shape (S, C, H, W)
        The maps.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".cfl", ".hdr"):
        require_file(cfl_pair(path)[0], "a BART .cfl maps file")
        array = read_cfl(path)
        dims = list(array.shape) + [1] * (BART_DIMS - array.ndim)
        if dims[4] > 1:  # ecalib -m N: several map sets; SENSE uses the first
            array = array.reshape(dims, order="F")[:, :, :, :, :1]
        maps = bart_to_coil_stack(array, path)
    elif suffix == ".npy":
        require_file(path, "a coil-maps file")
        check_npy(path)
        maps = np.load(path, allow_pickle=False)
    elif suffix in (".npz", ".h5"):
        require_file(path, "a coil-maps file")
        maps = _read_array(path, MAP_KEYS)
        if maps is None:
            raise InputError(f"no {' or '.join(MAP_KEYS)} array", path)
    else:
        raise InputError(f"unknown coil-maps format {suffix}; use .cfl, .npy, .npz or .h5", path)
    return check_maps(maps, shape, path)

def _read_array(path: Path, keys: tuple[str, ...]) -> np.ndarray | None:
    try:
        if path.suffix.lower() == ".npz":
            check_npz(path)
            with np.load(path, allow_pickle=False) as archive:
                for key in keys:
                    if key in archive:
                        return archive[key]
            return None
        import h5py

        with h5py.File(path, "r") as file:
            for key in keys:
                item = h5_dataset(file, key, path)
                if item is not None:
                    check_size(item.shape, path)
                    return item[()]
        return None
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"not readable ({first_line(error)})", path) from None

def write_maps(path: str | Path, maps: np.ndarray) -> None:
    """Write coil maps ``(S, C, H, W)`` as BART ``.cfl``, ``.npy`` or ``.h5`` (``sens_maps``).

    Parameters
    ----------
    path : str or Path
        Destination (wrap in :func:`csmri.io.atomic.atomic_path`).
    maps : ndarray, shape (S, C, H, W)
        Maps.
    """
    suffix = Path(path).suffix.lower()
    maps = np.asarray(maps, dtype=np.complex64)
    if suffix == ".cfl":
        write_cfl(path, coil_stack_to_bart(maps))
    elif suffix == ".npy":
        np.save(path, maps)
    elif suffix == ".h5":
        import h5py

        with h5py.File(path, "w") as file:
            file.create_dataset("sens_maps", data=maps)
    else:
        raise InputError(f"unknown coil-maps format {suffix}; use .cfl, .npy or .h5", path)
