"""Splits of one slice's measured k-space units: centre, hold-out and SSDU sets.

A *unit* is a column for a column mask ``(W,)`` and a k-space location for a 2-D mask
``(H, W)``.  SSDU (Yaman et al., 2020) splits the measured units ``M`` of a slice into a
data-consistency set ``Theta`` (the network's input; it always holds the fully sampled
centre ``C``) and a disjoint loss set ``Lambda`` with ``Theta | Lambda == M``.  Test-time
adaptation (:mod:`learned.adapt`) and self-supervised training both use
:func:`ssdu_split`; multi-mask SSDU draws several independent splits of one slice
(:func:`ssdu_splits`).  Every draw takes its randomness from a seeded generator.
"""

from __future__ import annotations

import numpy as np

from csmri.errors import InputError, UsageError


def centre_units(mask: np.ndarray) -> np.ndarray:
    """The fully sampled centre of a column mask ``(W,)`` or a 2-D mask ``(H, W)``.

    Parameters
    ----------
    mask : ndarray of bool, shape (W,) or (H, W)
        Sampled units.

    Returns
    -------
    ndarray of bool, same shape
        Columns: the contiguous sampled run through column ``W // 2``.  2-D: the largest
        fully sampled square centred on ``(H // 2, W // 2)``.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim == 1:  # as learned.models.consistency.centre_block, in NumPy
        c = mask.size // 2
        right = np.cumprod(mask[c:], dtype=np.int32)
        left = np.cumprod(mask[: c + 1][::-1], dtype=np.int32)[::-1]
        return np.concatenate([left[:-1], right]).astype(bool)
    h, w = mask.shape
    cy, cx = h // 2, w // 2
    half = 0
    while (
        half < min(cy, cx, h - cy - 1, w - cx - 1) + 1
        and mask[cy - half : cy + half + 1, cx - half : cx + half + 1].all()
    ):
        half += 1
    centre = np.zeros_like(mask)
    if half:
        centre[cy - half + 1 : cy + half, cx - half + 1 : cx + half] = True
    return centre


def draw_subset(candidates: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A seeded random subset of ``round(fraction * n)`` (at least 1) of the True units.

    Parameters
    ----------
    candidates : ndarray of bool
        Units to draw from (at least 2 True).
    fraction : float
        Share to draw, in (0, 1).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of bool, same shape
        The subset (never all of ``candidates``).
    """
    index = np.flatnonzero(candidates)
    count = min(max(round(fraction * index.size), 1), index.size - 1)
    subset = np.zeros(candidates.size, dtype=bool)
    subset[rng.choice(index, size=count, replace=False)] = True
    return subset.reshape(candidates.shape)


def holdout_set(
    mask: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The fully sampled centre and the early-stopping set: the first draw from ``rng``.

    Parameters
    ----------
    mask : ndarray of bool, shape (W,) or (H, W)
        Sampled units.
    fraction : float
        Share of the measured non-centre units held out.
    rng : numpy.random.Generator
        Seeded generator (``default_rng(config.seed)``, before any step's split).

    Returns
    -------
    centre, holdout : ndarray of bool, shape of ``mask``
        Disjoint unit sets.

    Raises
    ------
    InputError
        Fewer than 3 measured units outside the centre (nothing to hold out and fit).
    """
    centre = centre_units(mask)
    outer = mask & ~centre
    if outer.sum() < 3:
        raise InputError(
            f"adaptation needs at least 3 measured {_unit_name(mask)} outside the fully "
            f"sampled centre, got {int(outer.sum())}"
        )
    return centre, draw_subset(outer, fraction, rng)


def ssdu_split(
    mask: np.ndarray,
    loss_fraction: float,
    rng: np.random.Generator,
    centre: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """SSDU split of the measured units into a data-consistency set and a loss set.

    ``Lambda`` is a seeded draw of ``round(loss_fraction * n)`` (at least 1, at most
    ``n - 1``) of the ``n`` measured units outside the centre; ``Theta`` is the rest of
    ``mask``, so it always holds the centre, the sets are disjoint and
    ``Theta | Lambda == mask``.  One call draws once from ``rng``.

    Parameters
    ----------
    mask : ndarray of bool, shape (W,) or (H, W)
        Measured units (columns, or k-space locations).
    loss_fraction : float
        Share of the measured non-centre units put in the loss set, in (0, 1).
    rng : numpy.random.Generator
        Seeded source of randomness.
    centre : ndarray of bool, shape of ``mask``, optional
        Units that always stay in ``Theta``; default :func:`centre_units` of ``mask``.

    Returns
    -------
    theta, loss : ndarray of bool, shape of ``mask``
        The data-consistency set and the loss set.

    Raises
    ------
    InputError
        Fewer than 2 measured units outside the centre (no split leaves both sets
        non-empty).
    UsageError
        ``loss_fraction`` not strictly between 0 and 1, or a ``centre`` of another shape.
    """
    mask = np.asarray(mask, dtype=bool)
    if not 0 < loss_fraction < 1:
        raise UsageError(f"SSDU loss fraction must lie strictly between 0 and 1, got "
                         f"{loss_fraction}")
    if centre is None:
        centre = centre_units(mask)
    elif np.shape(centre) != mask.shape:
        raise UsageError(f"centre of shape {np.shape(centre)} does not fit mask {mask.shape}")
    outer = mask & ~np.asarray(centre, dtype=bool)
    if outer.sum() < 2:
        raise InputError(
            f"SSDU needs at least 2 measured {_unit_name(mask)} outside the fully sampled "
            f"centre, got {int(outer.sum())}"
        )
    loss = draw_subset(outer, loss_fraction, rng)
    return mask & ~loss, loss


def ssdu_splits(
    mask: np.ndarray,
    count: int,
    loss_fraction: float,
    rng: np.random.Generator,
    centre: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Multi-mask SSDU: ``count`` independent :func:`ssdu_split` draws of one slice.

    Parameters
    ----------
    mask : ndarray of bool, shape (W,) or (H, W)
        Measured units.
    count : int
        Number of splits (at least 1).
    loss_fraction : float
        Share of the measured non-centre units in each loss set, in (0, 1).
    rng : numpy.random.Generator
        Seeded source of randomness (drawn from ``count`` times, in order).
    centre : ndarray of bool, optional
        Units that always stay in ``Theta`` (default: :func:`centre_units` of ``mask``).

    Returns
    -------
    list of tuple (theta, loss)
        The splits, in draw order.

    Raises
    ------
    UsageError
        ``count`` below 1 (and as :func:`ssdu_split`).
    """
    if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 1:
        raise UsageError(f"SSDU needs at least one split, got {count!r}")
    mask = np.asarray(mask, dtype=bool)
    if centre is None:
        centre = centre_units(mask)
    return [ssdu_split(mask, loss_fraction, rng, centre) for _ in range(int(count))]


def _unit_name(mask: np.ndarray) -> str:
    return "columns" if mask.ndim == 1 else "k-space locations"
