"""The regularisers' arithmetic on torch tensors (CPU or CUDA, differentiable).

The same definitions as the NumPy/Numba path, written with out-of-place torch
operations so autograd flows through them: circular differences and their
adjoint, (group) soft-thresholding, the FGP TV prox, and the periodic orthogonal
wavelet transform in the Mallat layout of :mod:`csmri.regularizers.dwt`
(``A[k] = sum_j lo[j] x[(2k + F/2 - j) mod n]``, synthesis its transpose).
The tests check each against its NumPy twin.
"""

from __future__ import annotations

import math

import torch

_LIPSCHITZ_DDH = 8.0


def gradient(x: torch.Tensor) -> torch.Tensor:
    """Circular forward differences ``(2, ..., H, W)``: ``[vertical, horizontal]``."""
    return torch.stack([torch.roll(x, -1, -2) - x, torch.roll(x, -1, -1) - x])


def divergence_adjoint(p: torch.Tensor) -> torch.Tensor:
    """``D^H p`` (minus the circular divergence)."""
    return (torch.roll(p[0], 1, -2) - p[0]) + (torch.roll(p[1], 1, -1) - p[1])


def _per_image(threshold: object, like: torch.Tensor, leading: int) -> object:
    """A scalar, or per-image values shaped to broadcast over ``(leading..., S, H, W)``."""
    if isinstance(threshold, (int, float)):
        return float(threshold)
    values = torch.as_tensor(threshold, dtype=like.real.dtype, device=like.device).reshape(-1)
    if values.numel() == 1:
        return values.reshape(())
    return values.reshape(*([1] * leading), -1, 1, 1)


def moduli(w: torch.Tensor, isotropic: bool) -> torch.Tensor:
    """Pointwise magnitude of a field ``(2, ...)``: joint (isotropic) or per component."""
    sq = w.real**2 + w.imag**2
    return torch.sqrt(sq[0] + sq[1]) if isotropic else torch.sqrt(sq)


def group_norm(w: torch.Tensor, isotropic: bool) -> torch.Tensor:
    """``l2,1`` (isotropic) or ``l1`` norm of each image's field (shape ``(S,)``)."""
    m = moduli(w, isotropic)
    return m.sum(dim=(-2, -1)) if isotropic else m.sum(dim=(0, -2, -1))


def shrink_field(w: torch.Tensor, threshold: object, isotropic: bool) -> torch.Tensor:
    """``w * max(1 - t / |w|, 0)``, jointly (isotropic) or per component."""
    m = moduli(w, isotropic)
    t = _per_image(threshold, w, 0 if isotropic else 1)
    safe = torch.where(m > 0, m, torch.ones_like(m))
    factor = torch.clamp(1.0 - t / safe, min=0.0)
    return w * factor


def tv_value(x: torch.Tensor, isotropic: bool) -> torch.Tensor:
    """TV of each image."""
    return group_norm(gradient(x), isotropic)


def _project(g: torch.Tensor, isotropic: bool) -> torch.Tensor:
    m = moduli(g, isotropic)
    return g / torch.clamp(m, min=1.0)


