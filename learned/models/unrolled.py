"""An unrolled network after E2E-VarNet (Sriram et al. 2020), on the shared operator layer.

``K`` cascades refine a complex image ``x`` (coil-combined for multi-coil data):

``x_{t+1} = x_t - eta_t A^H (A x_t - y) - U_t(x_t)``

with ``A`` the forward operator (:class:`csmri.linop.Cartesian` for single-coil,
:class:`csmri.linop.Sense` with given coil maps for multi-coil data), ``y`` the measured
k-space, ``eta_t`` a learned data-consistency weight and ``U_t`` a small U-Net on the
real and imaginary parts.  ``A^H (A x - y)`` is the k-space soft data consistency of
E2E-VarNet (``eta M (k - y)`` on the measured samples) taken back to the image; as in
E2E-VarNet, the regulariser and the data term act on the same iterate.  Unlike
E2E-VarNet, the state is the SENSE-combined image rather than per-coil k-space, and the
coil maps are given (e.g. ESPIRiT) instead of estimated by a network.  The output is
``|x_K|``; ``x_0 = A^H y``.

MoDL data consistency (``dc="cg"``, Aggarwal, Mani and Jacob 2019): each cascade first
denoises, ``z_t = x_t - U_t(x_t)``, then solves the proximal problem
``x_{t+1} = argmin_x ||A x - y||^2 + mu_t ||x - z_t||^2``, i.e.
``(A^H A + mu_t I) x = A^H y + mu_t z_t``, with a fixed number of conjugate-gradient
iterations started at ``z_t`` and differentiated through.  A gradient step undoes little
of the coil aliasing of multi-coil data per cascade; CG solves the SENSE problem of each
cascade (for one coil, ``A^H A`` has two eigenvalues and CG is exact after two
iterations), so the output is data consistent and the same weights serve any coil count.

Phase reference (``phase_ref``, on by default): MR images carry a smooth phase that
changes from scan to scan, and a small network spends its capacity learning to be
equivariant to it.  Each cascade therefore sees ``x e^{-i phi}`` and its update is turned
back by ``e^{i phi}``, with ``phi`` the phase of a Gaussian low-pass of ``x_0`` (the
always-sampled centre of k-space; computed once per slice, no gradient).  The network then
works on nearly real images, as the magnitude U-Net does, while data consistency keeps
acting on the complex image.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from learned.models.unet import NORMS, UNet, padded_apply


@dataclass
class UnrolledConfig:
    """Hyper-parameters of :class:`UnrolledNet` (stored in model files as JSON).

    Attributes
    ----------
    cascades : int
        Number of unrolled iterations ``K``.
    chans : int
        First-level channels of each cascade's U-Net.
    depth : int
        Pooling levels of each U-Net.
    norm : {"group", "instance", "batch", "layer", "none"}
        Normalisation layer (see :func:`learned.models.unet.make_norm`).
    eta : float, optional
        Initial data-consistency weight of every cascade: the gradient step ``eta_t``, or
        MoDL's ``mu_t``.  Default 1.0 for ``"gradient"``, 0.1 for ``"cg"``.
    phase_ref : bool
        Turn each cascade's input by the low-resolution phase of ``x_0`` (module docstring).
    dc : {"gradient", "cg"}
        Data consistency: E2E-VarNet's gradient step, or MoDL's proximal step solved by
        ``cg_iters`` conjugate-gradient iterations (module docstring).
    cg_iters : int
        Conjugate-gradient iterations per cascade (``dc="cg"``).
    """

    cascades: int = 5
    chans: int = 8
    depth: int = 3
    norm: str = "group"
    eta: float | None = None
    phase_ref: bool = True
    dc: str = "gradient"
    cg_iters: int = 6

    def validate(self) -> UnrolledConfig:
        """Check the values; return ``self``.

        Returns
        -------
        UnrolledConfig
            The same object.
        """
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if not 1 <= self.cascades <= 32:
            raise ValueError(f"cascades must lie in [1, 32], got {self.cascades}")
        if not 1 <= self.chans <= 256:
            raise ValueError(f"chans must lie in [1, 256], got {self.chans}")
        if not 1 <= self.depth <= 6:
            raise ValueError(f"depth must lie in [1, 6], got {self.depth}")
        if self.dc not in DC_KINDS:
            raise ValueError(f"dc must be one of {', '.join(DC_KINDS)}, got {self.dc!r}")
        if not 1 <= self.cg_iters <= 50:
            raise ValueError(f"cg_iters must lie in [1, 50], got {self.cg_iters}")
        if self.eta is None:
            self.eta = 0.1 if self.dc == "cg" else 1.0
        if not math.isfinite(self.eta):
            raise ValueError(f"eta must be finite, got {self.eta}")
        return self

    def to_dict(self) -> dict:
        """JSON-ready dictionary.

        Returns
        -------
        dict
            The fields.
        """
        return asdict(self)


DC_KINDS = ("gradient", "cg")
MU_FLOOR = 1e-3
"""Smallest MoDL weight ``mu_t`` (keeps the CG system well conditioned where ``A`` is
rank-deficient, e.g. off the mask of a single coil)."""

PHASE_LOWPASS = 0.02
"""Standard deviation of the phase reference's Gaussian k-space window, as a fraction of
each image side (about 6 lines of 320: inside the fully sampled centre of common masks)."""


def phase_reference(image: torch.Tensor, width: float = PHASE_LOWPASS) -> torch.Tensor:
    """Unit-modulus phase of a Gaussian low-pass of each image (no gradient).

    Parameters
    ----------
    image : complex Tensor, shape (B, H, W)
        Images (``A^H y``).
    width : float
        Window standard deviation as a fraction of the image side.

    Returns
    -------
    complex Tensor, shape (B, H, W)
        ``e^{i phi}``; 1 where the low-pass vanishes.
    """
    from csmri.mri.fft import fft2c, ifft2c

    with torch.no_grad():
        h, w = image.shape[-2:]
        real = image.real.dtype
        fy = (torch.arange(h, device=image.device, dtype=real) - h // 2) / max(width * h, 1e-6)
        fx = (torch.arange(w, device=image.device, dtype=real) - w // 2) / max(width * w, 1e-6)
        window = torch.exp(-0.5 * (fy[:, None] ** 2 + fx[None, :] ** 2))
        low = ifft2c(fft2c(image) * window)
        modulus = low.abs()
        tiny = modulus.flatten(-2).amax(-1)[..., None, None] * 1e-6
        unit = torch.where(modulus > tiny, low / modulus.clamp_min(1e-30), torch.ones_like(low))
    return unit


def conjugate_gradient(op: Any, rhs: torch.Tensor, mu: torch.Tensor, start: torch.Tensor,
                       iters: int) -> torch.Tensor:
    """``iters`` CG iterations on ``(A^H A + mu I) x = rhs`` per slice, from ``start``.

    Differentiable (autograd runs through the iterations).  A slice whose residual is
    exactly zero stays where it is (zero step, no NaN).

    Parameters
    ----------
    op : csmri.linop.LinearOperator
        ``A``, with ``normal`` = ``A^H A``.
    rhs : complex Tensor, shape (B, H, W)
        Right-hand side.
    mu : Tensor
        Positive scalar.
    start : complex Tensor, shape (B, H, W)
        Initial iterate.
    iters : int
        Iterations.

    Returns
    -------
    complex Tensor, shape (B, H, W)
        The iterate.
    """

    def inner(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a.conj() * b).real.sum(dim=(-2, -1), keepdim=True)

    tiny = torch.finfo(rhs.real.dtype).tiny
    x = start
    r = rhs - (op.normal(x) + mu * x)
    p, rs = r, inner(r, r)
    for _ in range(iters):
        ap = op.normal(p) + mu * p
        alpha = rs / inner(p, ap).clamp_min(tiny)
        x = x + alpha * p
        r = r - alpha * ap
        rs_next = inner(r, r)
        p = r + (rs_next / rs.clamp_min(tiny)) * p
        rs = rs_next
    return x


class ComplexUnet(nn.Module):
    """U-Net on a complex image ``(B, H, W)``: standardise, pad, run on real/imag, rescale.

    The output is rescaled by the input's standard deviation but not shifted back by its
    mean: it is an update term, near zero at initialisation (so the untrained network is
    ``K`` plain data-consistency steps).

    Parameters
    ----------
    chans, depth : int
        U-Net size.
    norm : str
        Normalisation layer.
    """

    def __init__(self, chans: int, depth: int, norm: str) -> None:
        super().__init__()
        self.depth = depth
        self.unet = UNet(2, 2, chans, depth, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the U-Net.

        Parameters
        ----------
        x : complex Tensor, shape (B, H, W)
            Image.

        Returns
        -------
        complex Tensor, shape (B, H, W)
            Update term in the input's units.
        """
        parts = torch.stack([x.real, x.imag], dim=1)
        mean = parts.mean(dim=(2, 3), keepdim=True)
        std = parts.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        z = padded_apply(self.unet, (parts - mean) / std, self.depth) * std
        return torch.complex(z[:, 0].contiguous(), z[:, 1].contiguous())


