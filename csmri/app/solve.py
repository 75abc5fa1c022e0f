"""One ``solve`` path for every k-space file: read, coil maps, method, crop, write, summarise.

A single-coil file is the one-coil case of the same code: :func:`prepare` reads an
:class:`csmri.acquisition.Acquisition`, selects slices, estimates or reads coil maps for
multi-coil data (once, timed apart) and compresses coils when asked; :func:`solve_file`
runs any :class:`csmri.app.methods.ReconMethod` on it (CS, a learned network, a
baseline), crops the images to the recon matrix as fastMRI does, and writes them
atomically with the crop and the method in the output's attributes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csmri.acquisition import Acquisition
from csmri.app.methods import MethodResult, ReconMethod, run_stack
from csmri.errors import UsageError
from csmri.mri.coils import ensure_maps

MAP_FILE_SUFFIXES = (".cfl", ".hdr", ".npy", ".npz", ".h5")
"""Suffixes of coil-map files that ``--maps`` takes."""


@dataclass
class Prepared:
    """An acquisition ready to solve, and how its maps were made."""

    acq: Acquisition
    maps_note: str


def prepare(
    path: Path,
    *,
    selection: slice | None = None,
    coil_axis: int | None = None,
    maps: str = "espirit",
    needs_maps: bool = True,
    coils: int | None = None,
    device: str = "cpu",
    traj: Path | None = None,
    matrix: tuple[int, int] | None = None,
) -> Prepared:
    """Read a k-space file and make it ready for a method.

    Parameters
    ----------
    path : Path
        Any file :func:`csmri.io.read_acquisition` reads.
    selection : slice, optional
        Slices to keep.
    coil_axis : int, optional
        Coil axis of a ``.npy``/``.npz`` array.
    maps : str
        ``"espirit"`` (the file's maps when it has them), ``"lowres"``, or a maps file.
    needs_maps : bool
        Whether the method needs maps (the RSS baseline and the U-Net do not).
    coils : int, optional
        SVD-compress multi-coil data to this many virtual coils first.
    device : str
        Torch device for the map estimate.
    traj : Path, optional
        BART trajectory of non-Cartesian k-space in ``path``.
    matrix : tuple of int, optional
        Image matrix of non-Cartesian data.

    Returns
    -------
    Prepared
        The acquisition (maps cached on it) and a one-line note on the maps.
    """
    from csmri.io import read_acquisition
    from csmri.io.images import select_slices

    acq = read_acquisition(path, coil_axis, traj, matrix)
    maps_file = maps not in ("espirit", "lowres")
    if maps_file and acq.num_coils > 1 and needs_maps:
        from csmri.io.maps import read_maps

        start = time.perf_counter()
        acq.maps = read_maps(maps, acq.kspace.shape)
        acq.maps_seconds, acq.maps_source = time.perf_counter() - start, str(maps)
    elif acq.maps is not None and maps != "espirit":
        acq.maps = None  # the file's maps are used only when ESPIRiT would be estimated
    if selection is not None:
        select_slices(acq.kspace, selection, path)  # checks the range against the file
        acq = acq.select(list(range(acq.num_slices))[selection])
    note = ""
    if acq.num_coils > 1 and needs_maps:
        ensure_maps(acq, maps if not maps_file else "espirit", device)
        note = f"maps {acq.maps_source or 'file'} {acq.maps_seconds:.2f} s, "
    if coils is not None:
        if acq.num_coils == 1:
            raise UsageError(f"{path}: --coils needs multi-coil data")
        from csmri.mri.coils import compress_coils

        kspace, compressed = compress_coils(acq.kspace, coils, acq.maps)
        acq = Acquisition(kspace, acq.mask, compressed, acq.noise_covariance, acq.reference,
                          acq.header, acq.source, acq.attrs, acq.mask_inferred,
                          acq.maps_seconds, acq.maps_source)
    return Prepared(acq, note)


def solve_acquisition(
    acq: Acquisition,
    method: ReconMethod,
    progress: Callable[[int], None] | None = None,
) -> tuple[MethodResult, tuple[int, int] | None]:
    """Run a method on an acquisition; images cropped to the recon matrix.

    Parameters
    ----------
    acq : Acquisition
        Prepared data (multi-coil with maps when the method needs them).
    method : ReconMethod
        Any method.
    progress : callable, optional
        Called with the number of slices finished.

    Returns
    -------
    tuple
        The result (images cropped) and the crop ``(h, w)`` applied, or None.
    """
    from csmri.io import output_crop
    from csmri.metrics import center_crop

    kspace, mask, maps = acq.solver_inputs()
    result = run_stack(method, kspace, mask, progress=progress, maps=maps)
    crop = output_crop(acq, result.images.shape[-2:])
    if crop is not None:
        result.images = np.ascontiguousarray(center_crop(result.images, crop))
    return result, crop


def output_attrs(acq: Acquisition, method: ReconMethod, result: MethodResult,
                 crop: tuple[int, int] | None) -> dict:
    """Attributes of the written reconstruction: method, source, provenance, crop."""
    attrs = {
        "method": method.name,
        "source": str(acq.source),
        "kspace_sha256": acq.sha256,
        "coils": acq.num_coils,
        "lambda": float("nan") if method.lam is None else float(method.lam),
        "iterations": int(max(result.iterations, default=0)),
        "encoded_matrix": list(acq.kspace.shape[-2:]),
    }
    if crop is not None:
        attrs["recon_matrix"] = list(crop)
        attrs["crop"] = "centre crop to the recon matrix (fastMRI center_crop)"
    return attrs
