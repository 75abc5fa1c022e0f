"""Forward models: linear operators with their exact adjoints.

An operator maps an image ``x`` of shape ``ishape`` to measurements of shape
``oshape``.  Solvers only use :meth:`LinearOperator.forward`,
:meth:`LinearOperator.adjoint` and :meth:`LinearOperator.normal`, so a
multi-coil SENSE operator (image -> coils x k-space) can be added as another
subclass without changing them.
"""

from __future__ import annotations

import numpy as np

from csmri.fft import fft2c, ifft2c


class LinearOperator:
    """A linear map ``A`` with adjoint ``A^H`` and normal operator ``A^H A``.

    Subclasses implement :meth:`forward` and :meth:`adjoint`; :meth:`normal`
    defaults to their composition and can be overridden when it simplifies.
    """

    ishape: tuple[int, ...]
    oshape: tuple[int, ...]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Apply ``A``."""
        raise NotImplementedError

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """Apply ``A^H``."""
        raise NotImplementedError

    def normal(self, x: np.ndarray) -> np.ndarray:
        """Apply ``A^H A``."""
        return self.adjoint(self.forward(x))


class CartesianSingleCoil(LinearOperator):
    """Masked, centred, orthonormal 2-D FFT ``A = M F`` for single-coil Cartesian data.

    Parameters
    ----------
    mask : ndarray, shape (W,) or (H, W) or (..., H, W)
        Sampling pattern; a column mask of shape ``(W,)`` is broadcast over rows
        (and over any leading slice axes of the image).

    Notes
    -----
    Because ``F`` is unitary and ``M`` is a 0/1 diagonal, ``A^H A = F^H M F`` has
    operator norm 1 (the Lipschitz constant of the data term's gradient), and
    ``(A^H A + rho I)^{-1}`` is diagonal in k-space.
    """

    def __init__(self, mask: np.ndarray, image_shape: tuple[int, ...]) -> None:
        mask = np.asarray(mask)
        if mask.ndim == 1:
            mask = mask[np.newaxis, :]
        self.mask = (mask != 0).astype(np.float32)
        self.ishape = tuple(image_shape)
        self.oshape = tuple(image_shape)
        np.broadcast_shapes(self.mask.shape, self.ishape)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Image -> masked k-space."""
        return fft2c(x) * self.mask

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """Masked k-space -> zero-filled image."""
        return ifft2c(y * self.mask)

    def normal(self, x: np.ndarray) -> np.ndarray:
        """``F^H M F x``: one FFT pair (the mask is idempotent)."""
        return ifft2c(fft2c(x) * self.mask)


def adjointness_error(operator: LinearOperator, rng: np.random.Generator | None = None) -> float:
    """Relative gap ``|<A x, y> - <x, A^H y>| / (|<A x, y>|)`` on random complex vectors.

    Parameters
    ----------
    operator : LinearOperator
        The operator to check.
    rng : numpy.random.Generator, optional
        Source of the random test vectors (seeded with 0 when omitted).

    Returns
    -------
    float
        Close to machine precision for a correct adjoint.
    """
    rng = np.random.default_rng(0) if rng is None else rng

    def noise(shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    x, y = noise(operator.ishape), noise(operator.oshape)
    lhs = np.vdot(y, operator.forward(x))
    rhs = np.vdot(operator.adjoint(y), x)
    return float(abs(lhs - rhs) / max(abs(lhs), np.finfo(float).tiny))