class UnrolledNet(nn.Module):
    """``K`` cascades of U-Net regularisation and soft data consistency.

    Parameters
    ----------
    config : UnrolledConfig
        Architecture.
    """

    def __init__(self, config: UnrolledConfig) -> None:
        super().__init__()
        self.config = config.validate()
        self.nets = nn.ModuleList(
            ComplexUnet(config.chans, config.depth, config.norm) for _ in range(config.cascades)
        )
        self.eta = nn.Parameter(torch.full((config.cascades,), float(config.eta)))

    def forward(self, kspace: torch.Tensor, op: Any,
                complex_output: bool = False) -> torch.Tensor:
        """Reconstruct magnitudes (or the complex image) from measured k-space.

        Parameters
        ----------
        kspace : complex Tensor, shape (B, H, W) or (B, C, H, W)
            Measured k-space (zero where not sampled); coil axis for multi-coil data.
        op : csmri.linop.LinearOperator
            ``A`` (``Cartesian`` or ``Sense``) mapping images ``(B, H, W)`` to ``kspace``.
        complex_output : bool
            Return :meth:`image` (the self-supervised losses need it; going through
            ``forward`` keeps a DDP wrapper's gradient synchronisation).

        Returns
        -------
        Tensor, shape (B, H, W)
            Magnitude estimate (complex image) in the units of ``A^H y``.
        """
        image = self.image(kspace, op)
        return image if complex_output else image.abs()

    def image(self, kspace: torch.Tensor, op: Any) -> torch.Tensor:
        """The complex image ``x_K`` whose magnitude :meth:`forward` returns.

        Parameters
        ----------
        kspace : complex Tensor, shape (B, H, W) or (B, C, H, W)
            Measured k-space (zero where not sampled).
        op : csmri.linop.LinearOperator
            ``A``.

        Returns
        -------
        complex Tensor, shape (B, H, W)
            Image in the units of ``A^H y``.
        """
        x = op.adjoint(kspace)
        turn = phase_reference(x) if self.config.phase_ref else None
        if self.config.dc == "cg":
            return self._modl(x, kspace, op, turn)
        for t, net in enumerate(self.nets):
            update = net(x) if turn is None else net(x * turn.conj()) * turn
            x = self.data_consistency(x, kspace, op, t) - update
        return x

    def _modl(self, x: torch.Tensor, kspace: torch.Tensor, op: Any,
              turn: torch.Tensor | None) -> torch.Tensor:
        """MoDL cascades ``x <- argmin ||A x - y||^2 + mu_t ||x - (x - U_t(x))||^2``.

        Computed in units where ``max |A^H y| = 1`` per slice (the network is equivariant
        to the scale; CG's stopping-free recursion is better conditioned there).
        """
        scale = x.abs().flatten(1).amax(1).clamp_min(1e-30)[:, None, None]
        x, rhs = x / scale, op.adjoint(kspace) / scale
        for t, net in enumerate(self.nets):
            update = net(x) if turn is None else net(x * turn.conj()) * turn
            mu = self.eta[t].abs().clamp_min(MU_FLOOR)
            x = conjugate_gradient(op, rhs + mu * (x - update), mu, x - update,
                                   self.config.cg_iters)
        return x * scale

    def data_consistency(self, x: torch.Tensor, kspace: torch.Tensor, op: Any,
                         cascade: int) -> torch.Tensor:
        """Soft data consistency of one cascade: ``x - eta_t A^H (A x - y)``.

        Parameters
        ----------
        x : complex Tensor, shape (B, H, W)
            Current image.
        kspace : complex Tensor
            Measured k-space ``y``.
        op : csmri.linop.LinearOperator
            ``A``.
        cascade : int
            Which cascade's weight ``eta_t``.

        Returns
        -------
        complex Tensor, shape (B, H, W)
            Updated image.
        """
        return x - self.eta[cascade] * op.adjoint(op.forward(x) - kspace)
