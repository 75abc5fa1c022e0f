"""Reconstruct magnitude images from undersampled k-space with a trained U-Net or unrolled net."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from csmri.errors import InputError
from learned.forward import unet_forward, unrolled_forward
from learned.models.checkpoint import load_model
from learned.models.unet import NormUnet
from learned.models.unrolled import UnrolledNet

SHIPPED_WEIGHTS = "unet_small.safetensors"
SHIPPED = {
    "unet": ("unet_small.safetensors", "scripts/train_shipped_model.sh"),
    "unrolled": ("unrolled_small.safetensors", "scripts/train_unrolled_model.sh"),
}


def shipped_weights_path(kind: str = "unet") -> Path:
    """Path of the pretrained weights inside the package.

    Parameters
    ----------
    kind : {"unet", "unrolled"}
        Which model.

    Returns
    -------
    Path
        ``learned/weights/unet_small.safetensors`` or ``unrolled_small.safetensors``.
    """
    return Path(__file__).resolve().parent / "weights" / SHIPPED[kind][0]


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, device: str, kind: str = "unet") -> tuple:
    return load_model(path, device, kind)


def load_shipped_model(device: str | torch.device = "cpu", kind: str = "unet") -> tuple:
    """Load a pretrained model shipped with the package (cached).

    Parameters
    ----------
    device : str or torch.device
        Where to put it.
    kind : {"unet", "unrolled"}
        Which model.

    Returns
    -------
    model : NormUnet or UnrolledNet
    config : UNetConfig or UnrolledConfig
    metadata : dict
        Training provenance, manifest and validation metrics.
    """
    path = shipped_weights_path(kind)
    if not path.is_file():
        raise InputError(f"the shipped {kind} weights are missing; run {SHIPPED[kind][1]}", path)
    return _load_cached(str(path), str(device), kind)


def _resolve_model(model, device) -> NormUnet:
    if model is None:
        model = load_shipped_model(device)[0]
    elif isinstance(model, str | Path):
        model = _load_cached(str(Path(model).resolve()), str(device))[0]
    elif isinstance(model, tuple):
        model = model[0]
    if not isinstance(model, NormUnet):
        raise TypeError(f"model must be None, a path or a NormUnet, got {type(model).__name__}")
    # The inputs are channels-last already; channels-last weights let the convolutions skip
    # layout conversions: 66 -> 48 ms per 320x320 slice measured on 2 CPU cores (same values
    # up to float32 rounding).  Converting in place is idempotent and cheap.
    return model.to(device=device, memory_format=torch.channels_last)


def reconstruct(
    kspace: np.ndarray,
    mask: np.ndarray,
    model: NormUnet | str | Path | tuple | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 4,
    data_consistency_mode: str | None = None,
    adapt_steps: int = 0,
    adapt_seed: int = 0,
) -> np.ndarray:
    """One-shot U-Net reconstruction of single-coil Cartesian k-space.

    Parameters
    ----------
    kspace : ndarray of complex, shape (S, H, W) or (H, W)
        Centred k-space (unsampled entries are ignored: the mask is applied).
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    model : NormUnet, path, ``(model, config, metadata)`` or None
        None loads the shipped weights (:func:`load_shipped_model`).
    device : str or torch.device
        ``"cpu"`` or ``"cuda"``.
    batch_size : int
        Slices per forward pass.
    data_consistency_mode : {"none", "hard", "hard-lowres"} or None
        Override the model's stored data-consistency default.
    adapt_steps : int
        Test-time adaptation: at most this many self-supervised steps on each slice's own
        measured k-space, from a fresh copy of the model (0: none); see :mod:`learned.adapt`.
    adapt_seed : int
        Seed of the adaptation's sample splits.

    Returns
    -------
    ndarray of float32, shape (S, H, W)
        Magnitude images in the units of the input (a 2-D input gives ``S = 1``).
    """
    kspace = np.asarray(kspace)
    if kspace.ndim == 2:
        kspace = kspace[np.newaxis]
    if kspace.ndim != 3:
        raise InputError(f"k-space must have shape (S, H, W) or (H, W), got {kspace.shape}")
    mask = np.asarray(mask).astype(bool).reshape(-1)
    if mask.shape[0] != kspace.shape[-1]:
        raise InputError(f"mask has {mask.shape[0]} columns, k-space has {kspace.shape[-1]}")
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    net = _resolve_model(model, device)
    if adapt_steps:
        from learned.adapt import AdaptConfig, reconstruct_adapted

        config = AdaptConfig(steps=adapt_steps, seed=adapt_seed).validate()
        return reconstruct_adapted(kspace, mask, net, config, device, data_consistency_mode)[0]
    return unet_forward(kspace, mask, net, device, data_consistency_mode, batch_size)


def _check_stack(kspace: np.ndarray, mask: np.ndarray, coil_axis: bool) -> tuple:
    """Validate ``(S, [C,] H, W)`` k-space and a ``(W,)`` mask; returns both as arrays."""
    kspace = np.asarray(kspace)
    expected = 4 if coil_axis else 3
    if kspace.ndim == expected - 1:
        kspace = kspace[np.newaxis]
    if kspace.ndim != expected:
        shape = "(S, C, H, W)" if coil_axis else "(S, H, W) or (H, W)"
        raise InputError(f"k-space must have shape {shape}, got {kspace.shape}")
    mask = np.asarray(mask).astype(bool).reshape(-1)
    if mask.shape[0] != kspace.shape[-1]:
        raise InputError(f"mask has {mask.shape[0]} columns, k-space has {kspace.shape[-1]}")
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf")
    return kspace, mask


MAX_UNROLLED_COILS = 8
"""The unrolled network SVD-compresses k-space and maps (with one matrix per slice) to at
most this many virtual coils: the data-consistency CG costs one FFT pair per coil, and
8 virtual coils keep the signal energy of a 16- or 32-channel head array (measured in
``benchmarks/bench_real.py``: the 8-coil view scores as the 16-coil one)."""


def reconstruct_unrolled(
    kspace: np.ndarray,
    mask: np.ndarray,
    model: UnrolledNet | str | Path | tuple | None = None,
    device: str | torch.device = "cpu",
    maps: np.ndarray | None = None,
    batch_size: int = 4,
    adapt_steps: int = 0,
    adapt_seed: int = 0,
) -> np.ndarray:
    """Unrolled-network reconstruction of single-coil or multi-coil Cartesian k-space.

    Parameters
    ----------
    kspace : ndarray of complex, shape (S, H, W), (H, W) or, with ``maps``, (S, C, H, W)
        Centred k-space (the mask is applied).
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    model : UnrolledNet, path, ``(model, config, metadata)`` or None
        None loads the shipped weights.
    device : str or torch.device
        ``"cpu"`` or ``"cuda"``.
    maps : ndarray of complex, shape (S, C, H, W) or (C, H, W), optional
        Coil sensitivities (e.g. ESPIRiT) for multi-coil k-space: the operator is then
        :class:`csmri.linop.Sense`, else :class:`csmri.linop.Cartesian`.  More than
        :data:`MAX_UNROLLED_COILS` coils are compressed first (k-space and maps alike).
    batch_size : int
        Slices per forward pass.
    adapt_steps : int
        Test-time adaptation: at most this many self-supervised steps on each slice's own
        measured k-space, from a fresh copy of the model (0: none); see :mod:`learned.adapt`.
    adapt_seed : int
        Seed of the adaptation's sample splits.

    Returns
    -------
    ndarray of float32, shape (S, H, W)
        Magnitude images in the units of ``A^H y``.
    """
    kspace, mask = _check_stack(kspace, mask, maps is not None)
    if maps is not None:
        maps = np.asarray(maps)
        maps = maps if maps.ndim == 4 else np.broadcast_to(maps, (len(kspace), *maps.shape))
        if maps.shape != kspace.shape:
            raise InputError(f"coil maps have shape {maps.shape}, k-space {kspace.shape}")
        if kspace.shape[1] > MAX_UNROLLED_COILS:  # the SENSE model is exact for U^H y, U^H S
            from csmri.mri.coils import compress_coils

            kspace, maps = compress_coils(np.ascontiguousarray(kspace * mask),
                                          MAX_UNROLLED_COILS, np.ascontiguousarray(maps))
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device)
    if model is None:
        model = load_shipped_model(device, "unrolled")
    elif isinstance(model, str | Path):
        model = _load_cached(str(Path(model).resolve()), str(device), "unrolled")
    net = model[0] if isinstance(model, tuple) else model
    if not isinstance(net, UnrolledNet):
        raise TypeError(f"model must be an UnrolledNet, got {type(net).__name__}")
    net = net.to(device)
    if adapt_steps:
        from learned.adapt import AdaptConfig, reconstruct_adapted

        config = AdaptConfig(steps=adapt_steps, seed=adapt_seed).validate()
        return reconstruct_adapted(kspace, mask, net, config, device, maps=maps)[0]
    return unrolled_forward(kspace, mask, net, device, maps, batch_size)
