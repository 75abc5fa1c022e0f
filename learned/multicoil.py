"""The U-Net on multi-coil data.

fastMRI's multi-coil baseline runs on the RSS of the zero-filled coil images (no data
consistency: the RSS image has no single-coil k-space).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from csmri.app.methods import MethodResult
from csmri.app.sense import rss_zero_filled
from csmri.mri.fft import fft2c


def unet_on_rss(kspace: np.ndarray, model: Path | None = None, device: str = "cpu") -> MethodResult:
    """U-Net magnitude images ``(S, H, W)`` from multi-coil k-space ``(S, C, H, W)``.

    The RSS image is handed to the single-coil pipeline as fully sampled k-space
    (its zero-filled image is the RSS itself) with data consistency off.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space.
    model : Path, optional
        Weights (default: the shipped model).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.

    Returns
    -------
    MethodResult
        Images in the units of the RSS image.
    """
    from learned.infer import load_shipped_model, reconstruct
    from learned.models.checkpoint import load_model
    from learned.training.train import resolve_device

    device = str(resolve_device(device))
    loaded = load_shipped_model(device) if model is None else load_model(model, device)
    start = time.perf_counter()
    rss = rss_zero_filled(kspace)
    full = np.ones(kspace.shape[-1], dtype=bool)
    images = reconstruct(
        fft2c(rss.astype(np.complex64)),
        full,
        model=loaded[0],
        device=device,
        data_consistency_mode="none",
    )
    return MethodResult(np.asarray(images, np.float32), time.perf_counter() - start, [1] * len(rss))
