"""Regularisers ``R`` with exact proximal operators, in the form the solvers use.

A regulariser works on the solver's *variable*: the image itself for TV, the
image embedded in a padded domain for wavelets (see
:mod:`csmri.regularizers.wavelet`).  Each regulariser is ``R(x) = ||K x||`` for a
linear map ``K`` and a (group) l1 norm, and offers

* ``prox(v, mu)``, the proximal operator of ``mu R`` (exact for wavelets, FGP for TV);
* the parts a splitting method needs: ``analysis`` (``K``), ``synthesis``
  (``K^H``), ``shrink`` (the prox of the norm), ``norm``, and the eigenvalues of
  ``K^H K`` in k-space (``gram``; None when ``K^H K = I``).

Everything works on NumPy arrays (fused Numba kernels) and on torch tensors
(:mod:`csmri.regularizers.torch_ops`, differentiable, on the tensor's device).
A regulariser keeps per-slice state (the TV dual for warm starts, the
cycle-spinning random streams), which :meth:`keep` narrows when some slices of
a batch converge.
"""

from __future__ import annotations

import types
from typing import Any

import numpy as np

from csmri.arrays import is_torch
from csmri.defaults import (
    DEFAULT_TV_ITER,
    DEFAULT_WAVELET,
    REGULARIZER_SUMS,
    SINGLE_REGULARIZERS,
)
from csmri.errors import UsageError
from csmri.regularizers import tv as _tv
from csmri.regularizers import tv_kernels as _tv_kernels
from csmri.regularizers.wavelet import WAVELETS, WaveletTransform, check_wavelet

Array = Any
"""A NumPy array or a torch tensor."""


def _torch() -> types.ModuleType:
    """The torch implementations (imported only once a tensor is seen)."""
    from csmri.regularizers import torch_ops

    return torch_ops


def torch_cat(parts: list, dim: int) -> Any:
    """``torch.cat`` (torch imported lazily)."""
    import torch

    return torch.cat(parts, dim)


def torch_stack(parts: list) -> Any:
    """``torch.stack`` (torch imported lazily)."""
    import torch

    return torch.stack(parts)


def _complex_dtype(image: np.ndarray) -> type:
    """``complex128`` for double-precision images, else ``complex64``."""
    return np.complex128 if np.asarray(image).dtype in (np.complex128, np.float64) else np.complex64


def roll2(x: Any, shift: tuple[int, int]) -> Any:
    """Circular shift of the last two axes of a tensor."""
    import torch

    return torch.roll(x, shifts=shift, dims=(-2, -1))


REGULARIZERS: tuple[str, ...] = SINGLE_REGULARIZERS
"""Names accepted by :func:`make_regularizer` (``tv`` is isotropic TV); :func:`make_terms`
also takes the sums of :data:`csmri.defaults.REGULARIZER_SUMS`."""


