"""Coils: sensitivity maps from the data (ESPIRiT or low resolution) and SVD compression."""

from __future__ import annotations

import time

import numpy as np

from csmri.acquisition import Acquisition
from csmri.errors import UsageError

MAP_MODES = ("espirit", "lowres")


def estimate_maps(
    kspace: np.ndarray, mask: np.ndarray, mode: str = "espirit", device: str = "cpu", path=None
) -> np.ndarray:
    """Coil maps from the data: ESPIRiT or the low-resolution fallback.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred k-space.
    mask : ndarray, shape (H, W)
        Sampling mask.
    mode : {"espirit", "lowres"}
        Estimator.
    device : str
        Torch device for the estimate.
    path : path-like, optional
        Input named in errors (a calibration region too small for ESPIRiT).

    Returns
    -------
    ndarray of complex64, shape (S, C, H, W)
        Maps.
    """
    from csmri.mri.espirit import espirit, lowres_maps

    if mode not in MAP_MODES:
        raise UsageError(f"unknown maps estimator {mode!r}; choose {', '.join(MAP_MODES)}")
    if mode == "espirit":
        maps = espirit(kspace, mask, device=device, path=path)
    else:
        maps = lowres_maps(kspace, mask, device=device)
    return maps.cpu().numpy()


def ensure_maps(acq: Acquisition, mode: str = "espirit", device: str = "cpu") -> np.ndarray | None:
    """Estimate an acquisition's coil maps once, cache them on it, and return them.

    Single-coil data without maps need none (returns None); maps that came with the data
    are kept.  The seconds the estimate took go to ``acq.maps_seconds`` and the estimator
    to ``acq.maps_source``.

    Parameters
    ----------
    acq : Acquisition
        The data (its ``maps`` are set).
    mode : {"espirit", "lowres"}
        Estimator (see :func:`estimate_maps`).
    device : str
        Torch device for the estimate.

    Returns
    -------
    ndarray or None
        The maps ``(S, C, H, W)``.
    """
    if acq.maps is not None or acq.num_coils == 1:
        return acq.maps
    start = time.perf_counter()
    if acq.trajectory is not None:  # ESPIRiT on the gridded, density-compensated centre
        from csmri.mri.nufft_maps import nufft_maps

        traj = acq.trajectory
        acq.maps = nufft_maps(acq.kspace, traj.coords, traj.matrix, mode=mode,
                              weights=traj.density, device=device)
    else:
        acq.maps = estimate_maps(acq.kspace, acq.mask, mode, device, acq.source)
    acq.maps_seconds = time.perf_counter() - start
    acq.maps_source = mode
    return acq.maps


def compress_coils(
    kspace: np.ndarray, coils: int, maps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """SVD coil compression to ``coils`` virtual coils, one matrix per slice.

    The virtual coils are the leading left singular vectors of the ``C x samples``
    matrix of the measured k-space; maps (if given) are compressed with the same
    matrix, so ``S_virtual = U^H S``.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space.
    coils : int
        Virtual coils to keep (``1 <= coils <= C``).
    maps : ndarray, shape (S, C, H, W), optional
        Maps to compress alongside.

    Returns
    -------
    tuple
        Compressed k-space ``(S, coils, H, W)`` and maps (or None).
    """
    s, c, h, w = kspace.shape
    if not 1 <= coils <= c:
        raise UsageError(f"--coils {coils} must be between 1 and the {c} coils of the data")
    out = np.empty((s, coils, h, w), dtype=np.complex64)
    out_maps = None if maps is None else np.empty_like(out)
    for i in range(s):
        matrix = kspace[i].reshape(c, -1)
        u = np.linalg.svd(matrix @ matrix.conj().T)[0][:, :coils]  # C x coils
        out[i] = (u.conj().T @ matrix).reshape(coils, h, w)
        if maps is not None:
            out_maps[i] = np.tensordot(u.conj().T, maps[i], axes=1)
    return out, out_maps
