"""Training pieces of the unrolled network: k-space batches, the loss and validation.

:func:`learned.training.train.train` calls these when ``TrainConfig.model == "unrolled"``.
Each training example is a ``patch x patch`` window of a clean slice that is then
simulated as a whole field of view (so the network always sees consistent k-space);
one mask is drawn per step and shared by the batch (the operator takes one mask).
"""

from __future__ import annotations

import numpy as np
import torch

from csmri.metrics import psnr, ssim
from csmri.mri.masks import make_mask
from learned.data.dataset import (
    SimulationConfig,
    ValidationItem,
    crop_or_pad,
    draw_example,
    simulate_one,
)
from learned.data.synth import Synthesizer
from learned.models.unrolled import UnrolledNet
from learned.training.losses import ssim_loss


def cartesian(mask: np.ndarray | torch.Tensor):
    """The single-coil operator ``Mask @ FFT2c`` for a column mask.

    Parameters
    ----------
    mask : array, shape (W,)
        Sampled columns.

    Returns
    -------
    csmri.linop.Cartesian
        The operator.
    """
    from csmri.linop import Cartesian

    return Cartesian(mask)


def kspace_batch(
    images: list[np.ndarray],
    indices: np.ndarray,
    sim: SimulationConfig,
    patch: int,
    seed: int,
    epoch: int,
    step: int,
    synth: Synthesizer | None = None,
    synth_fraction: float = 0.0,
    *,
    first: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A freshly simulated single-coil k-space batch sharing one mask.

    Parameters
    ----------
    images : list of ndarray
        Clean slices.
    indices : ndarray of int
        Slices of this batch.
    sim : SimulationConfig
        Mask, noise and phase settings.
    patch : int
        Field-of-view side (windows are cut from the clean slices, zero-padded if small).
    seed, epoch, step : int
        Seeds: the mask from ``(seed, epoch, step)``, example ``i`` from
        ``(seed, epoch, step, first + i)``.
    synth : Synthesizer, optional
        Domain randomisation.
    synth_fraction : float
        Probability that an example is synthesised.
    first : int
        Position of ``indices[0]`` in the global batch (a data-parallel shard draws the
        examples the whole batch would).

    Returns
    -------
    kspace : ndarray of complex64, shape (B, patch, patch)
        Masked noisy k-space.
    mask : ndarray of bool, shape (patch,)
        Sampled columns.
    targets : ndarray of float32, shape (B, patch, patch)
        Clean magnitudes.
    """
    step_rng = np.random.default_rng([seed, epoch, step])
    which = int(step_rng.integers(len(sim.accelerations)))
    mask_seed = int(step_rng.integers(2**31))
    kspace, targets = [], []
    mask = make_mask("random", patch, sim.center_fractions[which], sim.accelerations[which],
                     mask_seed).mask
    for i, index in enumerate(indices):
        image, rng = draw_example(
            images, index, (seed, epoch, step, first + i), synth, synth_fraction
        )
        (window,) = crop_or_pad([image], patch, rng)
        noise = float(rng.uniform(0, 2 * sim.noise))
        _, k, _ = simulate_one(np.ascontiguousarray(window), rng, sim.accelerations[which],
                               sim.center_fractions[which], noise, sim.phase, mask_seed)
        kspace.append(k)
        targets.append(np.abs(window))
    return (np.stack(kspace).astype(np.complex64), mask,
            np.stack(targets).astype(np.float32))


def unrolled_loss(model: UnrolledNet, kspace: torch.Tensor, mask: np.ndarray,
                  targets: torch.Tensor, kind: str) -> torch.Tensor:
    """Loss of one batch: L1 relative to the zero-filled magnitude's sd, or 1 - SSIM.

    Parameters
    ----------
    model : UnrolledNet
        Network.
    kspace : complex Tensor, shape (B, H, W)
        Measured k-space.
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    targets : Tensor, shape (B, H, W)
        Clean magnitudes.
    kind : {"l1", "ssim"}
        Loss.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    op = cartesian(mask)
    output = model(kspace, op)
    if kind == "ssim":
        return ssim_loss(output, targets)
    std = op.adjoint(kspace).abs().flatten(1).std(dim=1).clamp_min(1e-12)
    return ((output - targets).abs() / std[:, None, None]).mean()


@torch.inference_mode()
def evaluate_unrolled(model: UnrolledNet, items: list[ValidationItem],
                      device: str | torch.device = "cpu") -> dict:
    """PSNR/SSIM of the network on fixed validation items (one slice at a time).

    Parameters
    ----------
    model : UnrolledNet
        Network.
    items : list of ValidationItem
        Examples.
    device : str or torch.device
        Where to compute.

    Returns
    -------
    dict
        ``psnr``, ``ssim``, ``zero_filled_psnr``, ``zero_filled_ssim`` (means) and
        ``by_acceleration`` ``{R: {"psnr", "ssim"}}``.
    """
    was_training = model.training
    model.eval()
    rows = []
    for item in items:
        k = torch.as_tensor(item.kspace[None], dtype=torch.complex64, device=device)
        op = cartesian(item.mask)
        out = model(k, op)[0].float().cpu().numpy()
        zf = op.adjoint(k)[0].abs().cpu().numpy()
        rows.append((item.acceleration, psnr(item.target, out), ssim(item.target, out),
                     psnr(item.target, zf), ssim(item.target, zf)))
    model.train(was_training)
    table = np.asarray(rows, dtype=np.float64)
    result = {
        "psnr": float(table[:, 1].mean()), "ssim": float(table[:, 2].mean()),
        "zero_filled_psnr": float(table[:, 3].mean()),
        "zero_filled_ssim": float(table[:, 4].mean()),
        "by_acceleration": {}, "slices": len(items),
    }
    for accel in sorted(set(table[:, 0])):
        sel = table[table[:, 0] == accel]
        result["by_acceleration"][f"{accel:g}"] = {
            "psnr": float(sel[:, 1].mean()), "ssim": float(sel[:, 2].mean()),
            "zero_filled_psnr": float(sel[:, 3].mean()),
        }
    return result