class Regularizer:
    """Base class; see the module docstring for the contract."""

    name = "abstract"
    gram_kspace: np.ndarray | None = None
    """Eigenvalues of ``K^H K`` in uncentred k-space, or None when ``K^H K = I``."""

    def to_variable(self, image: Array) -> Array:
        """Solver variable from images ``(S, H, W)`` (NumPy: a complex64/complex128 copy)."""
        if is_torch(image):
            return image
        return np.array(image, dtype=_complex_dtype(image), copy=True)

    def to_image(self, x: np.ndarray) -> np.ndarray:
        """Images ``(S, H, W)`` from the solver variable (may be a view)."""
        return x

    def value(self, x: np.ndarray) -> np.ndarray:
        """``R(x)`` per slice."""
        raise NotImplementedError

    def prox(self, v: np.ndarray, mu: float) -> tuple[np.ndarray, np.ndarray | None]:
        """``argmin 1/2||x - v||^2 + mu R(x)`` and, if known for free, ``R`` of it."""
        raise NotImplementedError

    def analysis(self, x: np.ndarray) -> np.ndarray:
        """``K x``."""
        raise NotImplementedError

    def synthesis(self, w: np.ndarray) -> np.ndarray:
        """``K^H w``."""
        raise NotImplementedError

    def shrink(self, w: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
        """Prox of ``threshold * ||.||`` in the analysis domain (one threshold or one per slice)."""
        raise NotImplementedError

    def norm(self, w: np.ndarray) -> np.ndarray:
        """``||w||`` per slice, so that ``R(x) = norm(K x)``."""
        raise NotImplementedError

    @property
    def gram(self) -> np.ndarray | None:
        """Eigenvalues of ``K^H K`` in *centred* k-space (for ``fft2c``), or None for ``I``."""
        g = self.gram_kspace
        return None if g is None else np.fft.fftshift(g)

    def keep(self, index: np.ndarray) -> None:
        """Keep only the per-slice state of the slices ``index`` (batch compaction)."""

    slice_axis = 0
    """Axis of the slices in analysis-domain arrays."""


class TotalVariation(Regularizer):
    """Isotropic or anisotropic TV on circular differences (see :mod:`csmri.regularizers.tv`).

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    isotropic : bool
        Isotropic (BART's ``-R T``) or anisotropic (SigPy) TV.
    inner_iter : int
        FGP iterations per prox, warm-started from the previous dual.
    """

    slice_axis = 1

    def __init__(
        self, shape: tuple[int, int], isotropic: bool = True, inner_iter: int = DEFAULT_TV_ITER
    ) -> None:
        self.isotropic = isotropic
        self.name = "tv" if isotropic else "tv-aniso"
        self.inner_iter = int(inner_iter)
        self.gram_kspace = _tv.gram_eigenvalues(shape)
        self._dual: np.ndarray | None = None
        self._last_mu: float | None = None

    def value(self, x: Array) -> Array:
        """TV of each slice."""
        if is_torch(x):
            return _torch().tv_value(x, self.isotropic)
        return _tv.tv_norm(x, self.isotropic)

    def prox(self, v: Array, mu: float) -> tuple[Array, None]:
        """FGP TV prox, warm-started with the last dual when ``mu`` is unchanged."""
        warm = self._dual if self._last_mu == mu else None
        if is_torch(v):
            x, self._dual = _torch().tv_prox(v, mu, self.isotropic, self.inner_iter, warm)
        else:
            x, self._dual = _tv.tv_prox(v, mu, self.isotropic, self.inner_iter, warm)
        self._last_mu = mu
        return x, None

    def analysis(self, x: Array) -> Array:
        """Circular forward differences ``(2, S, H, W)``."""
        return _torch().gradient(x) if is_torch(x) else _tv.gradient(x)

    def synthesis(self, w: Array) -> Array:
        """Adjoint of the differences."""
        return _torch().divergence_adjoint(w) if is_torch(w) else _tv.divergence_adjoint(w)

    def shrink(self, w: Array, threshold: float | np.ndarray) -> Array:
        """Group (isotropic) or componentwise soft-thresholding (one threshold or one per slice)."""
        if is_torch(w):
            return _torch().shrink_field(w, threshold, self.isotropic)
        return _tv.shrink(w, threshold, self.isotropic)

    def fused_z_update(
        self, x: np.ndarray, u: np.ndarray, z: np.ndarray, thresholds: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """ADMM's fused ``z``/``u`` update on real views (:func:`tv_kernels.admm_z_update`).

        Returns ``R(x)`` and the squared primal residual per slice.
        """
        none = np.empty((0, 0, 0), dtype=x.dtype)
        return _tv_kernels.admm_z_update(x, u, z, thresholds, self.isotropic, none, 0.0)

    def norm(self, w: Array) -> Array:
        """l2,1 (isotropic) or l1 (anisotropic) norm per slice."""
        if is_torch(w):
            return _torch().group_norm(w, self.isotropic)
        return _tv.group_norm(w, self.isotropic)

    def keep(self, index: np.ndarray) -> None:
        """Narrow the warm-start dual."""
        if self._dual is not None:
            self._dual = self._dual[:, index]


class WaveletL1(Regularizer):
    """l1 norm of orthogonal wavelet detail coefficients on the padded image domain.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    wavelet : str
        Orthogonal PyWavelets wavelet (default db4).
    levels : int, optional
        Decomposition levels (automatic when omitted).
    cycle_spin : bool
        Random circular shift of the padded image before each prox (as BART):
        ``prox(v) = S^-1 prox(S v)`` with a fresh shift ``S`` per call, which
        suppresses blocking artefacts; the objective then changes with ``S``.
    slice_seeds : sequence of int, optional
        One seed per slice for the shifts (results do not depend on batching).
    """

    gram_kspace = None

    def __init__(
        self,
        shape: tuple[int, int],
        wavelet: str = DEFAULT_WAVELET,
        levels: int | None = None,
        cycle_spin: bool = False,
        slice_seeds: list | None = None,
    ) -> None:
        self.name = "wavelet"
        self.transform = WaveletTransform(shape, wavelet, levels)
        self.cycle_spin = bool(cycle_spin)
        seeds = [0] if slice_seeds is None else list(slice_seeds)
        self._rngs = [np.random.default_rng(s) for s in seeds]

    def to_variable(self, image: Array) -> Array:
        """Zero-padded image."""
        if is_torch(image):
            (h, w), (hp, wp) = self.transform.image_shape, self.transform.padded_shape
            zeros = image.new_zeros((*image.shape[:-2], h, wp - w))
            wide = torch_cat([image, zeros], -1)
            return torch_cat([wide, image.new_zeros((*image.shape[:-2], hp - h, wp))], -2)
        return self.transform.pad(np.asarray(image, dtype=_complex_dtype(image)))

    def to_image(self, x: Array) -> Array:
        """Crop of the padded variable (a view; ``x`` itself when nothing is padded).

        Returning ``x`` lets the solvers skip the copy a proper crop needs.
        """
        if self.transform.padded_shape == self.transform.image_shape:
            return x
        return self.transform.crop(x)

    def _filters(self) -> tuple[tuple, tuple]:
        return tuple(self.transform.wavelet.dec_lo), tuple(self.transform.wavelet.dec_hi)

    def value(self, x: Array) -> Array:
        """l1 norm of the detail coefficients (no shift)."""
        return self.norm(self.analysis(x))

    def _shifts(self, count: int) -> list[tuple[int, int]]:
        block = 2**self.transform.levels
        if len(self._rngs) != count:
            raise ValueError(f"{len(self._rngs)} slice seeds for {count} slices")
        return [tuple(int(s) for s in rng.integers(0, block, size=2)) for rng in self._rngs]

    def prox(self, v: Array, mu: float | np.ndarray) -> tuple[Array, Array]:
        """Soft-thresholding in the (optionally randomly shifted) wavelet domain.

        ``mu`` is one threshold or one per slice.
        """
        shifts = self._shifts(v.shape[0]) if self.cycle_spin else None
        if not is_torch(v):
            # The roll is folded into the transform's real/imaginary split (no np.roll copies).
            return self.transform.prox_shifted(v, mu, shifts)
        ops = _torch()
        if shifts is not None:
            v = torch_stack([roll2(v[s], shift) for s, shift in enumerate(shifts)])
        c, l1 = ops.soft_threshold_details(
            self.analysis(v), np.maximum(mu, 0.0), self.transform.approx_shape
        )
        x = self.synthesis(c)
        if shifts is not None:
            x = torch_stack([roll2(x[s], (-a, -b)) for s, (a, b) in enumerate(shifts)])
        return x, l1

    def analysis(self, x: Array) -> Array:
        """Wavelet coefficients (Mallat layout)."""
        if is_torch(x):
            return _torch().dwt_analysis(x, *self._filters(), self.transform.levels)
        return self.transform.forward(x)

    def synthesis(self, w: Array) -> Array:
        """Inverse (= adjoint) transform."""
        if is_torch(w):
            return _torch().dwt_synthesis(w, *self._filters(), self.transform.levels)
        return self.transform.inverse(w)

    def shrink(self, w: Array, threshold: float | np.ndarray) -> Array:
        """Soft-thresholding of the detail coefficients (one threshold or one per slice)."""
        if is_torch(w):
            return _torch().soft_threshold_details(w, threshold, self.transform.approx_shape)[0]
        return self.transform.soft_threshold(w.copy(), threshold)

    def norm(self, w: Array) -> Array:
        """l1 norm of the details."""
        if is_torch(w):
            return _torch().detail_l1(w, self.transform.approx_shape)
        return self.transform.detail_l1(w)

    def keep(self, index: np.ndarray) -> None:
        """Narrow the per-slice random streams."""
        self._rngs = [self._rngs[i] for i in np.asarray(index)]


def make_regularizer(
    reg: str,
    shape: tuple[int, int],
    wavelet: str = DEFAULT_WAVELET,
    levels: int | None = None,
    cycle_spin: bool = False,
    slice_seeds: list[int] | None = None,
    tv_iter: int = DEFAULT_TV_ITER,
) -> Regularizer:
    """Build a regulariser by name.

    Parameters
    ----------
    reg : {"tv", "tv-aniso", "wavelet", "tv-reweighted"}
        Isotropic TV, anisotropic TV, wavelet l1 or isotropic TV with reweighted l1
        (:mod:`csmri.regularizers.reweighted`).
    shape : tuple of int
        Image size ``(H, W)``.
    wavelet, levels, cycle_spin, slice_seeds
        Wavelet options (see :class:`WaveletL1`).
    tv_iter : int
        FGP iterations per TV prox.

    Returns
    -------
    Regularizer
        A fresh regulariser (it holds per-solve state).
    """
    if reg == "tv":
        return TotalVariation(shape, True, tv_iter)
    if reg == "tv-aniso":
        return TotalVariation(shape, False, tv_iter)
    if reg == "tv-reweighted":
        from csmri.regularizers.reweighted import ReweightedTV

        return ReweightedTV(shape)
    if reg == "wavelet":
        check_wavelet(wavelet)
        return WaveletL1(shape, wavelet, levels, cycle_spin, slice_seeds)
    raise UsageError(f"unknown regulariser {reg!r}; choose one of {', '.join(REGULARIZERS)}")


def make_terms(
    reg: str,
    shape: tuple[int, int],
    lam: float,
    **options: Any,
) -> list[tuple[Regularizer, float]]:
    """The weighted terms of a regulariser name: one for ``tv``, two for ``tv+wavelet``.

    Parameters
    ----------
    reg : str
        A name of :data:`REGULARIZERS` or of :data:`csmri.defaults.REGULARIZER_SUMS`.
    shape : tuple of int
        Image size ``(H, W)``.
    lam : float
        Weight of every term.
    **options
        Passed to :func:`make_regularizer` (wavelet options reach only wavelet terms).

    Returns
    -------
    list of (Regularizer, float)
        Fresh regularisers with their weights.
    """
    names = REGULARIZER_SUMS.get(reg, (reg,))
    return [(make_regularizer(name, shape, **options), float(lam)) for name in names]


__all__ = [
    "REGULARIZERS",
    "WAVELETS",
    "Regularizer",
    "TotalVariation",
    "WaveletL1",
    "WaveletTransform",
    "check_wavelet",
    "make_regularizer",
    "make_terms",
]
