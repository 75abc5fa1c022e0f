"""Test-time adaptation: fit a trained network to one scan's own measured k-space.

Self-supervised, after Darestani, Liu and Heckel (ICML 2022), with the measured samples
split as in SSDU (Yaman et al., 2020).  Only measured k-space is used; the target image
never is.  For one slice with measured units ``M`` (columns for a column mask, k-space
locations for a 2-D mask) and fully sampled centre ``C``:

* a fixed, seeded **held-out** set ``V`` of measured non-centre units is put aside for
  early stopping.  It never enters a loss and is never a network input while adapting;
* every step, the rest ``R`` (``M`` without ``V``) is split again at random into an **input** set
  (always holding ``C``) and a **loss** set ``L``.  The network reconstructs ``x`` from
  ``y`` on the input set, and the loss is the relative k-space error on ``L``,
  ``||P_L (A x - y)||^2 / ||P_L y||^2``;
* every ``check_every`` steps the **held-out error** ``||P_V (A x_R - y)||^2 / ||P_V y||^2``
  of the reconstruction ``x_R`` from all of ``R`` is measured.  The weights with the lowest
  held-out error so far, the unadapted ones included, are kept.  Adaptation stops after
  ``patience`` checks without improvement, or at ``steps``.

``A`` is the single-coil Cartesian operator ``fft2c``, or the SENSE operator
``fft2c(maps * x)`` (:class:`csmri.linop.Sense`) when coil maps are given.  The U-Net
predicts a magnitude: its complex image takes the phase of the image of the centre block,
as the ``hard-lowres`` data consistency does (the centre is always in the input set).

The model passed in is deep-copied; its weights are never modified.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from csmri.acquisition import Trajectory
from csmri.errors import InputError, UsageError
from learned.data.splits import centre_units as centre_units  # re-exported (tests, callers)
from learned.data.splits import draw_subset, holdout_set, ssdu_split
from learned.forward import unet_forward, unrolled_forward
from learned.models.unet import NormUnet
from learned.models.unrolled import UnrolledNet

MAX_STEPS = 2000  # more than this is a typo: at ~0.2 s per step it would be minutes per slice

DEFAULT_STEPS = 100
DEFAULT_LOSS_FRACTION = 0.4
DEFAULT_HOLDOUT_FRACTION = 0.2
DEFAULT_LR = 1e-4
# The loss's phase model; an adapted network's output gets its measured samples back.
ADAPTED_CONSISTENCY = "hard-lowres"


@dataclass(frozen=True)
class AdaptConfig:
    """Settings of test-time adaptation (defaults chosen in ``benchmarks/bench_adapt.py``).

    Attributes
    ----------
    steps : int
        Step cap (0 returns the model unchanged).
    loss_fraction : float
        Fraction of the measured non-centre, non-held-out units drawn into the loss set
        each step.
    holdout_fraction : float
        Fraction of the measured non-centre units held out, once, for early stopping.
    lr : float
        Adam learning rate.
    check_every : int
        Steps between held-out checks.
    patience : int
        Checks without a new best held-out error before stopping.
    seed : int
        Seed of the held-out set and of every step's split.
    """

    steps: int = DEFAULT_STEPS
    loss_fraction: float = DEFAULT_LOSS_FRACTION
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION
    lr: float = DEFAULT_LR
    check_every: int = 5
    patience: int = 4
    seed: int = 0

    def validate(self) -> AdaptConfig:
        """Check the values; return ``self``.

        Returns
        -------
        AdaptConfig
            ``self``.

        Raises
        ------
        UsageError
            A value out of range.
        """
        check_steps(self.steps)
        for name in ("loss_fraction", "holdout_fraction"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise UsageError(f"adaptation {name} must lie strictly between 0 and 1, "
                                 f"got {value}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise UsageError(f"adaptation learning rate must be > 0, got {self.lr}")
        if self.check_every < 1 or self.patience < 1:
            raise UsageError("adaptation check_every and patience must be >= 1")
        return self


def check_steps(steps: int) -> int:
    """Refuse a negative or absurd number of adaptation steps.

    Parameters
    ----------
    steps : int
        Requested steps.

    Returns
    -------
    int
        ``steps``.

    Raises
    ------
    UsageError
        Not an integer in ``[0, MAX_STEPS]``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise UsageError(f"adaptation steps must be an integer, got {steps!r}")
    if not 0 <= steps <= MAX_STEPS:
        raise UsageError(f"adaptation steps must lie in [0, {MAX_STEPS}], got {steps}")
    return int(steps)


@dataclass
class AdaptResult:
    """An adapted copy of the model and the record of its adaptation.

    Attributes
    ----------
    model : NormUnet or UnrolledNet
        The copy with the weights of the best held-out check.
    losses : list of float
        Self-supervised loss of every step run.
    checks : list of tuple (int, float)
        ``(step, held-out error)`` of every check; step 0 is the unadapted model.
    best_step : int
        Step whose weights were kept (0: adaptation did not help on the held-out set).
    seconds : float
        Wall time.
    """

    model: NormUnet | UnrolledNet
    losses: list[float] = field(default_factory=list)
    checks: list[tuple[int, float]] = field(default_factory=list)
    best_step: int = 0
    seconds: float = 0.0

    @property
    def steps_run(self) -> int:
        """Optimiser steps taken before stopping."""
        return len(self.losses)


