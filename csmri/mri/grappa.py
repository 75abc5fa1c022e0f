"""GRAPPA (Griswold et al. 2002): fill missing k-space from sampled neighbours, coil by coil.

Every missing sample ``k_c(p)`` is predicted as a linear combination of the *sampled*
samples of all coils in a window around ``p``.  The points used, their offsets from
``p``, form the point's *geometry*; points with the same geometry share one kernel.  A
column mask with spacing ``R`` has ``R - 1`` geometries (plus those cut by the readout
edges); a 2-D ``(ky, kz)`` mask (Poisson disc) has many, each calibrated on its own
(supported, but slower: one small least-squares problem per distinct geometry).

Sources: the sampled points of the ``kernel[0]`` readout rows around ``p`` in the
target's own column (2-D masks) and in the ``kernel[1] / 2`` nearest columns on each side
that hold samples, searched within the ACS width (for an equispaced column mask: the usual
2 + 2 source lines, a 5 x 4 kernel).  The search is clipped to the ACS, so every geometry
can be calibrated; lines farther away than half the ACS width are not used.

Calibration on the fully sampled centre (ACS, the largest centred fully sampled
rectangle): every ACS position where the geometry fits gives one row of the calibration
matrix ``A`` (the source samples of all coils) and of the targets ``B`` (all coils at
the position).  The kernel is the Tikhonov solution

``W = argmin ||A W - B||^2 + (lam * s_max)^2 ||W||^2``,  ``s_max`` the largest singular
value of ``A``,

so ``lam`` is relative and independent of the data scale.  Sampled points are kept as
measured; a missing point with no sampled neighbour in its window stays zero.
"""

from __future__ import annotations

import numpy as np

from csmri.errors import InputError, UsageError
from csmri.mri.fft import ifft2c

DEFAULT_KERNEL = (5, 4)
"""5 readout points x 4 source lines (2 on each side of a missing line)."""

DEFAULT_LAMBDA = 0.01
"""Tikhonov weight relative to the calibration matrix's largest singular value."""


def acs_region(mask: np.ndarray) -> tuple[slice, slice]:
    """The largest centred fully sampled rectangle of a 2-D mask, as row and column slices."""
    from csmri.mri.espirit import calibration_region

    h, w = mask.shape
    rows, cols = calibration_region(mask, max(h, w))
    top, left = h // 2 - rows // 2, w // 2 - cols // 2
    return slice(top, top + rows), slice(left, left + cols)


def _windows(mask: np.ndarray, half: tuple[int, int]) -> np.ndarray:
    """``(H, W, wy, wx)`` view: the sampling pattern around every point.

    Beyond the readout edges the pattern continues periodically (the data there are zero,
    as in the usual GRAPPA, so edge rows share the interior kernels); beyond the phase
    edges nothing is sampled (a kernel must not count on lines that do not exist).
    """
    padded = np.pad(mask, ((half[0], half[0]), (0, 0)), mode="wrap")
    padded = np.pad(padded, ((0, 0), (half[1], half[1])))
    return np.lib.stride_tricks.sliding_window_view(padded, (2 * half[0] + 1, 2 * half[1] + 1))


def source_patterns(
    mask: np.ndarray, points: np.ndarray, half: tuple[int, int], lines: int
) -> np.ndarray:
    """The source points of each target, ``(n, wy, wx)`` bool over its window.

    The sampled points of the target's own column and of the ``lines // 2`` nearest
    columns on each side that hold a sampled point in the window (GRAPPA's source lines).
    """
    patterns = _windows(mask, half)[points[:, 0], points[:, 1]]  # n, wy, wx (a copy)
    used = patterns.any(axis=1)
    per_side = lines // 2
    left = used[:, : half[1]][:, ::-1]
    right = used[:, half[1] + 1 :]
    keep = np.ones_like(used)
    keep[:, : half[1]] = (left & (np.cumsum(left, axis=1) <= per_side))[:, ::-1]
    keep[:, half[1] + 1 :] = right & (np.cumsum(right, axis=1) <= per_side)
    return patterns & keep[:, None, :]


