"""Radial and spiral k-space trajectories in BART's convention.

Every function returns an array ``(3, readout, spokes)`` (or ``(3, readout,
interleaves)``) of ``(kx, ky, kz = 0)`` in pixels, ``|k| <= N/2``, ready for
:class:`csmri.linop.nufft.NUFFT` and for ``bart nufft`` (``bart traj`` output).

Radial spokes follow ``bart traj -r``: readout sample ``i`` of ``R`` sits at radius
``(i - R/2 + 1/2) N / R`` (symmetric about the centre, DC not sampled for even
``R``) along ``(sin phi, cos phi)``.  The default readout ``R = 2 N`` oversamples
twice along the spoke, as ``bart traj -r -x 2N`` followed by ``bart scale 0.5``.
Angles are uniform in ``[0, pi)``, or advance by the golden angle ``pi / phi`` or a
tiny golden angle ``pi / (phi + n - 1)`` (Wundrak et al., MRM 2016), ``phi`` the
golden ratio.  A radial trajectory needs about ``pi/2 N`` spokes for Nyquist.
"""

from __future__ import annotations

import math

import numpy as np

GOLDEN_RATIO = (1 + math.sqrt(5)) / 2
ORDERINGS = ("uniform", "golden", "tiny-golden")


def golden_increment(tiny: int = 1) -> float:
    """The tiny golden angle ``pi / (phi + tiny - 1)`` in radians (``tiny = 1``: ~111.25 deg)."""
    if tiny < 1:
        raise ValueError(f"tiny golden angle index must be >= 1, got {tiny}")
    return math.pi / (GOLDEN_RATIO + tiny - 1)


def nyquist_spokes(n: int) -> int:
    """Spokes of a radial trajectory sampled at Nyquist on an ``n``-pixel grid: ``ceil(pi/2 n)``."""
    return math.ceil(math.pi / 2 * n)


def _size(n: int | tuple[int, ...]) -> int:
    if isinstance(n, tuple):
        if len(set(n)) != 1:
            raise ValueError(f"radial and spiral trajectories need a square grid, got {n}")
        n = n[0]
    if n < 2:
        raise ValueError(f"grid size must be at least 2, got {n}")
    return int(n)


def _stack(kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
    return np.stack([kx, ky, np.zeros_like(kx)]).astype(np.float64)


def radial(
    n: int | tuple[int, ...],
    spokes: int,
    *,
    readout: int | None = None,
    ordering: str = "uniform",
    tiny: int = 1,
    rotation: float = 0.0,
) -> np.ndarray:
    """A 2-D radial trajectory.

    Parameters
    ----------
    n : int or tuple of int
        Grid size ``N`` (or a square ``(N, N)``).
    spokes : int
        Number of spokes.
    readout : int, optional
        Samples per spoke (``2 N`` when omitted).
    ordering : {"uniform", "golden", "tiny-golden"}
        Angles ``pi s / spokes``, or increments of the golden angle, or of the tiny
        golden angle of index ``tiny``.
    tiny : int
        Tiny golden angle index for ``ordering="tiny-golden"`` (7 gives ~23.6 deg).
    rotation : float
        Angle of the first spoke, in radians.

    Returns
    -------
    ndarray of float64, shape (3, readout, spokes)
        BART-convention coordinates in pixels.
    """
    n = _size(n)
    readout = 2 * n if readout is None else int(readout)
    if spokes < 1 or readout < 2:
        raise ValueError(f"need spokes >= 1 and readout >= 2, got {spokes} and {readout}")
    if ordering == "uniform":
        step = math.pi / spokes
    elif ordering == "golden":
        step = golden_increment(1)
    elif ordering == "tiny-golden":
        step = golden_increment(tiny)
    else:
        raise ValueError(f"unknown ordering {ordering!r}; choose one of {', '.join(ORDERINGS)}")
    angles = rotation + step * np.arange(spokes)
    radius = (np.arange(readout) - readout / 2 + 0.5) * (n / readout)
    return _stack(radius[:, None] * np.sin(angles), radius[:, None] * np.cos(angles))


def spiral(
    n: int | tuple[int, ...],
    interleaves: int,
    *,
    readout: int | None = None,
    turns: float | None = None,
    alpha: float = 1.0,
    seed: int | None = None,
) -> np.ndarray:
    """A variable-density (``alpha > 1``) or Archimedean (``alpha = 1``) spiral.

    Interleaf ``l`` is ``k(t) = N/2 t^alpha exp(i (2 pi turns t + theta_l))``,
    ``t`` in ``[0, 1]``, with ``theta_l = 2 pi l / interleaves`` (plus one random global
    rotation when ``seed`` is given).

    Parameters
    ----------
    n : int or tuple of int
        Grid size ``N``.
    interleaves : int
        Number of interleaved arms.
    readout : int, optional
        Samples per interleaf; when omitted ``max(2 N, ceil(pi N turns))``, which spaces
        the outermost samples of an arm (uniform in ``t``) at most one pixel apart.
    turns : float, optional
        Turns per interleaf; the Archimedean Nyquist value ``N / (2 interleaves)`` when
        omitted (adjacent arms one pixel apart at the edge).
    alpha : float
        Density exponent: 1 uniform, larger samples the centre more densely.
    seed : int, optional
        Seed of a random rotation of the whole trajectory; none when omitted.

    Returns
    -------
    ndarray of float64, shape (3, readout, interleaves)
        BART-convention coordinates in pixels.
    """
    n = _size(n)
    if interleaves < 1 or alpha <= 0:
        raise ValueError(f"need interleaves >= 1 and alpha > 0, got {interleaves} and {alpha}")
    turns = n / (2 * interleaves) if turns is None else float(turns)
    readout = max(2 * n, math.ceil(math.pi * n * turns)) if readout is None else int(readout)
    t = np.linspace(0.0, 1.0, readout)
    offset = 0.0 if seed is None else float(np.random.default_rng(seed).uniform(0, 2 * np.pi))
    theta = offset + 2 * np.pi * np.arange(interleaves) / interleaves
    radius = (n / 2) * t**alpha
    phase = 2 * np.pi * turns * t[:, None] + theta[None, :]
    return _stack(radius[:, None] * np.cos(phase), radius[:, None] * np.sin(phase))


def matrix_size(traj: np.ndarray) -> tuple[int, int]:
    """The square image matrix a trajectory implies: ``2 max(|kx|, |ky|)`` rounded up to even.

    Raises
    ------
    ValueError
        When the trajectory has no extent (all samples at ``k = 0``) or is not finite.
    """
    values = np.asarray(traj)
    values = values.real if np.iscomplexobj(values) else values
    extent = 2 * float(np.abs(values[:2]).max(initial=0.0))
    if not np.isfinite(extent) or extent <= 0:
        raise ValueError("the trajectory has no finite extent: give the matrix size")
    size = math.ceil(extent - 1e-6)
    size += size % 2
    return size, size


def sample_count(traj: np.ndarray) -> int:
    """Number of k-space samples of a ``(d, *samples)`` trajectory."""
    return math.prod(np.shape(traj)[1:])