class ScanModel:
    """A network and the encoding operator of one scan, restricted to any set of samples.

    Parameters
    ----------
    net : NormUnet or UnrolledNet
        The network.  A U-Net's magnitude takes the phase of the centre block's image.
    kspace : complex Tensor, shape (H, W) or (C, H, W)
        Measured k-space of one slice (single-coil, or multi-coil with ``maps``).
    centre : ndarray of bool, shape (W,) or (H, W)
        Fully sampled centre.
    maps : complex Tensor, shape (C, H, W), optional
        Coil sensitivities: ``A`` is :class:`csmri.linop.Sense`, else
        :class:`csmri.linop.Cartesian`.
    """

    def __init__(
        self,
        net: NormUnet | UnrolledNet,
        kspace: torch.Tensor,
        centre: np.ndarray,
        maps: torch.Tensor | None = None,
    ) -> None:
        self.net, self.kspace, self.maps = net, kspace, maps
        self.phase = None
        if isinstance(getattr(net, "module", net), NormUnet):  # a DDP wrapper holds .module
            low = self.operator(centre).adjoint(kspace)
            size = low.abs()
            self.phase = torch.where(size > 0, low / size.clamp_min(1e-30), torch.ones_like(low))

    def operator(self, units: np.ndarray):
        """``A`` restricted to the given samples: ``P_units F`` (``S`` first with maps)."""
        from csmri.linop import Cartesian, Sense

        shape = tuple(self.kspace.shape[-2:])
        return Cartesian(units, shape) if self.maps is None else Sense(self.maps, units)

    def image(self, units: np.ndarray) -> torch.Tensor:
        """The network's complex image ``(H, W)`` reconstructed from the given samples."""
        op = self.operator(units)
        if self.phase is None:  # unrolled: it applies A and A^H itself
            kspace = self.kspace * torch.as_tensor(units, device=self.kspace.device)
            return self.net(kspace[None], op, complex_output=True)[0]
        zero_filled = op.adjoint(self.kspace)
        x = torch.stack([zero_filled.real, zero_filled.imag])[None]
        magnitude = self.net(x.contiguous(memory_format=torch.channels_last))[0]
        return magnitude.to(self.phase.dtype) * self.phase

    def error(self, inputs: np.ndarray, targets: np.ndarray) -> torch.Tensor:
        """Relative squared k-space error on ``targets`` of the image from ``inputs``."""
        op = self.operator(targets)
        measured = op.cartesian.mask_op if self.maps is not None else op.mask_op
        wanted = measured.forward(self.kspace)
        residual = op.forward(self.image(inputs)) - wanted
        return residual.abs().square().sum() / wanted.abs().square().sum().clamp_min(1e-30)


Network = NormUnet | UnrolledNet


def adapt_model(
    model: Network,
    kspace: np.ndarray,
    mask: np.ndarray,
    config: AdaptConfig | None = None,
    maps: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    on_check: Callable[[int, float, Network], None] | None = None,
) -> AdaptResult:
    """Adapt a copy of ``model`` to one slice's measured k-space (see the module docstring).

    Parameters
    ----------
    model : NormUnet or UnrolledNet
        Trained network (not modified).
    kspace : ndarray of complex, shape (H, W) or (C, H, W)
        Measured k-space of one slice (values off the mask are ignored).
    mask : ndarray of bool, shape (W,) or (H, W), or Trajectory
        Sampled columns or locations; or a radial/spiral trajectory, whose spokes are the
        units that are split (unrolled network only, :class:`learned.noncartesian.SpokeScan`).
    config : AdaptConfig, optional
        Settings; the defaults when omitted.
    maps : ndarray of complex, shape (C, H, W), optional
        Coil sensitivities for multi-coil k-space.
    device : str or torch.device
        Where to adapt.
    on_check : callable, optional
        Called as ``on_check(step, held_out_error, network)`` at every check (benchmarks
        score the current weights with it; it must not modify them).

    Returns
    -------
    AdaptResult
        The adapted copy and the loss and held-out records.

    Raises
    ------
    InputError
        Shapes that do not match, non-finite k-space, or fewer than 3 measured units
        outside the centre (nothing to hold out and fit).
    """
    config = (config or AdaptConfig()).validate()
    device = torch.device(device)
    sampling = mask if isinstance(mask, Trajectory) else None
    kspace = np.asarray(kspace)
    if sampling is None:
        mask = np.asarray(mask).astype(bool)
        _check_inputs(kspace, mask, maps)
    else:  # radial/spiral: the units are the spokes (interleaves), all measured
        mask = np.ones(sampling.samples[-1], dtype=bool)
    start = time.perf_counter()
    net = copy.deepcopy(model).to(device)
    result = AdaptResult(model=net)
    if config.steps == 0:
        return result
    rng = np.random.default_rng(config.seed)
    if sampling is None:
        centre, holdout = holdout_set(mask, config.holdout_fraction, rng)
    else:  # every spoke crosses the centre: no centre set, the same seeded draws
        if mask.sum() < 3:
            raise InputError(f"adaptation needs at least 3 spokes, got {int(mask.sum())}")
        centre, holdout = np.zeros_like(mask), draw_subset(mask, config.holdout_fraction, rng)
    pool = mask & ~holdout
    y = _tensor(kspace, device)
    if maps is not None:
        maps = _tensor(maps, device)
    net.eval()  # frozen normalisation statistics (BatchNorm); gradients still flow
    net.requires_grad_(True)
    if sampling is None:
        scan = ScanModel(net, y, centre, maps)
    else:
        from learned.noncartesian import SpokeScan

        scan = SpokeScan(net, y, sampling, maps)
    optimiser = torch.optim.Adam(net.parameters(), lr=config.lr)

    def check(step: int) -> float:
        with torch.no_grad():
            value = float(scan.error(pool, holdout))
        result.checks.append((step, value))
        if on_check is not None:
            on_check(step, value, net)
        return value

    best, best_state, stale = check(0), copy.deepcopy(net.state_dict()), 0
    for step in range(1, config.steps + 1):
        inputs, loss_set = ssdu_split(pool, config.loss_fraction, rng, centre=centre)
        loss = scan.error(inputs, loss_set)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        result.losses.append(float(loss.detach()))
        if step % config.check_every and step != config.steps:
            continue
        value = check(step)
        if value < best:
            best, stale, result.best_step = value, 0, step
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            if stale >= config.patience:
                break
    net.load_state_dict(best_state)
    net.requires_grad_(False)
    result.seconds = time.perf_counter() - start
    return result


