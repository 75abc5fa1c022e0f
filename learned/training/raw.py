"""Training the unrolled network on raw (multi-coil) k-space: supervised or SSDU.

The slices come from :class:`learned.data.kspace_slices.KspaceSlices`, read one at a time,
with ESPIRiT maps from its cache.  Two modes (``TrainConfig.supervision``):

* **full** (fully sampled data): every example gets a fresh seeded column mask, random or
  equispaced, at one of the configured accelerations.  The network sees ``P y`` with
  ``A = P F S``; the target is the magnitude of the SENSE-combined fully sampled image
  ``|S^H F^H y|``, and both are centre-cropped to the recon matrix as fastMRI does.  The
  loss is :func:`learned.training.losses.combined_loss`.
* **ssdu** (undersampled data without a reference, Yaman et al. 2020): the measured
  samples of each example are split ``masks`` times into a data-consistency set ``Theta``
  and a loss set ``Lambda`` by :func:`learned.data.splits.ssdu_split`, the split that
  test-time adaptation uses, and the loss is the relative k-space error on ``Lambda`` of
  the network's image from ``Theta`` (:meth:`learned.adapt.ScanModel.error`, the
  adaptation loss).  Validation holds out a fixed, seeded ``Lambda`` per slice and reports
  its error in dB (lower error is higher dB); no reference image is ever used.

Examples are processed one at a time (slices may differ in size); the loss of a batch is
the mean over its examples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from csmri.metrics import psnr, ssim
from csmri.mri.masks import make_mask
from csmri.mri.matrix import center_crop
from learned.adapt import ScanModel
from learned.data.kspace_slices import KspaceSlice, KspaceSlices
from learned.data.splits import centre_units, ssdu_split
from learned.models.unrolled import UnrolledNet
from learned.training.losses import combined_loss
from learned.training.unrolled import operator

MASK_KINDS = ("random", "equispaced")
SSDU_LOSS_FRACTION = 0.4
"""Share of the measured non-centre columns in SSDU's loss set (Yaman et al. use 0.4)."""


def column_mask(mask: np.ndarray) -> np.ndarray:
    """The ``(W,)`` column mask of a row-invariant ``(H, W)`` mask; else the mask itself."""
    mask = np.asarray(mask, dtype=bool)
    return mask[0] if mask.ndim == 2 and np.all(mask == mask[:1]) else mask


def crop(image: torch.Tensor, size: tuple[int, int] | None) -> torch.Tensor:
    """:func:`csmri.mri.matrix.center_crop` to the recon matrix; None keeps the image."""
    return image if size is None else center_crop(image, size)


@dataclass(frozen=True)
class Example:
    """Tensors of one slice on the training device."""

    kspace: torch.Tensor
    maps: torch.Tensor | None
    item: KspaceSlice


def to_device(item: KspaceSlice, device: torch.device) -> Example:
    """The slice's k-space and (multi-coil) maps as complex64 tensors."""
    kspace = torch.from_numpy(np.array(item.kspace, dtype=np.complex64)).to(device)
    if kspace.shape[0] == 1:
        return Example(kspace[0], None, item)
    return Example(kspace, torch.from_numpy(np.array(item.maps, np.complex64)).to(device), item)


def target_image(example: Example) -> torch.Tensor:
    """``|S^H F^H y|`` of fully sampled k-space (one coil: ``|F^H y|``), cropped."""
    full = np.ones(example.kspace.shape[-1], dtype=bool)
    op = operator(full, None if example.maps is None else example.maps[None])
    kspace = example.kspace[None]
    return crop(op.adjoint(kspace)[0].abs(), example.item.recon_crop)


def draw_training_mask(width: int, accelerations, center_fractions,
                       rng: np.random.Generator) -> np.ndarray:
    """A fresh column mask: random or equispaced, at a random configured acceleration."""
    which = int(rng.integers(len(accelerations)))
    kind = MASK_KINDS[int(rng.integers(len(MASK_KINDS)))]
    return make_mask(kind, width, center_fractions[which], accelerations[which],
                     int(rng.integers(2**31))).mask


def supervised_loss(net: UnrolledNet, example: Example, mask: np.ndarray,
                    kind: str) -> torch.Tensor:
    """Loss of the network on ``P y`` against the fully sampled target (module docstring)."""
    maps = None if example.maps is None else example.maps[None]
    op = operator(mask, maps)
    measured = example.kspace[None] * torch.as_tensor(mask, device=example.kspace.device)
    output = crop(net(measured, op)[0], example.item.recon_crop)
    target = target_image(example)
    with torch.no_grad():
        scale = crop(op.adjoint(measured)[0].abs(), example.item.recon_crop).std()
    return combined_loss(kind, output[None], target[None], scale.clamp_min(1e-12)[None])


