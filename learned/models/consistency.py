"""Data consistency for a magnitude network output (torch, differentiable, CPU or GPU).

The network predicts a magnitude ``m``; the measurement is masked k-space ``y``.  A phase
estimate ``phi`` turns ``m`` into a complex image, whose k-space gets the measured
columns put back:

``x_dc = ifft2c(M * y + (1 - M) * fft2c(m * exp(i phi)))``,  output ``|x_dc|``.

Exactly, ``fft2c(x_dc)`` equals ``y`` on every sampled column; the returned magnitude is
``|x_dc|``.  Modes:

``"none"``
    Return ``m``.
``"hard"``
    ``phi`` = phase of the zero-filled image (aliased where the image is aliased).
``"hard-lowres"``
    ``phi`` = phase of the image of the fully sampled centre block only (alias-free, low
    resolution; MR phase is smooth, so this is the better estimate).
"""

from __future__ import annotations

import torch

from csmri.mri.fft import fft2c, ifft2c

DC_MODES: tuple[str, ...] = ("none", "hard", "hard-lowres")


def centre_block(mask: torch.Tensor) -> torch.Tensor:
    """The contiguous run of sampled columns through the k-space centre ``W // 2``.

    Parameters
    ----------
    mask : bool Tensor, shape (..., W)
        Column masks.

    Returns
    -------
    bool Tensor, shape (..., W)
        True on the centre run (all False where the centre column is not sampled).
    """
    w = mask.shape[-1]
    c = w // 2
    # A column j >= c belongs to the run if all columns c..j are sampled; same to the left.
    right = torch.cumprod(mask[..., c:].to(torch.int32), dim=-1)
    left = torch.cumprod(mask[..., : c + 1].flip(-1).to(torch.int32), dim=-1).flip(-1)
    return torch.cat([left[..., :-1], right], dim=-1).bool()


def replace_columns(
    estimate: torch.Tensor, kspace: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """Measured k-space on sampled columns, the estimate elsewhere (exactly).

    Parameters
    ----------
    estimate, kspace : complex Tensor, shape (B, H, W)
        Estimated and measured k-space.
    mask : bool Tensor, shape (B, W) or (W,)
        Sampled columns.

    Returns
    -------
    complex Tensor, shape (B, H, W)
        ``where(mask, kspace, estimate)``.
    """
    cols = mask.bool()
    cols = cols.unsqueeze(0) if cols.ndim == 1 else cols
    return torch.where(cols[:, None, :], kspace, estimate)


def data_consistency(
    magnitude: torch.Tensor, kspace: torch.Tensor, mask: torch.Tensor, mode: str = "hard"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Put the measured samples back into a magnitude estimate.

    Parameters
    ----------
    magnitude : Tensor, shape (B, H, W)
        Network output.
    kspace : complex Tensor, shape (B, H, W)
        Measured (masked) k-space.
    mask : bool Tensor, shape (B, W) or (W,)
        Sampled columns.
    mode : {"none", "hard", "hard-lowres"}
        Phase estimate; see the module docstring.

    Returns
    -------
    magnitude, image : Tensor
        ``|x_dc|`` of shape (B, H, W) and the complex ``x_dc`` (``None`` for ``"none"``).
    """
    if mode == "none":
        return magnitude, None
    if mode not in DC_MODES:
        raise ValueError(f"data consistency must be one of {', '.join(DC_MODES)}, got {mode!r}")
    mask = mask.bool()
    if mask.ndim == 1:
        mask = mask.unsqueeze(0)
    if mode == "hard":
        reference = ifft2c(kspace)
    else:
        reference = ifft2c(kspace * centre_block(mask)[:, None, :])
    size = reference.abs()
    phase = torch.where(size > 0, reference / size.clamp_min(1e-30), torch.ones_like(reference))
    estimate = fft2c(magnitude.to(phase.dtype) * phase)
    image = ifft2c(replace_columns(estimate, kspace, mask))
    return image.abs().to(magnitude.dtype), image
