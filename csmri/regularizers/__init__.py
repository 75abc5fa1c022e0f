"""Regularisers ``R`` with exact proximal operators, in the form the solvers use.

A regulariser works on the solver's *variable*: the image itself for TV, the
image embedded in a padded domain for wavelets (see
:mod:`csmri.regularizers.wavelet`).  Each regulariser offers

* ``prox(v, mu)`` for proximal-gradient methods (``mu = step * lambda``);
* an analysis operator ``K`` with ``R(x) = ||K x||`` (group l1), its adjoint,
  the shrinkage of ``||.||`` and the spectrum of ``K^H K`` in k-space, for ADMM.

It keeps per-slice state (the TV dual for warm starts, the cycle-spinning random
streams), which :meth:`keep` narrows when some slices of a batch converge.
"""

from __future__ import annotations

import numpy as np

from csmri.backend import squared_norms
from csmri.errors import UsageError
from csmri.kernel import per_image_thresholds
from csmri.regularizers import tv as _tv
from csmri.regularizers import tv_kernels as _tv_kernels
from csmri.regularizers.tv import real_view
from csmri.regularizers.wavelet import WAVELETS, WaveletTransform

REGULARIZERS: tuple[str, ...] = ("tv", "tv-aniso", "wavelet")
"""Names accepted by :func:`make_regularizer` (``tv`` is isotropic TV)."""