def _tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A complex64 copy on ``device`` (inputs may be read-only views: never shared)."""
    return torch.from_numpy(np.array(array, dtype=np.complex64)).to(device)


def _check_inputs(kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None) -> None:
    if mask.ndim not in (1, 2):
        raise InputError(f"mask must have shape (W,) or (H, W), got {mask.shape}")
    if maps is None and kspace.ndim != 2:
        raise InputError(f"single-coil k-space of one slice must be (H, W), got {kspace.shape}")
    if maps is not None and (kspace.ndim != 3 or np.shape(maps) != kspace.shape):
        raise InputError(
            f"multi-coil k-space (C, H, W) and maps must match, got {kspace.shape} and "
            f"{np.shape(maps)}"
        )
    if mask.shape != kspace.shape[-mask.ndim :]:
        raise InputError(f"mask shape {mask.shape} does not match k-space {kspace.shape}")
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf")


def reconstruct_adapted(
    kspace: np.ndarray,
    mask: np.ndarray,
    model: Network,
    config: AdaptConfig,
    device: str | torch.device = "cpu",
    data_consistency_mode: str | None = None,
    maps: np.ndarray | None = None,
) -> tuple[np.ndarray, list[AdaptResult]]:
    """Adapt a fresh copy of ``model`` to each slice, then reconstruct it from all its samples.

    Parameters
    ----------
    kspace : ndarray of complex, shape (S, H, W) or, with ``maps``, (S, C, H, W)
        Measured k-space.
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    model : NormUnet or UnrolledNet
        Trained network (not modified).
    config : AdaptConfig
        Adaptation settings (``config.steps > 0``).
    device : str or torch.device
        Where to run.
    data_consistency_mode : {"none", "hard", "hard-lowres"}, optional
        U-Net only.  Default: the model's stored mode, or ``hard-lowres`` where that is
        ``none``: the loss fits only samples the network did not see, so an adapted U-Net
        is reliable off the measured samples, not on them; the measurements go back in.
    maps : ndarray of complex, shape (S, C, H, W), optional
        Coil sensitivities (unrolled network, multi-coil k-space).

    Returns
    -------
    images : ndarray of float32, shape (S, H, W)
        Magnitudes from the adapted copies.
    results : list of AdaptResult
        One per slice.
    """
    if isinstance(model, NormUnet) and data_consistency_mode is None:
        stored = model.config.data_consistency
        data_consistency_mode = ADAPTED_CONSISTENCY if stored == "none" else stored
    images = np.empty((kspace.shape[0], *kspace.shape[-2:]), dtype=np.float32)
    results = []
    for index in range(kspace.shape[0]):
        coils = None if maps is None else maps[index : index + 1]
        result = adapt_model(model, kspace[index] * mask, mask, config,
                             None if coils is None else coils[0], device)
        if isinstance(model, NormUnet):
            net = result.model.to(device=device, memory_format=torch.channels_last)  # as infer
            image = unet_forward(kspace[index : index + 1], mask, net, torch.device(device),
                                 data_consistency_mode)
        else:
            image = unrolled_forward(kspace[index : index + 1], mask, result.model.to(device),
                                     torch.device(device), coils)
        images[index] = image[0]
        results.append(result)
    return images, results
