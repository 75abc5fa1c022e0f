"""Cartesian column masks with the fastMRI ``MaskFunc`` semantics, bit for bit.

For a k-space of ``N`` columns, a centre fraction ``c`` and an acceleration ``R``:

* ``num_low = round(N * c)`` fully sampled centre columns, starting at
  ``(N - num_low + 1) // 2``;
* random masks add each other column with probability
  ``(N / R - num_low) / (N - num_low)`` (``rng.uniform(size=N) < p`` over all
  ``N`` columns, as fastMRI draws them);
* equispaced masks add every ``R``-th column from an offset drawn in ``[0, R)``.

The random stream is NumPy's legacy ``RandomState`` seeded like fastMRI's, so the
same seed gives the same mask as ``fastmri.data.subsample`` on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

MaskType = Literal["random", "equispaced"]
MASK_TYPES: tuple[str, ...] = ("random", "equispaced")


@dataclass(frozen=True)
class ColumnMask:
    """A sampled column pattern and how it was made.

    Attributes
    ----------
    mask : ndarray of bool, shape (W,)
        True where a column is sampled.
    num_low_frequencies : int
        Width of the fully sampled centre block.
    center_fraction, acceleration : float
        The nominal parameters the mask was drawn with.
    """

    mask: np.ndarray
    num_low_frequencies: int
    center_fraction: float
    acceleration: float

    @property
    def sampled_fraction(self) -> float:
        """Fraction of columns sampled."""
        return float(self.mask.mean())

    @property
    def realised_acceleration(self) -> float:
        """Columns in total divided by columns sampled."""
        return float(self.mask.size / max(int(self.mask.sum()), 1))


def _center_columns(num_cols: int, num_low: int) -> np.ndarray:
    mask = np.zeros(num_cols, dtype=bool)
    start = (num_cols - num_low + 1) // 2
    mask[start : start + num_low] = True
    return mask


def _validate(num_cols: int, center_fraction: float, acceleration: float) -> int:
    if num_cols < 2:
        raise ValueError(f"a mask needs at least 2 columns, got {num_cols}")
    if not 0 < center_fraction < 1:
        raise ValueError(f"center fraction must lie in (0, 1), got {center_fraction}")
    if not acceleration >= 1:
        raise ValueError(f"acceleration must be >= 1, got {acceleration}")
    num_low = round(num_cols * center_fraction)
    if num_low >= num_cols:
        raise ValueError(f"center fraction {center_fraction} leaves no column to undersample")
    return num_low


def random_mask(
    num_cols: int,
    center_fraction: float,
    acceleration: float,
    seed: int | tuple[int, ...] | None,
) -> ColumnMask:
    """Random column mask (fastMRI ``RandomMaskFunc``).

    Parameters
    ----------
    num_cols : int
        Number of k-space columns ``W``.
    center_fraction : float
        Fraction of columns in the fully sampled centre.
    acceleration : float
        Nominal acceleration ``R``.
    seed : int or tuple of int or None
        Seed of ``numpy.random.RandomState`` (fastMRI seeds with ``tuple(map(ord, fname))``).

    Returns
    -------
    ColumnMask
        The mask and its realised sampling.
    """
    num_low = _validate(num_cols, center_fraction, acceleration)
    rng = np.random.RandomState(seed)
    prob = (num_cols / acceleration - num_low) / (num_cols - num_low)
    outer = rng.uniform(size=num_cols) < prob
    return ColumnMask(
        _center_columns(num_cols, num_low) | outer, num_low, center_fraction, acceleration
    )


def equispaced_mask(
    num_cols: int,
    center_fraction: float,
    acceleration: int,
    seed: int | tuple[int, ...] | None,
    offset: int | None = None,
) -> ColumnMask:
    """Equispaced column mask (fastMRI ``EquiSpacedMaskFunc``).

    Parameters
    ----------
    num_cols : int
        Number of k-space columns ``W``.
    center_fraction : float
        Fraction of columns in the fully sampled centre.
    acceleration : int
        Spacing ``R`` of the outer columns.
    seed : int or tuple of int or None
        Seed for the offset when ``offset`` is not given.
    offset : int, optional
        First sampled outer column; drawn uniformly from ``[0, R)`` when omitted.

    Returns
    -------
    ColumnMask
        The mask and its realised sampling.
    """
    if int(acceleration) != acceleration:
        raise ValueError(f"equispaced masks need an integer acceleration, got {acceleration}")
    acceleration = int(acceleration)
    num_low = _validate(num_cols, center_fraction, acceleration)
    rng = np.random.RandomState(seed)
    if offset is None:
        offset = int(rng.randint(0, high=acceleration))
    outer = np.zeros(num_cols, dtype=bool)
    outer[offset::acceleration] = True
    return ColumnMask(
        _center_columns(num_cols, num_low) | outer, num_low, center_fraction, acceleration
    )


def make_mask(
    kind: str,
    num_cols: int,
    center_fraction: float,
    acceleration: float,
    seed: int | tuple[int, ...] | None,
) -> ColumnMask:
    """Dispatch to :func:`random_mask` or :func:`equispaced_mask` by name.

    Parameters
    ----------
    kind : {"random", "equispaced"}
        Mask family.
    num_cols, center_fraction, acceleration, seed
        As for the mask functions.

    Returns
    -------
    ColumnMask
        The mask and its realised sampling.
    """
    if kind == "random":
        return random_mask(num_cols, center_fraction, acceleration, seed)
    if kind == "equispaced":
        return equispaced_mask(num_cols, center_fraction, int(acceleration), seed)
    raise ValueError(f"unknown mask type {kind!r}; choose one of {', '.join(MASK_TYPES)}")
