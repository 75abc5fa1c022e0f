"""The linear-operator type: forward, adjoint, normal, ``.H``, composition, normal solves.

An operator maps arrays whose trailing dimensions are ``ishape`` to arrays whose
trailing dimensions are ``oshape``; any leading (batch) dimensions are carried
through.  An entry of ``None`` in a shape means "any size" (a column mask fixes
the width of an image but not its height).  Operators act on NumPy arrays and on
torch tensors alike (the result is of the input's kind, on its device, and
differentiable); the constants they hold are converted on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import inner, random_complex

Shape = tuple[int | None, ...]


class LinearOperator:
    """A linear map ``A`` with its adjoint ``A^H`` and normal operator ``A^H A``.

    Subclasses implement :meth:`forward` and :meth:`adjoint` and set ``ishape`` and
    ``oshape``; :meth:`normal` defaults to the composition and is overridden where
    it simplifies; :meth:`solve_normal` returns None unless there is a closed form.
    ``A @ B`` composes operators, ``A @ x`` applies ``A`` to an array.
    """

    ishape: Shape = ()
    oshape: Shape = ()

    def forward(self, x: Any) -> Any:
        """Apply ``A``."""
        raise NotImplementedError

    def adjoint(self, y: Any) -> Any:
        """Apply ``A^H``."""
        raise NotImplementedError

    def normal(self, x: Any) -> Any:
        """Apply ``A^H A``."""
        return self.adjoint(self.forward(x))

    def solve_normal(self, b: Any, rho: Any, gram: Any = None) -> Any | None:
        """Solve ``(A^H A + rho G) x = b`` exactly, or return None (no closed form).

        Parameters
        ----------
        b : ndarray or torch.Tensor, shape ``(..., *ishape)``
            Right-hand side.
        rho : float or array of shape (...)
            Positive weight; an array holds one weight per leading index (per slice).
        gram : array, shape (H, W), optional
            Eigenvalues of ``G`` in centred k-space (``G`` diagonalised by ``fft2c``,
            e.g. ``D^H D`` of circular differences); ``G = I`` when omitted.

        Returns
        -------
        ndarray or torch.Tensor or None
            The solution, or None when this operator has no closed form (the caller
            then falls back to conjugate gradients).
        """
        return None

    @property
    def H(self) -> LinearOperator:
        """The adjoint operator."""
        return Adjoint(self)

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, LinearOperator):
            return Compose(self, other)
        return self.forward(other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ishape={self.ishape}, oshape={self.oshape})"


class Adjoint(LinearOperator):
    """``A^H`` of an operator ``A`` (its own adjoint is ``A`` again)."""

    def __init__(self, op: LinearOperator) -> None:
        self.op = op
        self.ishape, self.oshape = op.oshape, op.ishape

    def forward(self, x: Any) -> Any:
        """``A^H x``."""
        return self.op.adjoint(x)

    def adjoint(self, y: Any) -> Any:
        """``A y``."""
        return self.op.forward(y)

    @property
    def H(self) -> LinearOperator:
        """``A``."""
        return self.op


def unify_shapes(a: Shape, b: Shape, names: str) -> Shape:
    """Merge two trailing shapes whose known (non-None) sizes agree; raise ValueError otherwise.

    The shorter shape is aligned with the end of the longer one (broadcasting over
    leading dimensions, as a mask broadcasts over coils); the result has the longer length.
    """
    n = min(len(a), len(b))
    merged = []
    for p, q in zip(a[len(a) - n :], b[len(b) - n :], strict=True):
        if p is not None and q is not None and p != q:
            raise ValueError(f"cannot combine {names}: shapes {a} and {b} do not match")
        merged.append(p if p is not None else q)
    longer = a if len(a) >= len(b) else b
    return (*longer[: len(longer) - n], *merged)


class Compose(LinearOperator):
    """``A @ B``: apply ``B``, then ``A``.

    The normal operator is ``B^H (A^H A) B``, so a cheap ``A^H A`` (an idempotent
    mask, a unitary FFT) is used as such.
    """

    def __init__(self, outer: LinearOperator, inner_op: LinearOperator) -> None:
        self.outer = outer
        self.inner = inner_op
        middle = unify_shapes(outer.ishape, inner_op.oshape, f"{outer!r} @ {inner_op!r}")
        self.ishape = inner_op.ishape
        # An outer operator on fewer trailing axes broadcasts over the rest (coils).
        extra = len(middle) - len(outer.ishape)
        self.oshape = (*middle[:extra], *outer.oshape)

    def forward(self, x: Any) -> Any:
        """``A (B x)``."""
        return self.outer.forward(self.inner.forward(x))

    def adjoint(self, y: Any) -> Any:
        """``B^H (A^H y)``."""
        return self.inner.adjoint(self.outer.adjoint(y))

    def normal(self, x: Any) -> Any:
        """``B^H A^H A B x``."""
        return self.inner.adjoint(self.outer.normal(self.inner.forward(x)))


def adjointness_test(
    op: LinearOperator,
    ishape: tuple[int, ...] | None = None,
    *,
    batch: tuple[int, ...] = (),
    like: Any = None,
    seed: int = 0,
) -> float:
    """Relative gap ``|<A x, y> - <x, A^H y>| / |<A x, y>|`` on random complex arrays.

    Parameters
    ----------
    op : LinearOperator
        The operator to check.
    ishape : tuple of int, optional
        The input's trailing shape, where ``op.ishape`` leaves sizes open (None).
    batch : tuple of int
        Leading batch dimensions of the test arrays.
    like : ndarray or torch.Tensor, optional
        Kind, device and precision of the test arrays (NumPy complex128 when omitted).
    seed : int
        Seed of the random arrays.

    Returns
    -------
    float
        Near machine precision (of ``like``'s precision) for a correct adjoint.

    Raises
    ------
    ValueError
        When the input shape is not known, or ``A^H`` does not return the input's shape.
    """
    shape = (
        op.ishape if ishape is None else unify_shapes(op.ishape, tuple(ishape), "the test shape")
    )
    if any(s is None for s in shape):
        raise ValueError(f"{op!r} leaves input sizes open; pass ishape")
    x = random_complex((*batch, *shape), seed, like)
    ax = op.forward(x)
    y = random_complex(tuple(ax.shape), seed + 1, like)
    ahy = op.adjoint(y)
    if tuple(ahy.shape) != tuple(x.shape):
        raise ValueError(f"adjoint returned shape {tuple(ahy.shape)} for input {tuple(x.shape)}")
    lhs = inner(y, ax)
    rhs = inner(ahy, x)
    return float(abs(lhs - rhs) / max(abs(lhs), np.finfo(float).tiny))


class Scaled(LinearOperator):
    """``c A`` for a real constant ``c > 0`` (its normal operator is ``c^2 A^H A``).

    Parameters
    ----------
    op : LinearOperator
        The operator ``A``.
    factor : float
        The constant ``c``.
    """

    def __init__(self, op: LinearOperator, factor: float) -> None:
        self.op, self.factor = op, float(factor)
        self.ishape, self.oshape = op.ishape, op.oshape

    def forward(self, x: Any) -> Any:
        """``c A x``."""
        return self.op.forward(x) * self.factor

    def adjoint(self, y: Any) -> Any:
        """``c A^H y``."""
        return self.op.adjoint(y) * self.factor

    def normal(self, x: Any) -> Any:
        """``c^2 A^H A x``."""
        return self.op.normal(x) * (self.factor * self.factor)