class Regularizer:
    """Base class; see the module docstring for the contract."""

    name = "abstract"
    gram_kspace: np.ndarray | None = None
    """Eigenvalues of ``K^H K`` in uncentred k-space, or None when ``K^H K = I``."""

    def to_variable(self, image: np.ndarray) -> np.ndarray:
        """Solver variable from images ``(S, H, W)``."""
        return np.array(image, dtype=np.complex64, copy=True)

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

    def admm_update(
        self, x: np.ndarray, z: np.ndarray, u: np.ndarray, threshold: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ADMM's z- and u-steps: ``w = K x``, ``z' = shrink(w + u)``, ``u += w - z'`` (in place).

        Parameters
        ----------
        x : ndarray
            New solver variable.
        z : ndarray
            Current split variable (not modified; the caller keeps it for the dual residual).
        u : ndarray
            Scaled dual, updated in place.
        threshold : ndarray, shape (S,)
            Per-slice shrinkage threshold ``lam / rho``.

        Returns
        -------
        z_new : ndarray
            ``shrink(w + u)``.
        norm_w : ndarray, shape (S,)
            ``||K x||`` in the regulariser's norm (``R(x)``), for the objective.
        primal_sq : ndarray, shape (S,)
            ``||w - z_new||^2``.
        """
        w = self.analysis(x)
        shifted = w + u
        z_new = self.shrink(shifted, threshold)
        np.subtract(shifted, z_new, out=u)
        return z_new, self.norm(w), squared_norms(w - z_new, self.slice_axis)

    def admm_synthesis(
        self, z: np.ndarray, u: np.ndarray, z_old: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """``K^H (z - u)`` and the squared dual residual ``||K^H (z - z_old)||^2`` per slice."""
        change = z - z_old
        # K^H K = I (orthogonal wavelets): ||K^H dz|| = ||dz||, saving one synthesis.
        orthogonal = self.gram_kspace is None
        dual_sq = squared_norms(change if orthogonal else self.synthesis(change), self.slice_axis)
        return self.synthesis(z - u), dual_sq

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
        self, shape: tuple[int, int], isotropic: bool = True, inner_iter: int = 10
    ) -> None:
        self.isotropic = isotropic
        self.name = "tv" if isotropic else "tv-aniso"
        self.inner_iter = int(inner_iter)
        self.gram_kspace = _tv.gram_eigenvalues(shape)
        self._dual: np.ndarray | None = None
        self._last_mu: float | None = None

    def value(self, x: np.ndarray) -> np.ndarray:
        """TV of each slice."""
        return _tv.tv_norm(x, self.isotropic)

    def prox(self, v: np.ndarray, mu: float) -> tuple[np.ndarray, None]:
        """FGP TV prox, warm-started with the last dual when ``mu`` is unchanged."""
        warm = self._dual if self._last_mu == mu else None
        x, self._dual = _tv.tv_prox(v, mu, self.isotropic, self.inner_iter, warm)
        self._last_mu = mu
        return x, None

    def analysis(self, x: np.ndarray) -> np.ndarray:
        """Circular forward differences."""
        return _tv.gradient(x)

    def synthesis(self, w: np.ndarray) -> np.ndarray:
        """Adjoint of the differences."""
        return _tv.divergence_adjoint(w)

    def shrink(self, w: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
        """Group (isotropic) or componentwise soft-thresholding (one threshold or one per slice)."""
        return _tv.shrink(w, threshold, self.isotropic)

    def norm(self, w: np.ndarray) -> np.ndarray:
        """l2,1 (isotropic) or l1 (anisotropic) norm per slice."""
        return _tv.group_norm(w, self.isotropic)

    def admm_update(
        self, x: np.ndarray, z: np.ndarray, u: np.ndarray, threshold: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One fused pass (see :meth:`Regularizer.admm_update`); ``D x`` is never stored."""
        z_new = np.empty_like(z)
        thresholds = per_image_thresholds(threshold, x.shape[0], x.real.dtype)
        value, primal_sq = _tv_kernels.admm_z_update(
            real_view(x), real_view(u), real_view(z_new), thresholds, self.isotropic
        )
        return z_new, value, primal_sq

    def admm_synthesis(
        self, z: np.ndarray, u: np.ndarray, z_old: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One fused pass for ``D^H (z - u)`` and ``||D^H (z - z_old)||^2``."""
        b = np.empty(z.shape[1:], dtype=z.dtype)
        dual_sq = _tv_kernels.admm_synthesis(
            real_view(z), real_view(u), real_view(z_old), real_view(b)
        )
        return b, dual_sq

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
        wavelet: str = "db4",
        levels: int | None = None,
        cycle_spin: bool = False,
        slice_seeds: list | None = None,
    ) -> None:
        self.name = "wavelet"
        self.transform = WaveletTransform(shape, wavelet, levels)
        self.cycle_spin = bool(cycle_spin)
        seeds = [0] if slice_seeds is None else list(slice_seeds)
        self._rngs = [np.random.default_rng(s) for s in seeds]

    def to_variable(self, image: np.ndarray) -> np.ndarray:
        """Zero-padded image."""
        return self.transform.pad(np.asarray(image, dtype=np.complex64))

    def to_image(self, x: np.ndarray) -> np.ndarray:
        """Crop of the padded variable (a view)."""
        return self.transform.crop(x)

    def value(self, x: np.ndarray) -> np.ndarray:
        """l1 norm of the detail coefficients (no shift)."""
        return self.transform.detail_l1(self.transform.forward(x))

    def _shifts(self, count: int) -> list[tuple[int, int]]:
        block = 2**self.transform.levels
        if len(self._rngs) != count:
            raise ValueError(f"{len(self._rngs)} slice seeds for {count} slices")
        return [tuple(int(s) for s in rng.integers(0, block, size=2)) for rng in self._rngs]

    def prox(self, v: np.ndarray, mu: float) -> tuple[np.ndarray, np.ndarray]:
        """Soft-thresholding in the (optionally randomly shifted) wavelet domain."""
        # The roll is folded into the transform's real/imaginary split (no np.roll copies).
        shifts = self._shifts(v.shape[0]) if self.cycle_spin else None
        return self.transform.prox_shifted(v, mu, shifts)

    def analysis(self, x: np.ndarray) -> np.ndarray:
        """Wavelet coefficients."""
        return self.transform.forward(x)

    def synthesis(self, w: np.ndarray) -> np.ndarray:
        """Inverse (= adjoint) transform."""
        return self.transform.inverse(w)

    def shrink(self, w: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
        """Soft-thresholding of the detail coefficients (one threshold or one per slice)."""
        return self.transform.soft_threshold(w.copy(), threshold)

    def norm(self, w: np.ndarray) -> np.ndarray:
        """l1 norm of the details."""
        return self.transform.detail_l1(w)

    def keep(self, index: np.ndarray) -> None:
        """Narrow the per-slice random streams."""
        self._rngs = [self._rngs[i] for i in np.asarray(index)]


def make_regularizer(
    reg: str,
    shape: tuple[int, int],
    wavelet: str = "db4",
    levels: int | None = None,
    cycle_spin: bool = False,
    slice_seeds: list[int] | None = None,
    tv_iter: int = 5,
) -> Regularizer:
    """Build a regulariser by name.

    Parameters
    ----------
    reg : {"tv", "tv-aniso", "wavelet"}
        Isotropic TV, anisotropic TV or wavelet l1.
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
    if reg == "wavelet":
        return WaveletL1(shape, wavelet, levels, cycle_spin, slice_seeds)
    raise UsageError(f"unknown regulariser {reg!r}; choose one of {', '.join(REGULARIZERS)}")


__all__ = [
    "REGULARIZERS",
    "WAVELETS",
    "Regularizer",
    "TotalVariation",
    "WaveletL1",
    "WaveletTransform",
    "make_regularizer",
]
