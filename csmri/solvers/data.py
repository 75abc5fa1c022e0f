"""The data term ``1/2 ||A x - y||^2`` of a linear operator, as the solvers use it.

:func:`least_squares` picks one of two implementations with the same interface:

* :class:`LeastSquares`, for any :class:`csmri.linop.LinearOperator` on NumPy arrays
  or torch tensors: ``A``, ``A^H``, the operator's exact normal solve where it
  has one and warm-started conjugate gradients where it has not (SENSE);
* :class:`CartesianFast`, the NumPy fast path of the single-coil
  :class:`csmri.linop.Cartesian` operator, which works in uncentred FFT
  coordinates with fused Numba kernels.  With ``F_c x = fftshift(F(ifftshift(x)))``
  and ``F`` the uncentred orthonormal FFT, the circular shift in image space is a
  unit-modulus diagonal ``phi`` in k-space, so for any (odd or even) size
  ``||M_c F_c x - y|| = ||M_u F x - y_u||`` with ``M_u = ifftshift(M_c)`` and
  ``y_u = conj(phi) * ifftshift(y)``: no shift copies, the image is unchanged.

* :class:`CartesianColumns`, the same for a *column* mask (each k-space column
  sampled whole, the usual Cartesian scheme) when the solver needs no normal
  solve (FISTA, ISTA).  Such a mask commutes with the FFT along the fully
  sampled axis, so ``||M F_H F_W x - y|| = ||M F_W x - F_H^H y||`` (Parseval):
  the data term lives in hybrid space and costs 1-D FFTs along the rows only,
  which took 0.18 ms per 320 x 320 image against 0.40 ms for the 2-D FFT
  (``scipy.fft``, two threads, batch of 4).

All keep a *spectrum* ``k`` of an iterate (``A x``, ``F x`` on the fast path,
``F_W x`` on the column path): it is linear in ``x``, so solvers combine spectra
as they combine iterates and never transform twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import constant_like, is_torch
from csmri.backend import get_backend
from csmri.linop import Cartesian, LinearOperator, Sense
from csmri.linop.fft import shift_phase
from csmri.solvers import kernels
from csmri.solvers.cg import conjugate_gradient
from csmri.solvers.norms import squared_norms
from csmri.solvers.sense_fast import UncentredSense, to_uncentred


def least_squares(
    op: LinearOperator, y: Any, *, needs_solve: bool = True, **kwargs: Any
) -> LeastSquares | CartesianFast:
    """The data term of ``op`` and measurements ``y`` (the fast path where it applies).

    Parameters
    ----------
    op : LinearOperator
        Forward model; its input is one image per slice, ``(S, H, W)``.
    y : ndarray or torch.Tensor
        Measurements ``(S, *op.oshape)``; their kind and device choose the backend.
    needs_solve : bool
        Whether the solver calls ``solve`` (ADMM's x-update).  Without it a column
        mask gets the cheaper :class:`CartesianColumns`.
    **kwargs
        ``cg_tol`` and ``cg_iter`` for :class:`LeastSquares`.

    Returns
    -------
    LeastSquares or CartesianFast
        For a :class:`Cartesian` operator on a NumPy ``complex64`` stack
        :class:`CartesianColumns` (column mask, no ``solve`` needed) or
        :class:`CartesianFast`; for :class:`Sense` on NumPy ``complex64`` a
        :class:`LeastSquares` of :class:`csmri.solvers.sense_fast.UncentredSense` and
        the uncentred data; else :class:`LeastSquares`.
    """
    if type(op) is Cartesian and not is_torch(y) and np.asarray(y).dtype == np.complex64:
        if not needs_solve and is_column_mask(op.mask):
            return CartesianColumns(y, op.mask)
        return CartesianFast(y, op.mask)
    if type(op) is Sense and not is_torch(y) and not is_torch(op.maps):
        if np.asarray(y).dtype == np.complex64 and len(np.shape(y)) == 4:
            fast = UncentredSense(np.asarray(op.maps), op.mask)
            return LeastSquares(fast, to_uncentred(np.asarray(y), op.mask), **kwargs)
    return LeastSquares(op, y, **kwargs)


def is_column_mask(mask: np.ndarray) -> bool:
    """Whether ``mask`` samples whole columns: shape ``(W,)``, or ``(H, W)`` with equal rows."""
    mask = np.asarray(mask)
    return mask.ndim == 1 or bool(np.all(mask == mask[:1]))


class LeastSquares:
    """``1/2 ||A x - y||^2`` for any operator, on NumPy arrays or torch tensors.

    Parameters
    ----------
    op : LinearOperator
        Forward model.
    y : ndarray or torch.Tensor, shape ``(S, *oshape)``
        Measurements (normalised units).
    cg_tol : float
        Relative residual at which the conjugate-gradient normal solve stops.
    cg_iter : int
        Most CG iterations per normal solve.
    """

    def __init__(self, op: LinearOperator, y: Any, cg_tol: float = 1e-4, cg_iter: int = 20):
        self.op = op
        self.y = y
        self.cg_tol = float(cg_tol)
        self.cg_iter = int(cg_iter)
        self.last_cg_residual: np.ndarray | None = None
        self._x_prev: Any = None
        self._aty: Any = None
        self._lipschitz: float | None = None

    @property
    def lipschitz(self) -> float:
        """``||A^H A||``: 1 for a masked FFT, ``max sum_c |S_c|^2`` bounds it for SENSE."""
        if self._lipschitz is None:
            if isinstance(self.op, (Sense, UncentredSense)):
                maps = self.op.maps
                power = (maps.abs() ** 2 if is_torch(maps) else np.abs(maps) ** 2).sum(-3)
                self._lipschitz = float(power.max())
            elif isinstance(self.op, Cartesian):
                self._lipschitz = 1.0
            else:
                self._lipschitz = power_iteration(self.op, self.zero_filled())
        return self._lipschitz

    def zero_filled(self) -> Any:
        """``A^H y`` (computed once per batch)."""
        if self._aty is None:
            self._aty = self.op.adjoint(self.y)
        return self._aty

    def forward(self, x: Any) -> Any:
        """The spectrum ``A x`` of an image stack."""
        return self.op.forward(x)

    def value(self, k: Any) -> np.ndarray:
        """``1/2 ||k - y||^2`` per slice (float64) for a spectrum ``k = A x``."""
        return 0.5 * squared_norms(k - self.y)

    def gradient(self, k: Any) -> Any:
        """``A^H (A x - y)`` given ``k = A x``."""
        return self.op.adjoint(k - self.y)

    def solve(
        self, b: Any, rho: np.ndarray, gram: np.ndarray | None
    ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """ADMM's x-update: ``x = (A^H A + rho G)^-1 (A^H y + rho b)``.

        Exact when the operator has a closed form, else by CG warm-started at the
        previous solution (its final relative residual is kept in ``last_cg_residual``).

        Returns
        -------
        x : array, shape (S, H, W)
            The solution.
        data_term, diff_sq, new_sq : ndarray of float64, shape (S,)
            ``1/2 ||A x - y||^2``, ``||x - x_prev||^2`` and ``||x||^2``.
        """
        rhs = self.zero_filled() + _per_slice(rho, b) * b
        x = self.op.solve_normal(rhs, rho, gram)
        if x is None:
            x, self.last_cg_residual = self._cg(rhs, rho, gram)
        previous = self._x_prev if self._x_prev is not None else self.zero_filled()
        diff_sq, new_sq = squared_norms(x - previous), squared_norms(x)
        self._x_prev = x
        return x, self.value(self.forward(x)), diff_sq, new_sq

    def _cg(self, rhs: Any, rho: np.ndarray, gram: np.ndarray | None) -> tuple[Any, np.ndarray]:
        from csmri.linop.fft import fft2c, ifft2c

        weight = _per_slice(rho, rhs)
        if gram is None:

            def apply(x: Any) -> Any:
                return self.op.normal(x) + weight * x
        else:
            eig = constant_like(gram, rhs)

            def apply(x: Any) -> Any:
                return self.op.normal(x) + weight * ifft2c(eig * fft2c(x))

        start = self._x_prev if self._x_prev is not None else rhs
        precondition = self.preconditioner(rhs, rho, gram)
        return conjugate_gradient(apply, rhs, start, self.cg_tol, self.cg_iter, precondition)

    def preconditioner(self, rhs: Any, rho: np.ndarray, gram: np.ndarray | None) -> Any:
        """``r -> P r`` for the CG of :meth:`solve`; None (plain CG) here, see subclasses."""
        return None

    def keep(self, index: np.ndarray) -> None:
        """Keep only the slices ``index`` (batch compaction)."""
        self.y = self.y[_index(index, self.y)]
        self._aty = None
        if self._x_prev is not None:
            self._x_prev = self._x_prev[_index(index, self._x_prev)]
        if isinstance(self.op, Sense) and len(self.op.maps.shape) == 4:
            self.op = Sense(self.op.maps[_index(index, self.op.maps)], self.op.mask)
        elif isinstance(self.op, UncentredSense):
            self.op = self.op.take(index)


class CartesianFast:
    """The single-coil Cartesian data term on a NumPy ``complex64`` stack, uncentred.

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W)
        Centred, masked k-space (already divided by the data scale).
    mask : ndarray, shape (W,) or (H, W)
        Centred sampling mask (nonzero = sampled).
    """

    lipschitz = 1.0
    last_cg_residual = None

    def __init__(self, kspace: np.ndarray, mask: np.ndarray) -> None:
        h, w = kspace.shape[-2:]
        mask = np.asarray(mask)
        mask2d = np.broadcast_to(mask if mask.ndim == 2 else mask[None, :], (h, w))
        self.mask = np.ascontiguousarray(np.fft.ifftshift(mask2d != 0), dtype=np.float32)
        phase = shift_phase((h, w))
        self.y = (np.conj(phase) * np.fft.ifftshift(kspace, axes=(-2, -1))).astype(np.complex64)
        self.y *= self.mask
        self.backend = get_backend()
        self.shape = (h, w)
        self._k_prev = self.y.copy()  # F x0 = F F^H y = y for the zero-filled start
        self._den_key: tuple | None = None
        self._inv_den: np.ndarray | None = None

    def zero_filled(self) -> np.ndarray:
        """``A^H y``: the zero-filled image."""
        return self._inverse(self.y)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The spectrum ``F x`` (uncentred, unmasked)."""
        return self.backend.fft2(x)

    def value(self, k: np.ndarray) -> np.ndarray:
        """``1/2 ||M k - y||^2`` per slice (float64) given ``k = F x``."""
        return kernels.data_value(k, self.mask, self.y)

    def gradient(self, k: np.ndarray) -> np.ndarray:
        """``F^H M (M F x - y)`` given ``k = F x``: the residual is already zero off the mask."""
        r = np.empty_like(k)
        kernels.masked_residual(k, self.mask, self.y, r)
        return self._inverse(r)

    def unit_step(self, k: np.ndarray) -> np.ndarray:
        """``x - grad`` for the step ``1 = 1/L``, given ``k = F x``: ``F^H((1 - M) k + y)``.

        With a 0/1 mask the step replaces the sampled frequencies by the data (data
        consistency), one pass and one inverse FFT, where ``x - gradient(k)`` needs a
        further pass over the image.
        """
        r = np.empty_like(k)
        kernels.replace_sampled(k, self.mask, self.y, r)
        return self._inverse(r)

    def _inverse(self, k: np.ndarray) -> np.ndarray:
        """``F^H`` of a spectrum (the one place the subclass changes, with ``forward``)."""
        return self.backend.ifft2(k)

    def solve(
        self, b: np.ndarray, rho: np.ndarray, gram: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """ADMM's x-update, exactly, in one FFT pair and one fused pass (see :class:`LeastSquares`).

        ``gram`` is given in centred k-space, as the regularisers report it.
        """
        key = (tuple(np.asarray(rho).tolist()), None if gram is None else id(gram))
        if key != self._den_key:
            r = np.asarray(rho, dtype=np.float32).reshape(-1, 1, 1)
            g = np.float32(1.0) if gram is None else np.fft.ifftshift(gram).astype(np.float32)
            den = self.mask + r * g
            safe = np.where(den > 0, den, 1.0)
            self._inv_den = np.where(den > 0, 1.0 / safe, 0.0).astype(np.float32)
            self._den_key = key
        k = self.backend.fft2(b)
        data_term, diff_sq, new_sq = kernels.admm_kspace_update(
            k, self._k_prev, self.y, self.mask, np.asarray(rho, dtype=np.float32), self._inv_den
        )
        self._k_prev = k
        return self.backend.ifft2(k), data_term, diff_sq, new_sq

    def keep(self, index: np.ndarray) -> None:
        """Keep only the slices ``index`` (batch compaction)."""
        self.y = self.y[index]
        self._k_prev = self._k_prev[index]
        self._den_key = None


class CartesianColumns(CartesianFast):
    """:class:`CartesianFast` for a column mask in hybrid space: 1-D FFTs along rows only.

    The spectrum of an image is ``F_W x`` (uncentred, orthonormal, along the last
    axis) and the measurements are stored as ``F_H^H y``, so ``A``, ``A^H``, the
    gradient and the data term cost half a 2-D FFT or less (see the module
    docstring).  No ``solve``: ADMM's x-update needs the 2-D spectrum.

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W)
        Centred, masked k-space (already divided by the data scale).
    mask : ndarray, shape (W,) or (H, W)
        Centred column mask (:func:`is_column_mask`).
    """

    def __init__(self, kspace: np.ndarray, mask: np.ndarray) -> None:
        if not is_column_mask(mask):
            raise ValueError("CartesianColumns needs a mask that samples whole columns")
        super().__init__(kspace, mask)
        self.y = self.backend.ifft(self.y, axis=-2)
        self._k_prev = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The hybrid spectrum ``F_W x`` (uncentred, unmasked)."""
        return self.backend.fft(x, axis=-1)

    def _inverse(self, k: np.ndarray) -> np.ndarray:
        """``F_W^H``: zero-filled image, gradient and unit step follow from it."""
        return self.backend.ifft(k, axis=-1)

    def solve(self, b: np.ndarray, rho: np.ndarray, gram: np.ndarray | None) -> tuple:
        """Not available: use :class:`CartesianFast` for ADMM."""
        raise NotImplementedError("the column data term has no normal solve; use CartesianFast")

    def keep(self, index: np.ndarray) -> None:
        """Keep only the slices ``index`` (batch compaction)."""
        self.y = self.y[index]


def _index(index: np.ndarray, like: Any) -> Any:
    if is_torch(like):
        import torch

        return torch.as_tensor(np.asarray(index), device=like.device)
    return index


def _per_slice(rho: np.ndarray, like: Any) -> Any:
    return constant_like(np.asarray(rho, dtype=np.float64), like)[:, None, None]


def power_iteration(op: LinearOperator, start: Any, iterations: int = 30) -> float:
    """An estimate of ``||A^H A||`` from below, raised 5% to be a safe Lipschitz constant."""
    x = start
    value = 1.0
    for _ in range(iterations):
        norm = float(np.sqrt(squared_norms(x).max()))
        if norm == 0:
            return 1.0
        x = op.normal(x / norm)
        value = float(np.sqrt(squared_norms(x).max()))
    return 1.05 * value
