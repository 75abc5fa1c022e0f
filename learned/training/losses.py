"""Training losses shared by the U-Net and unrolled recipes."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ssim_loss(estimate: torch.Tensor, target: torch.Tensor, window: int = 7) -> torch.Tensor:
    """``1 - SSIM`` with a uniform 7x7 window and the per-image target maximum as range.

    Parameters
    ----------
    estimate, target : Tensor, shape (B, H, W)
        Images.
    window : int
        Window side.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    x, y = estimate[:, None], target[:, None]
    peak = target.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None, None]
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    n = window * window
    mean = lambda z: F.avg_pool2d(z, window, stride=1)  # noqa: E731
    ux, uy = mean(x), mean(y)
    vx = (mean(x * x) - ux * ux) * n / (n - 1)
    vy = (mean(y * y) - uy * uy) * n / (n - 1)
    vxy = (mean(x * y) - ux * uy) * n / (n - 1)
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return 1 - s.mean()


SSIM_WEIGHT = 0.84
"""Weight of ``1 - SSIM`` in the ``ssim-l1`` loss (Zhao, Gallo, Frosio and Kautz 2017);
the L1 term gets ``1 - SSIM_WEIGHT``."""


def combined_loss(kind: str, estimate: torch.Tensor, target: torch.Tensor,
                  scale: torch.Tensor) -> torch.Tensor:
    """``l1``, ``ssim`` or ``ssim-l1`` of a batch.

    Parameters
    ----------
    kind : {"l1", "ssim", "ssim-l1"}
        Loss.
    estimate, target : Tensor, shape (B, H, W)
        Images.
    scale : Tensor, shape (B,)
        Per-image scale of the L1 term (the input's standard deviation, so the loss does
        not depend on the data's units).

    Returns
    -------
    Tensor
        Scalar loss.
    """
    l1 = lambda: ((estimate - target).abs() / scale[:, None, None]).mean()  # noqa: E731
    if kind == "l1":
        return l1()
    if kind == "ssim":
        return ssim_loss(estimate, target)
    return SSIM_WEIGHT * ssim_loss(estimate, target) + (1 - SSIM_WEIGHT) * l1()
