"""ADMM's split terms ``z_i = K_i x`` and their per-iteration updates (fused where it pays).

A :class:`Split` is one regulariser term ``lam_i ||K_i x||`` of a sum.  The
variable ``x`` of the solve is the image, or the image embedded in a wavelet's
padded domain when a wavelet term is present (see
:mod:`csmri.regularizers.wavelet`): a term whose own domain is the image (TV)
then sees the crop, ``K = D crop`` and ``K^H = pad D^H``.

On NumPy ``complex64`` stacks an isotropic or anisotropic TV term takes the fused
Numba kernels of :mod:`csmri.regularizers.tv_kernels` (``D x`` is never stored);
everything else uses the regulariser's ``analysis``, ``shrink``, ``norm`` and
``synthesis``, on NumPy arrays or torch tensors.

A cycle-spun wavelet term is a :class:`SpunWaveletSplit`: its split variable stays in
the padded image domain (``K = I``), and its update is the wavelet prox under a fresh
random shift, so ADMM gets the translation invariance that FISTA gets from cycle
spinning.  Because the orthogonal wavelet has ``W^H W = I``, the ``x``-update is the
same as with ``K = W``; only the ``z``-update sees the shift.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from csmri.arrays import is_torch
from csmri.kernel import per_image_thresholds
from csmri.regularizers import Regularizer, TotalVariation
from csmri.regularizers import tv_kernels as _tv_kernels
from csmri.regularizers.tv import real_view
from csmri.solvers.arith import fast
from csmri.solvers.norms import squared_norms, to_numpy


def _identity(a: Any) -> Any:
    return a


class Split:
    """One term ``lam ||K x||`` of the regulariser, as ADMM splits it.

    Parameters
    ----------
    reg : Regularizer
        The term's regulariser (its ``K``, norm and shrinkage).
    lam : float
        Its weight.
    crop, pad : callable, optional
        Variable -> the regulariser's domain and back, when they differ.
    """

    def __init__(
        self,
        reg: Regularizer,
        lam: float,
        crop: Callable[[Any], Any] | None = None,
        pad: Callable[[Any], Any] | None = None,
    ) -> None:
        self.reg, self.lam = reg, float(lam)
        self.crop = crop or _identity
        self.pad = pad or _identity
        self.embedded = crop is not None
        self.axis = reg.slice_axis

    @property
    def orthogonal(self) -> bool:
        """``K^H K = I``: ``||K^H w|| = ||w||`` saves a synthesis."""
        return self.reg.gram is None

    def _fused(self, *arrays: Any) -> bool:
        return isinstance(self.reg, TotalVariation) and not self.embedded and fast(*arrays)

    def analysis(self, x: Any) -> Any:
        """``K x``."""
        return self.reg.analysis(self.crop(x))

    def synthesis(self, w: Any) -> Any:
        """``K^H w``."""
        return self.pad(self.reg.synthesis(w))

    def update(self, x: Any, z: Any, u: Any, threshold: np.ndarray) -> tuple[Any, Any, Any, Any]:
        """``w = K x``, ``z' = shrink(w + u, threshold)``, ``u' = u + w - z'``.

        Returns ``z'``, ``u'`` (NumPy: ``u`` updated in place), ``||w||`` (the
        term's ``R(x)``) and the squared primal residual ``||w - z'||^2``, per slice.
        """
        if self._fused(x, z[0], u[0]):  # TV fields (2, S, H, W): each component a stack
            z_new = np.empty_like(z)
            thresholds = per_image_thresholds(threshold, x.shape[0], x.real.dtype)
            value, primal_sq = self.reg.fused_z_update(
                real_view(x), real_view(u), real_view(z_new), thresholds
            )
            return z_new, u, value, primal_sq
        w = self.analysis(x)
        shifted = w + u
        z_new = self.reg.shrink(shifted, threshold)
        u_new = shifted - z_new
        return z_new, u_new, self.reg.norm(w), squared_norms(w - z_new, self.axis)

    def synthesise(self, z: Any, u: Any, z_old: Any) -> tuple[Any, np.ndarray]:
        """``K^H (z - u)`` and the squared dual residual ``||K^H (z - z_old)||^2`` per slice."""
        if self._fused(z[0], u[0]):
            b = np.empty(z.shape[1:], dtype=z.dtype)
            dual_sq = _tv_kernels.admm_synthesis(
                real_view(z), real_view(u), real_view(z_old), real_view(b)
            )
            return b, dual_sq
        change = z - z_old
        if self.orthogonal:
            dual_sq = squared_norms(change, self.axis)
        else:
            dual_sq = squared_norms(self.synthesis(change))
        return self.synthesis(z - u), dual_sq

    def scale_dual(self, u: Any, factor: np.ndarray) -> Any:
        """``u / factor_s`` per slice (the scaled dual when rho changes by ``factor``)."""
        shape = [1] * len(u.shape)
        shape[self.axis] = -1
        if is_torch(u):
            import torch

            f = torch.as_tensor(1.0 / factor, dtype=u.real.dtype, device=u.device)
            return u * f.reshape(shape)
        u *= (1.0 / factor).astype(u.real.dtype).reshape(shape)
        return u

    def take(self, a: Any, index: np.ndarray) -> Any:
        """The slices ``index`` of an analysis-domain array."""
        if is_torch(a):
            import torch

            return torch.index_select(a, self.axis, torch.as_tensor(index, device=a.device))
        return np.take(a, index, axis=self.axis)

    def norms(self, w: Any) -> np.ndarray:
        """``||w||_2`` per slice of an analysis-domain array."""
        return np.sqrt(squared_norms(w, self.axis))


class SpunWaveletSplit(Split):
    """A cycle-spun wavelet term ``lam ||detail(W S_t x)||_1``, split as ``z = x``.

    ``z = prox_{threshold R_{S_t}}(x + u)`` with a fresh random shift ``S_t`` per
    iteration (the regulariser's own seeded streams).  The recorded ``R`` is the unshifted
    ``R(x)`` (one more transform), so the history tracks one fixed objective; with a shift
    that changes every iteration it is only approximately monotone.

    Parameters
    ----------
    reg : WaveletL1
        A wavelet regulariser with ``cycle_spin=True``.
    lam : float
        Its weight.
    """

    @property
    def orthogonal(self) -> bool:
        """``K = I``."""
        return True

    def analysis(self, x: Any) -> Any:
        """``K x = x`` (the padded variable)."""
        return x

    def synthesis(self, w: Any) -> Any:
        """``K^H w = w``."""
        return w

    def update(self, x: Any, z: Any, u: Any, threshold: np.ndarray) -> tuple[Any, Any, Any, Any]:
        """``z' = prox(x + u)`` under a fresh shift, ``u' = u + x - z'``; ``R`` and primal^2."""
        shifted = x + u
        z_new, _ = self.reg.prox(shifted, threshold)
        u_new = shifted - z_new
        return z_new, u_new, self.reg.value(x), squared_norms(x - z_new, self.axis)


def value(split: Split, x: Any) -> np.ndarray:
    """``R(x)`` of a term per slice (float64)."""
    return to_numpy(split.reg.value(split.crop(x)))