def measured_columns(example: Example, config, rng: np.random.Generator) -> np.ndarray:
    """The columns SSDU splits: the measured ones, or a fresh mask for fully sampled data.

    SSDU on fully sampled data first undersamples it as supervised training would (else
    every column would be the fully sampled centre and nothing could be split).
    """
    mask = column_mask(example.item.mask)
    if mask.all():
        return draw_training_mask(mask.shape[-1], config.accelerations,
                                  config.center_fractions, rng)
    return mask


def ssdu_loss(net: UnrolledNet, example: Example, config,
              rng: np.random.Generator) -> torch.Tensor:
    """Mean SSDU loss over ``config.ssdu_masks`` splits of the measured columns."""
    mask = measured_columns(example, config, rng)
    scan = ScanModel(net, example.kspace * torch.as_tensor(mask, device=example.kspace.device),
                     centre_units(mask), example.maps)
    losses = []
    for _ in range(config.ssdu_masks):
        theta, lam = ssdu_split(mask, SSDU_LOSS_FRACTION, rng)
        losses.append(scan.error(theta, lam))
    return torch.stack(losses).mean()


def batch_loss(net: UnrolledNet, slices: KspaceSlices, indices: np.ndarray, config,
               seeds: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """Mean loss of one (shard of a) batch of raw slices.

    Parameters
    ----------
    net : UnrolledNet
        Network (possibly DDP-wrapped).
    slices : KspaceSlices
        The training slices.
    indices : ndarray of int
        Slices of this batch (shard).
    config : TrainConfig
        ``supervision``, ``accelerations``, ``center_fractions``, ``loss``, ``ssdu_masks``.
    seeds : tuple of int
        ``(seed, epoch, step, first)``: example ``i`` draws from ``(seed, epoch, step,
        first + i)``.
    device : torch.device
        Where to compute.

    Returns
    -------
    Tensor
        Scalar loss.
    """
    *base, first = seeds
    losses = []
    for i, index in enumerate(indices):
        rng = np.random.default_rng([*base, first + i])
        example = to_device(slices[int(index)], device)
        if config.supervision == "ssdu":
            losses.append(ssdu_loss(net, example, config, rng))
        else:
            width = example.kspace.shape[-1]
            mask = draw_training_mask(width, config.accelerations, config.center_fractions, rng)
            losses.append(supervised_loss(net, example, mask, config.loss))
    return torch.stack(losses).mean()


@torch.inference_mode()
def evaluate_raw(model: UnrolledNet, slices: KspaceSlices, indices: np.ndarray, config,
                 device: torch.device) -> dict:
    """Validation on fixed, seeded masks (full) or fixed held-out sets (ssdu).

    Parameters
    ----------
    model : UnrolledNet
        Network.
    slices : KspaceSlices
        The slices.
    indices : ndarray of int
        Validation slices.
    config : TrainConfig
        Settings (``seed`` fixes the masks and splits).
    device : torch.device
        Where to compute.

    Returns
    -------
    dict
        Supervised: ``psnr``, ``ssim``, ``zero_filled_psnr``, ``zero_filled_ssim`` and
        ``by_acceleration``.  SSDU: ``psnr`` is the held-out k-space error in dB
        (``metric`` says so), ``zero_filled_psnr`` the same for the zero-filled image.
    """
    was_training = model.training
    model.eval()
    rows = []
    for position, index in enumerate(indices):
        rng = np.random.default_rng([config.seed, 7919, position])
        example = to_device(slices[int(index)], device)
        if config.supervision == "ssdu":
            rows.append(_held_out_row(model, example, measured_columns(example, config, rng),
                                      rng))
            continue
        which = position % len(config.accelerations)
        mask = make_mask("random", example.kspace.shape[-1], config.center_fractions[which],
                         config.accelerations[which], int(rng.integers(2**31))).mask
        op = operator(mask, None if example.maps is None else example.maps[None])
        measured = example.kspace[None] * torch.as_tensor(mask, device=device)
        target = target_image(example).cpu().numpy()
        out = crop(model(measured, op)[0], example.item.recon_crop).cpu().numpy()
        zf = crop(op.adjoint(measured)[0].abs(), example.item.recon_crop).cpu().numpy()
        rows.append((config.accelerations[which], psnr(target, out), ssim(target, out),
                     psnr(target, zf), ssim(target, zf)))
    model.train(was_training)
    table = np.asarray(rows, dtype=np.float64)
    result = {"psnr": float(table[:, 1].mean()), "ssim": float(table[:, 2].mean()),
              "zero_filled_psnr": float(table[:, 3].mean()),
              "zero_filled_ssim": float(table[:, 4].mean()), "slices": len(rows),
              "by_acceleration": {}}
    if config.supervision == "ssdu":
        result["metric"] = "held-out k-space error (dB, SSDU validation: no reference)"
        return result
    for accel in sorted(set(table[:, 0])):
        sel = table[table[:, 0] == accel]
        result["by_acceleration"][f"{accel:g}"] = {
            "psnr": float(sel[:, 1].mean()), "ssim": float(sel[:, 2].mean()),
            "zero_filled_psnr": float(sel[:, 3].mean())}
    return result


def _held_out_row(model: UnrolledNet, example: Example, mask: np.ndarray,
                  rng: np.random.Generator) -> tuple:
    """``(0, dB, 0, zero-filled dB, 0)`` of a fixed held-out split of one slice's ``mask``."""
    theta, lam = ssdu_split(mask, SSDU_LOSS_FRACTION, rng)
    error = float(ScanModel(model, example.kspace, centre_units(mask), example.maps)
                  .error(theta, lam))
    op = operator(theta, None if example.maps is None else example.maps[None])
    zero = op.adjoint(example.kspace[None] * torch.as_tensor(theta, device=example.kspace.device))
    wanted = example.kspace * torch.as_tensor(lam, device=example.kspace.device)
    lam_op = operator(lam, None if example.maps is None else example.maps[None])
    zf_error = float((lam_op.forward(zero)[0] - wanted).abs().square().sum()
                     / wanted.abs().square().sum().clamp_min(1e-30))
    return (0.0, -10 * math.log10(max(error, 1e-30)), 0.0,
            -10 * math.log10(max(zf_error, 1e-30)), 0.0)


def is_kspace_training(config) -> bool:
    """Whether ``config`` trains the unrolled network on k-space files (not images).

    Every ``--data`` entry must then be a k-space file or a folder of them; mixing
    k-space with images is refused.

    Raises
    ------
    UsageError
        k-space and image data mixed.
    """
    from csmri.errors import UsageError

    if config.model != "unrolled":
        return False
    kinds = {_is_kspace_source(str(item)) for item in config.data}
    if len(kinds) > 1:
        raise UsageError("give either k-space files or images as training data, not both")
    return kinds == {True}


def _is_kspace_source(text: str) -> bool:
    from pathlib import Path

    from csmri.io import is_kspace_file

    path = Path(text.split("?", 1)[0])
    if path.is_dir():
        return any(is_kspace_file(p) for p in path.iterdir() if p.is_file())
    return path.exists() and is_kspace_file(path)


def open_kspace_training(config):
    """The lazy slices of k-space training data and ``config`` with supervision resolved.

    Parameters
    ----------
    config : TrainConfig
        ``data``, ``coils`` (at most one count: the compression), ``maps_cache``,
        ``supervision``, ``output``.

    Returns
    -------
    slices : KspaceSlices
        The slices.
    config : TrainConfig
        A copy with ``supervision`` "full" or "ssdu".

    Raises
    ------
    UsageError
        Several coil counts, or ``full`` supervision on undersampled data.
    """
    import dataclasses
    import warnings
    from pathlib import Path

    from csmri.errors import DataWarning, UsageError

    if len(config.coils) > 1:
        raise UsageError("k-space training data take one --coils count (the compression)")
    cache = config.maps_cache
    if cache is None:
        output = Path(config.output)
        cache = output.with_name(output.name.removesuffix(".safetensors") + ".maps")
    files = [Path(str(item).split("?", 1)[0]) for item in config.data]
    slices = KspaceSlices(files, coils=config.coils[0] if config.coils else None,
                          maps_cache=Path(cache))
    supervision = config.supervision
    if supervision == "auto":
        supervision = "full" if slices.fully_sampled else "ssdu"
    if supervision == "full" and not slices.fully_sampled:
        raise UsageError("supervised training needs fully sampled k-space; these data are "
                         "undersampled: use --supervision ssdu (or auto)")
    if supervision == "ssdu" and slices.fully_sampled:
        warnings.warn("SSDU on fully sampled data: it trains without the reference that "
                      "supervised training (--supervision full) would use", DataWarning,
                      stacklevel=2)
    return slices, dataclasses.replace(config, supervision=supervision)


def slice_hashes(slices: KspaceSlices) -> list[str]:
    """Leak-check hashes of every slice: the RSS of its coil images, cropped.

    Each slice is read whole, maps included: the maps are estimated, or checked against the
    cache, before the first step, so a stale cache is refused before any training.
    """
    from csmri.mri.fft import ifft2c
    from learned.data.manifest import slice_hash

    hashes = []
    for index in range(len(slices)):
        item = slices[index]
        rss = np.sqrt(np.sum(np.abs(ifft2c(item.kspace)) ** 2, axis=0))
        hashes.append(slice_hash(crop(torch.from_numpy(rss), item.recon_crop).numpy()))
    return hashes
