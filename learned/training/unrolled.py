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
from learned.data.multicoil import simulate_coils
from learned.data.synth import Synthesizer
from learned.models.unrolled import UnrolledNet
from learned.training.losses import combined_loss


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
    coils: tuple[int, ...] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """A freshly simulated k-space batch sharing one mask (single- or multi-coil).

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
    coils : tuple of int
        Coil counts to draw from, one per step (empty: the single-coil simulation).  Each
        multi-coil example gets a random array, placement, bias and coil noise
        (:func:`learned.data.multicoil.simulate_coils`).

    Returns
    -------
    kspace : ndarray of complex64, shape (B, patch, patch) or (B, C, patch, patch)
        Masked noisy k-space.
    mask : ndarray of bool, shape (patch,)
        Sampled columns.
    targets : ndarray of float32, shape (B, patch, patch)
        Clean magnitudes.
    maps : ndarray of complex64, shape (B, C, patch, patch), or None
        The true coil maps (multi-coil).
    """
    step_rng = np.random.default_rng([seed, epoch, step])
    which = int(step_rng.integers(len(sim.accelerations)))
    mask_seed = int(step_rng.integers(2**31))
    kspace, targets, maps = [], [], []
    mask = make_mask("random", patch, sim.center_fractions[which], sim.accelerations[which],
                     mask_seed).mask
    count = int(coils[int(step_rng.integers(len(coils)))]) if coils else 0
    for i, index in enumerate(indices):
        image, rng = draw_example(
            images, index, (seed, epoch, step, first + i), synth, synth_fraction
        )
        if count:
            example = simulate_coils(image, patch, count, mask, sim.noise, rng, sim.phase)
            kspace.append(example.kspace)
            targets.append(example.target)
            maps.append(example.maps)
            continue
        (window,) = crop_or_pad([image], patch, rng)
        noise = float(rng.uniform(0, 2 * sim.noise))
        _, k, _ = simulate_one(np.ascontiguousarray(window), rng, sim.accelerations[which],
                               sim.center_fractions[which], noise, sim.phase, mask_seed)
        kspace.append(k)
        targets.append(np.abs(window))
    return (np.stack(kspace).astype(np.complex64), mask,
            np.stack(targets).astype(np.float32), np.stack(maps) if maps else None)


def operator(mask: np.ndarray, maps: np.ndarray | torch.Tensor | None = None):
    """``Cartesian(mask)`` without maps, ``Sense(maps, mask)`` with them.

    Parameters
    ----------
    mask : array, shape (W,)
        Sampled columns.
    maps : array, shape (B, C, H, W), optional
        Coil maps.

    Returns
    -------
    csmri.linop.LinearOperator
        ``A``.
    """
    from csmri.linop import Cartesian, Sense

    return Cartesian(mask) if maps is None else Sense(maps, mask)


def unrolled_loss(model: UnrolledNet, kspace: torch.Tensor, mask: np.ndarray,
                  targets: torch.Tensor, kind: str,
                  maps: torch.Tensor | None = None) -> torch.Tensor:
    """Loss of one batch (:func:`learned.training.losses.combined_loss`).

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
    kind : {"l1", "ssim", "ssim-l1"}
        Loss; L1 is relative to the zero-filled magnitude's sd.
    maps : complex Tensor, shape (B, C, H, W), optional
        Coil maps of multi-coil k-space ``(B, C, H, W)``.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    op = operator(mask, maps)
    output = model(kspace, op)
    with torch.no_grad():
        std = op.adjoint(kspace).abs().flatten(1).std(dim=1).clamp_min(1e-12)
    return combined_loss(kind, output, targets, std)


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
        maps = None if item.maps is None else torch.as_tensor(item.maps[None], device=device)
        op = operator(item.mask, maps)
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


def coil_validation_items(images: list[np.ndarray], sim: SimulationConfig, seed: int,
                          coils: tuple[int, ...], patch: int) -> list[ValidationItem]:
    """Fixed multi-coil validation examples (accelerations and coil counts cycle).

    Parameters
    ----------
    images : list of ndarray
        Clean validation slices.
    sim : SimulationConfig
        Mask, noise and phase settings.
    seed : int
        Base seed; slice ``i`` uses ``seed + 1000003 * (i + 1)``.
    coils : tuple of int
        Coil counts.
    patch : int
        Field-of-view side.

    Returns
    -------
    list of ValidationItem
        One per slice, with its true maps.
    """
    items = []
    for i, image in enumerate(images):
        which = i % len(sim.accelerations)
        item_seed = seed + 1000003 * (i + 1)
        rng = np.random.default_rng(item_seed)
        mask = make_mask("random", patch, sim.center_fractions[which], sim.accelerations[which],
                         item_seed % 2**31).mask
        example = simulate_coils(image, patch, int(coils[i % len(coils)]), mask, sim.noise,
                                 rng, sim.phase)
        items.append(ValidationItem(example.kspace, mask, example.target,
                                    sim.accelerations[which], example.maps))
    return items
