"""The networks' forward passes on validated k-space: no loading, no adaptation.

:mod:`learned.infer` (the public reconstruction functions) and :mod:`learned.adapt` (which
reconstructs with each adapted copy) both call these, so neither imports the other.
"""

from __future__ import annotations

import numpy as np
import torch

from csmri.mri.fft import ifft2c
from learned.models.consistency import DC_MODES, data_consistency
from learned.models.unet import NormUnet
from learned.models.unrolled import UnrolledNet


def unet_forward(
    kspace: np.ndarray,
    mask: np.ndarray,
    net: NormUnet,
    device: torch.device,
    data_consistency_mode: str | None = None,
    batch_size: int = 4,
) -> np.ndarray:
    """U-Net magnitudes ``(S, H, W)`` from single-coil k-space ``(S, H, W)`` and columns ``(W,)``.

    Parameters
    ----------
    kspace : ndarray of complex, shape (S, H, W)
        Centred k-space (the mask is applied).
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    net : NormUnet
        The network, on ``device``.
    device : torch.device
        Where it runs.
    data_consistency_mode : {"none", "hard", "hard-lowres"} or None
        Override the model's stored data-consistency default.
    batch_size : int
        Slices per forward pass.

    Returns
    -------
    ndarray of float32, shape (S, H, W)
        Magnitude images in the units of the input.
    """
    device = torch.device(device)
    mode = net.config.data_consistency if data_consistency_mode is None else data_consistency_mode
    if mode not in DC_MODES:
        raise ValueError(f"data consistency must be one of {', '.join(DC_MODES)}, got {mode!r}")
    was_training = net.training
    net.eval()
    cols = torch.as_tensor(mask, device=device)
    out = np.empty(kspace.shape, dtype=np.float32)
    try:
        with torch.inference_mode():
            for start in range(0, kspace.shape[0], batch_size):
                k = (
                    torch.as_tensor(
                        kspace[start : start + batch_size], dtype=torch.complex64, device=device
                    )
                    * cols
                )
                image = ifft2c(k)
                x = torch.stack([image.real, image.imag], dim=1).contiguous(
                    memory_format=torch.channels_last
                )
                magnitude, _ = data_consistency(net(x), k, cols, mode)
                out[start : start + batch_size] = magnitude.float().cpu().numpy()
    finally:
        net.train(was_training)
    return out


def unrolled_forward(
    kspace: np.ndarray,
    mask: np.ndarray,
    net: UnrolledNet,
    device: torch.device,
    maps: np.ndarray | None = None,
    batch_size: int = 4,
) -> np.ndarray:
    """Unrolled-network magnitudes ``(S, H, W)`` (SENSE data consistency with ``maps``).

    Parameters
    ----------
    kspace : ndarray of complex, shape (S, H, W) or, with ``maps``, (S, C, H, W)
        Centred k-space (the mask is applied).
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    net : UnrolledNet
        The network, on ``device``.
    device : torch.device
        Where it runs.
    maps : ndarray of complex, shape (S, C, H, W), optional
        Coil sensitivities: the operator is then :class:`csmri.linop.Sense`.
    batch_size : int
        Slices per forward pass.

    Returns
    -------
    ndarray of float32, shape (S, H, W)
        Magnitude images in the units of ``A^H y``.
    """
    from csmri.linop import Cartesian, Sense

    device = torch.device(device)
    was_training = net.training
    net.eval()
    cols = torch.as_tensor(mask, device=device)
    out = np.empty((len(kspace), *kspace.shape[-2:]), dtype=np.float32)
    try:
        with torch.inference_mode():
            for start in range(0, len(kspace), batch_size):
                chunk = slice(start, start + batch_size)
                k = torch.as_tensor(kspace[chunk], dtype=torch.complex64, device=device) * cols
                if maps is None:
                    op = Cartesian(mask)
                else:
                    coils = torch.as_tensor(np.array(maps[chunk]),  # copy: may be read-only
                                            dtype=torch.complex64, device=device)
                    op = Sense(coils, mask)
                out[chunk] = net(k, op).float().cpu().numpy()
    finally:
        net.train(was_training)
    return out