def geometries(
    mask: np.ndarray, half: tuple[int, int], lines: int
) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Group the missing points by the offsets of their source points.

    Returns
    -------
    points : ndarray of int, shape (n, 2)
        The missing points (row, column).
    groups : list of (ndarray, ndarray)
        Per geometry: indices into ``points`` and the source offsets ``(n_s, 2)``.
    """
    points = np.argwhere(~mask)
    if len(points) == 0:
        return points, []
    patterns = source_patterns(mask, points, half, lines)
    flat = np.packbits(patterns.reshape(len(points), -1), axis=1)
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    members = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
    centre = np.array(half)
    return points, [
        (m, np.argwhere(patterns[f]) - centre) for m, f in zip(members, first, strict=True)
    ]


def _gather(kpad: np.ndarray, positions: np.ndarray, offsets: np.ndarray, half) -> np.ndarray:
    """Rows ``[k_c(p + o) for o, c]`` for every position ``p``: ``(n, n_offsets * C)``."""
    rows = positions[:, None, 0] + offsets[None, :, 0] + half[0]
    cols = positions[:, None, 1] + offsets[None, :, 1] + half[1]
    values = kpad[:, rows, cols]  # C, n, n_offsets
    return values.transpose(1, 2, 0).reshape(len(positions), -1)


def calibration_system(
    kspace: np.ndarray, acs: tuple[slice, slice], offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The calibration matrix ``A`` and targets ``B`` of one geometry on the ACS.

    Parameters
    ----------
    kspace : ndarray, shape (C, H, W)
        One slice of centred k-space.
    acs : tuple of slice
        The fully sampled centre.
    offsets : ndarray of int, shape (n_s, 2)
        Source offsets (row, column) from the target.

    Returns
    -------
    A : ndarray, shape (n_positions, n_s * C)
        Source samples; columns ordered offset-major, coil-minor.
    B : ndarray, shape (n_positions, C)
        Target samples of every coil.
    """
    lo = np.minimum(offsets.min(axis=0), 0)
    hi = np.maximum(offsets.max(axis=0), 0)
    rows = np.arange(acs[0].start - lo[0], acs[0].stop - hi[0])
    cols = np.arange(acs[1].start - lo[1], acs[1].stop - hi[1])
    positions = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1).reshape(-1, 2)
    a = _gather(kspace, positions, offsets, (0, 0))
    b = kspace[:, positions[:, 0], positions[:, 1]].T
    return a, b


def solve_kernel(a: np.ndarray, b: np.ndarray, lam: float = DEFAULT_LAMBDA) -> np.ndarray:
    """``argmin ||A W - B||^2 + (lam s_max)^2 ||W||^2`` (normal equations, double precision)."""
    import scipy.linalg

    a = a.astype(np.complex128)
    gram = a.conj().T @ a
    n = gram.shape[0]
    s_max_sq = float(scipy.linalg.eigvalsh(gram, subset_by_index=[n - 1, n - 1])[0])
    gram[np.diag_indices(n)] += (lam * lam) * s_max_sq
    return scipy.linalg.solve(gram, a.conj().T @ b.astype(np.complex128), assume_a="pos")


def grappa_slice(
    kspace: np.ndarray, mask: np.ndarray, kernel: tuple[int, int], lam: float
) -> np.ndarray:
    """GRAPPA on one slice ``(C, H, W)`` with a 2-D mask; the filled k-space (complex64)."""
    acs = acs_region(mask)
    sizes = (acs[0].stop - acs[0].start, acs[1].stop - acs[1].start)
    if min(sizes) < 2:
        raise InputError(f"GRAPPA needs a fully sampled centre (ACS); found {sizes[0]}x{sizes[1]}")
    # Readout: kernel[0] points; phase: search the ACS width for the nearest source lines.
    # Both clipped to the ACS so that every geometry fits in it.
    half = (min(kernel[0] // 2, (sizes[0] - 1) // 2), (sizes[1] - 1) // 2)
    kspace = np.asarray(kspace) * mask
    kpad = np.pad(kspace, ((0, 0), (half[0], half[0]), (half[1], half[1])))
    out = kspace.astype(np.complex64)
    points, groups = geometries(mask, half, kernel[1])
    for group, offsets in groups:
        if len(offsets) == 0:
            continue  # nothing sampled nearby: left zero
        targets = points[group]
        weights = solve_kernel(*calibration_system(kspace, acs, offsets), lam)
        filled = _gather(kpad, targets, offsets, half) @ weights  # n, C
        out[:, targets[:, 0], targets[:, 1]] = filled.T
    return out


def grappa(
    kspace: np.ndarray,
    mask: np.ndarray,
    kernel: tuple[int, int] = DEFAULT_KERNEL,
    lam: float = DEFAULT_LAMBDA,
) -> tuple[np.ndarray, np.ndarray]:
    """GRAPPA reconstruction of a multi-coil stack.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W) or (C, H, W)
        Centred k-space (zero or anything where unsampled: the mask decides).
    mask : ndarray, shape (W,) or (H, W)
        Sampling mask with a fully sampled centre.
    kernel : tuple of int
        ``(readout points, source lines)``: the rows of the window (odd) and the sampled
        columns used, half on each side of the target (the nearest ones within the ACS
        width), plus the target's own column where it holds samples (2-D masks).
    lam : float
        Tikhonov weight relative to the largest singular value (>= 0).

    Returns
    -------
    kspace : ndarray of complex64, same shape as the input
        Per-coil k-space with the missing samples filled.
    rss : ndarray of float32, shape (S, H, W) or (H, W)
        Root-sum-of-squares image.
    """
    kspace = np.asarray(kspace)
    single = kspace.ndim == 3
    stack = kspace[None] if single else kspace
    if stack.ndim != 4:
        raise InputError(f"GRAPPA needs multi-coil k-space (S, C, H, W), got {kspace.shape}")
    if not np.isfinite(lam) or lam < 0:
        raise UsageError(f"GRAPPA lambda must be a finite number >= 0, got {lam!r}")
    h, w = stack.shape[-2:]
    mask = np.asarray(mask) != 0
    mask = np.broadcast_to(mask if mask.ndim == 2 else mask[None, :], (h, w))
    filled = np.stack([grappa_slice(s, mask, kernel, lam) for s in stack])
    rss = np.sqrt(np.sum(np.abs(ifft2c(filled)) ** 2, axis=1)).astype(np.float32)
    return (filled[0], rss[0]) if single else (filled, rss)