def tv_prox(
    v: torch.Tensor, mu: float, isotropic: bool, n_iter: int, p0: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """FGP prox of ``mu * TV`` (as :func:`csmri.regularizers.tv.tv_prox`), warm-startable."""
    p = torch.zeros((2, *v.shape), dtype=v.dtype, device=v.device) if p0 is None else p0
    if mu <= 0:
        return v, p
    r = p
    t = 1.0
    step = 1.0 / (_LIPSCHITZ_DDH * mu)
    for _ in range(n_iter):
        t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        x = v - mu * divergence_adjoint(r)
        g = _project(r + step * gradient(x), isotropic)
        r = g + ((t - 1.0) / t_new) * (g - p)
        p = g
        t = t_new
    return v - mu * divergence_adjoint(p), p


def _analysis_axis(x: torch.Tensor, lo: tuple, hi: tuple, dim: int) -> torch.Tensor:
    """One level along ``dim`` (-2 or -1): the low band, then the high band."""
    off = len(lo) // 2
    a = d = None
    for j, (cl, ch) in enumerate(zip(lo, hi, strict=True)):
        rolled = torch.roll(x, j - off, dim)
        part = rolled[..., 0::2, :] if dim == -2 else rolled[..., 0::2]
        a = cl * part if a is None else a + cl * part
        d = ch * part if d is None else d + ch * part
    return torch.cat([a, d], dim)


def _synthesis_axis(c: torch.Tensor, lo: tuple, hi: tuple, dim: int) -> torch.Tensor:
    """Transpose of :func:`_analysis_axis`."""
    off = len(lo) // 2
    n = c.shape[dim]
    a, d = c.narrow(dim, 0, n // 2), c.narrow(dim, n // 2, n // 2)
    # Zero-insertion upsampling: sample k goes to position 2k.
    up_a = torch.stack([a, torch.zeros_like(a)], dim=dim).reshape(c.shape)
    up_d = torch.stack([d, torch.zeros_like(d)], dim=dim).reshape(c.shape)
    out = None
    for j, (cl, ch) in enumerate(zip(lo, hi, strict=True)):
        term = torch.roll(cl * up_a + ch * up_d, off - j, dim)
        out = term if out is None else out + term
    return out


def _replace_block(c: torch.Tensor, block: torch.Tensor, h: int, w: int) -> torch.Tensor:
    top = torch.cat([block, c[..., :h, w:]], dim=-1)
    return torch.cat([top, c[..., h:, :]], dim=-2)


def dwt_analysis(x: torch.Tensor, lo: tuple, hi: tuple, levels: int) -> torch.Tensor:
    """Multi-level periodic 2-D DWT of images ``(..., H, W)`` (Mallat layout)."""
    c = x
    h, w = x.shape[-2:]
    for _ in range(levels):
        block = _analysis_axis(c[..., :h, :w], lo, hi, -2)
        block = _analysis_axis(block, lo, hi, -1)
        c = _replace_block(c, block, h, w)
        h //= 2
        w //= 2
    return c


def dwt_synthesis(c: torch.Tensor, lo: tuple, hi: tuple, levels: int) -> torch.Tensor:
    """Inverse (= adjoint) of :func:`dwt_analysis`."""
    height, width = c.shape[-2:]
    for level in range(levels - 1, -1, -1):
        h, w = height >> level, width >> level
        block = _synthesis_axis(c[..., :h, :w], lo, hi, -1)
        block = _synthesis_axis(block, lo, hi, -2)
        c = _replace_block(c, block, h, w)
    return c


def detail_mask(
    shape: tuple[int, int], approx: tuple[int, int], like: torch.Tensor
) -> torch.Tensor:
    """True on the detail coefficients (everything but the top-left approximation block)."""
    mask = torch.ones(shape, dtype=torch.bool, device=like.device)
    mask[: approx[0], : approx[1]] = False
    return mask


def soft_threshold_details(
    c: torch.Tensor, threshold: object, approx: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-threshold the detail coefficients; also return their l1 norm after thresholding."""
    details = detail_mask(tuple(c.shape[-2:]), approx, c)
    m = c.abs()
    t = _per_image(threshold, c, 0)
    safe = torch.where(m > 0, m, torch.ones_like(m))
    factor = torch.where(details, torch.clamp(1.0 - t / safe, min=0.0), torch.ones_like(m))
    out = c * factor
    return out, detail_l1(out, approx)


def detail_l1(c: torch.Tensor, approx: tuple[int, int]) -> torch.Tensor:
    """l1 norm (complex modulus) of the detail coefficients of each image."""
    details = detail_mask(tuple(c.shape[-2:]), approx, c)
    return torch.where(details, c.abs(), torch.zeros_like(c.real)).sum(dim=(-2, -1))
