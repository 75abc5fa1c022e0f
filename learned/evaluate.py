"""Validation metrics (fastMRI definitions) and evaluation of a model on fixed examples."""

from __future__ import annotations

import numpy as np
import torch

from csmri.metrics import psnr, ssim
from csmri.mri.fft import ifft2c
from learned.models.consistency import DC_MODES, data_consistency
from learned.models.unet import NormUnet


@torch.inference_mode()
def predict(
    model: NormUnet,
    kspace: np.ndarray,
    mask: np.ndarray,
    device: str | torch.device = "cpu",
    dc_modes: tuple[str, ...] = ("none",),
) -> dict[str, np.ndarray]:
    """Network output for a same-size stack, under several data-consistency modes.

    Parameters
    ----------
    model : NormUnet
        Network (its mode is not changed; call ``eval()`` first).
    kspace : ndarray of complex, shape (B, H, W)
        Masked k-space.
    mask : ndarray of bool, shape (B, W) or (W,)
        Sampled columns.
    device : str or torch.device
        Where to compute.
    dc_modes : tuple of str
        Modes of :func:`learned.models.consistency.data_consistency` to return.

    Returns
    -------
    dict of str to ndarray of float32, shape (B, H, W)
        Magnitude per mode.
    """
    k = torch.as_tensor(np.ascontiguousarray(kspace), dtype=torch.complex64, device=device)
    m = torch.as_tensor(np.asarray(mask, dtype=bool), device=device)
    cols = m if m.ndim == 2 else m.unsqueeze(0)
    k = k * cols[:, None, :]
    image = ifft2c(k)
    x = torch.stack([image.real, image.imag], dim=1).contiguous(memory_format=torch.channels_last)
    magnitude = model(x)
    return {
        mode: data_consistency(magnitude, k, cols, mode)[0].float().cpu().numpy()
        for mode in dc_modes
    }


def evaluate_items(
    model: NormUnet, items: list, device: str | torch.device = "cpu", batch_size: int = 8
) -> dict:
    """PSNR/SSIM of a model on fixed validation items, per DC mode and acceleration.

    Parameters
    ----------
    model : NormUnet
        Network.
    items : list of learned.data.dataset.ValidationItem
        Examples.
    device : str or torch.device
        Where to compute.
    batch_size : int
        Items per forward pass (same-shape items are grouped).

    Returns
    -------
    dict
        ``{"psnr": ..., "ssim": ..., "zero_filled_psnr": ..., "by_mode": {mode: {"psnr",
        "ssim"}}, "by_acceleration": {R: {"psnr", "ssim", "zero_filled_psnr"}}}`` (means
        over slices; the top-level numbers are for DC mode ``"none"``).
    """
    was_training = model.training
    model.eval()
    scores: dict[str, list] = {mode: [] for mode in DC_MODES}
    zero_filled, accels = [], []
    groups: dict[tuple, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(item.target.shape, []).append(i)
    order = []
    for indices in groups.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            out = predict(
                model,
                np.stack([items[i].kspace for i in chunk]),
                np.stack([items[i].mask for i in chunk]),
                device,
                DC_MODES,
            )
            for j, i in enumerate(chunk):
                target = items[i].target
                for mode in DC_MODES:
                    scores[mode].append((psnr(target, out[mode][j]), ssim(target, out[mode][j])))
                zf = np.abs(ifft2c(torch.as_tensor(items[i].kspace)).numpy())
                zero_filled.append((psnr(target, zf), ssim(target, zf)))
                accels.append(items[i].acceleration)
                order.append(i)
    model.train(was_training)
    result = {
        "by_mode": {
            mode: {
                "psnr": float(np.mean([s[0] for s in v])),
                "ssim": float(np.mean([s[1] for s in v])),
            }
            for mode, v in scores.items()
        },
        "zero_filled_psnr": float(np.mean([s[0] for s in zero_filled])),
        "zero_filled_ssim": float(np.mean([s[1] for s in zero_filled])),
        "by_acceleration": {},
        "slices": len(items),
    }
    result["psnr"] = result["by_mode"]["none"]["psnr"]
    result["ssim"] = result["by_mode"]["none"]["ssim"]
    accels_arr = np.asarray(accels)
    for accel in sorted(set(accels)):
        sel = np.flatnonzero(accels_arr == accel)
        result["by_acceleration"][f"{accel:g}"] = {
            mode: {
                "psnr": float(np.mean([scores[mode][k][0] for k in sel])),
                "ssim": float(np.mean([scores[mode][k][1] for k in sel])),
            }
            for mode in DC_MODES
        } | {
            "zero_filled": {
                "psnr": float(np.mean([zero_filled[k][0] for k in sel])),
                "ssim": float(np.mean([zero_filled[k][1] for k in sel])),
            }
        }
    return result
