"""Scanner raw data as read: one result type for the ISMRMRD and Siemens twix readers.

Both readers reduce a file to :class:`ReadoutLine` records (one readout of all
coils, with where it goes in k-space and what it is for) and :func:`assemble`
places them, so the two formats share one set of rules:

- Imaging lines fill ``kspace``; repeated lines (averages) are averaged.
- Calibration lines (ISMRMRD ``ACQ_IS_PARALLEL_CALIBRATION``, Siemens
  ``PATREFSCAN``) fill ``calibration`` only; lines that are both (ISMRMRD
  ``..._AND_IMAGING``, Siemens ``PATREFANDIMASCAN``) fill both.  ``calibration``
  is the bounding block of the calibration lines along the phase-encoding
  axes, readout whole; ``calibration_region`` says where it sits.
- A readout's ``center`` sample goes to row ``H // 2`` (an asymmetric echo is
  zero-filled before it); the mask records exactly the samples measured.
- The header's encoded matrix is used where the data fit it; where they do not,
  the data decide (the matrix grows to hold them; the header's recon matrix is
  then dropped, ``recon_matrix`` None) and one warning says so.
- A slab larger than :data:`csmri.io.checks.MAX_KSPACE_ELEMENTS` is refused
  before any array is allocated.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from csmri.errors import DataWarning, InputError
from csmri.io.checks import MAX_KSPACE_ELEMENTS


@dataclass
class ReadoutLine:
    """One readout of all coils and where it belongs.

    Attributes
    ----------
    data : ndarray, shape (C, n)
        Samples of each coil.
    center : int
        Index in ``data`` of the k-space centre (``n // 2`` for a symmetric echo).
    row, partition, slice : int
        Phase-encoding index (0-based, in the encoded matrix), partition (3-D; 0 for
        2-D) and slice.
    imaging, calibration : bool
        Whether the line belongs to the image, to the calibration (ACS) data, or both.
    """

    data: np.ndarray
    center: int
    row: int
    partition: int = 0
    slice: int = 0
    imaging: bool = True
    calibration: bool = False


@dataclass
class RawScan:
    """Cartesian raw data with its calibration lines, noise scan and header facts.

    Attributes
    ----------
    kspace : ndarray of complex64
        Imaging k-space: 2-D ``(S, C, H, W)`` (slices, coils, readout, phase
        encoding, the fastMRI layout); 3-D ``(C, H, W, D)`` (``D``: partitions).
    mask : ndarray of bool
        Samples measured: 2-D ``(S, H, W)``, 3-D ``(H, W, D)`` (no coil axis).
    calibration : ndarray of complex64 or None
        The calibration block: 2-D ``(S, C, H, w)``, 3-D ``(C, H, w, d)``.
    calibration_region : tuple of (int, int), or None
        ``(start, stop)`` of the block along ``W`` (and ``D`` for 3-D).
    noise : ndarray of complex64, shape (C, N), or None
        Noise samples (for :mod:`csmri.mri.prewhiten`).
    encoded_matrix : tuple of int
        ``(H, W, D)`` of ``kspace`` (the data's, after any correction of the header).
    recon_matrix : tuple of int or None
        The header's reconstructed matrix ``(x, y, z)``; None when the header has
        none or its encoded matrix proved wrong.
    partial_fourier : tuple of float
        Fraction of k-space sampled along readout, phase and partition (1: full;
        e.g. 0.625 for 5/8 partial Fourier).
    acceleration : float
        Imaging lines' undersampling rate (calibration-only lines excluded):
        phase-encoding positions in the sampled extent per imaging line, the extent
        ``last - first + median gap`` per axis, so every R-th line gives exactly R.
    fov_mm : tuple of float or None
        The header's encoded field of view ``(x, y, z)`` in mm.
    is_3d : bool
        3-D encoding (partitions), in the 3-D layout above.
    header : dict
        Other facts: ``format``, dwell times (``dwell_us``, ``noise_dwell_us``),
        ``relative_receiver_noise_bandwidth``, the header's own matrices and
        acceleration, readout oversampling.
    source : str
        The file read.
    """

    kspace: np.ndarray
    mask: np.ndarray
    calibration: np.ndarray | None
    calibration_region: tuple[tuple[int, int], ...] | None
    noise: np.ndarray | None
    encoded_matrix: tuple[int, int, int]
    recon_matrix: tuple[int, int, int] | None
    partial_fourier: tuple[float, float, float]
    acceleration: float
    fov_mm: tuple[float, float, float] | None
    is_3d: bool
    header: dict = field(default_factory=dict)
    source: str = ""


def sampled_fraction(indices: np.ndarray, centre: int, tolerance: int = 1) -> float:
    """Fraction of a symmetric k-space extent that sampled indices cover (partial Fourier).

    With the centre at ``centre``, the sampled extent ``[lo, hi]`` reaches
    ``pre = centre - lo`` below and ``post = hi - centre + 1`` above; a partial
    Fourier acquisition leaves one side short, and the fraction is
    ``(hi - lo + 1) / (2 max(pre, post))``.  Sides that differ by at most
    ``tolerance`` indices (an undersampling gap, an even/odd matrix) count as full.

    Parameters
    ----------
    indices : ndarray of int
        Sampled positions along the axis.
    centre : int
        Index of the k-space centre.
    tolerance : int
        Largest side difference still counted as symmetric (the undersampling rate).

    Returns
    -------
    float
        In ``(0, 1]``.
    """
    indices = np.asarray(indices)
    if indices.size == 0:
        return 1.0
    lo, hi = int(indices.min()), int(indices.max())
    pre, post = centre - lo, hi - centre + 1
    if abs(pre - post) <= tolerance or max(pre, post) <= 0:
        return 1.0
    return min(1.0, (hi - lo + 1) / (2 * max(pre, post)))


def place_lines(steps: list[int], centre: int, size: int, name: str, source: object) -> list[int]:
    """Encoding steps -> matrix indices, the header's centre step at index ``size // 2``.

    Where that does not fit the matrix, or the centre is not after the first sampled
    step (a placeholder such as Pulseq's 0), the steps themselves are
    the indices: with a warning when they fit, else :func:`assemble` warns as it
    grows the matrix.
    """
    if not steps:
        return []
    placed = [k - centre + size // 2 for k in steps]
    lo, hi = min(steps), max(steps)
    # the k-space centre is always sampled, with lines before it (partial Fourier > 1/2;
    # the measured side may end at the centre line of an even-sized axis): a centre on
    # the first sampled line is a placeholder (Pulseq writes 0)
    inside = lo < centre <= hi or lo == hi
    if inside and min(placed) >= 0 and max(placed) < size:
        return placed
    if hi < size:  # the steps fit: say so here (else assemble warns as the matrix grows)
        warnings.warn(
            f"{source}: header {name} centre {centre} does not fit the sampled lines "
            f"{lo}..{hi} of the {size}-line matrix; the data decide (lines placed by their "
            "encoding step)",
            category=DataWarning, stacklevel=3,
        )
    return list(steps)


def _span(indices: np.ndarray) -> int:
    """Extent of sampled indices, the last one counting for its gap (``n R`` for every R-th)."""
    step = int(np.median(np.diff(indices))) if indices.size > 1 else 1
    return int(indices[-1] - indices[0]) + step


def _fit_readout(lines: list[ReadoutLine], height: int) -> int:
    """The header's readout size if every echo fits it, else the size the echoes need."""
    need_low = max(line.center for line in lines)
    need_high = max(line.data.shape[1] - line.center for line in lines)
    if need_low <= height // 2 and need_high <= height - height // 2:
        return height
    return 2 * max(need_low, need_high)


def _fit_axis(values: set[int], size: int, name: str, source: object) -> int:
    if min(values) < 0:
        raise InputError(f"negative {name} index {min(values)} in the data", source)
    return max(size, max(values) + 1)


def _check_slab(shape: tuple[int, ...], source: object, what: str) -> None:
    count = math.prod(shape)
    if count > MAX_KSPACE_ELEMENTS:
        raise InputError(
            f"{what} of shape {shape} ({count:.3g} samples) exceeds the limit of "
            f"{MAX_KSPACE_ELEMENTS:.3g} samples; refused before allocating",
            source,
        )


def assemble(
    lines: list[ReadoutLine],
    matrix: tuple[int, int, int],
    is_3d: bool,
    source: object,
    **facts,
) -> RawScan:
    """Place readout lines into k-space, mask and calibration block (the rules above).

    Parameters
    ----------
    lines : list of ReadoutLine
        Imaging and calibration lines (noise excluded).
    matrix : tuple of int
        The header's encoded ``(H, W, D)``.
    is_3d : bool
        Whether partitions are a third k-space axis.
    source : object
        File named in messages.
    **facts
        ``noise``, ``recon_matrix``, ``fov_mm`` and ``header`` for :class:`RawScan`.

    Returns
    -------
    RawScan
    """
    imaging = [line for line in lines if line.imaging]
    if not imaging:
        raise InputError("no imaging lines (only noise or calibration data)", source)
    coils = {line.data.shape[0] for line in imaging}
    if len(coils) != 1:
        raise InputError(f"coil counts differ between imaging lines: {sorted(coils)}", source)
    c = coils.pop()
    calib = [line for line in lines if line.calibration]
    other = {line.data.shape[0] for line in calib} - {c}
    if other:
        raise InputError(
            f"calibration lines have {sorted(other)} coils but imaging lines {c}", source
        )
    h = _fit_readout(lines, int(matrix[0]))
    w = _fit_axis({line.row for line in lines}, int(matrix[1]), "phase-encoding", source)
    d = _fit_axis({line.partition for line in lines}, int(matrix[2]) if is_3d else 1,
                  "partition", source)
    recon = facts.get("recon_matrix")
    if recon is not None:  # a header that contradicts itself is refused, not trusted
        from csmri.io.validate import check_header_matrices

        check_header_matrices(tuple(matrix[:2]), tuple(recon[:2]), source)
    claimed = (int(matrix[0]), int(matrix[1]), int(matrix[2]) if is_3d else 1)
    if (h, w, d) != claimed:
        warnings.warn(
            f"{source}: header encoded matrix {'x'.join(map(str, claimed))} does not hold the "
            f"data ({h}x{w}x{d}); the data decide (header recon matrix ignored)",
            category=DataWarning, stacklevel=3,
        )
        recon = None  # a header wrong about the encoding is no guide to the crop either
    s = max(line.slice for line in lines) + 1
    if is_3d and s > 1:
        raise InputError(f"3-D data with {s} slabs: only one slab is supported", source)
    _check_slab((s, c, h, w, d), source, "3-D slab" if is_3d else "k-space")
    kspace = np.zeros((s, c, h, w, d), dtype=np.complex64)
    counts = np.zeros((s, h, w, d), dtype=np.int32)
    for line in imaging:
        start = h // 2 - line.center
        stop = start + line.data.shape[1]
        kspace[line.slice, :, start:stop, line.row, line.partition] += line.data
        counts[line.slice, start:stop, line.row, line.partition] += 1
    kspace /= np.maximum(counts, 1)[:, None]
    mask = counts > 0
    calibration, region = None, None
    if calib:
        rows = [line.row for line in calib]
        parts = [line.partition for line in calib]
        r0, r1, p0, p1 = min(rows), max(rows) + 1, min(parts), max(parts) + 1
        block = np.zeros((s, c, h, r1 - r0, p1 - p0), dtype=np.complex64)
        hits = np.zeros((s, h, r1 - r0, p1 - p0), dtype=np.int32)
        for line in calib:
            start = h // 2 - line.center
            stop = start + line.data.shape[1]
            block[line.slice, :, start:stop, line.row - r0, line.partition - p0] += line.data
            hits[line.slice, start:stop, line.row - r0, line.partition - p0] += 1
        calibration = (block / np.maximum(hits, 1)[:, None]).astype(np.complex64)
        region = ((r0, r1), (p0, p1)) if is_3d else ((r0, r1),)
    positions = {(line.row, line.partition) for line in imaging}
    rows = np.array(sorted({p[0] for p in positions}))
    parts = np.array(sorted({p[1] for p in positions}))
    acceleration = float(_span(rows) * _span(parts) / len(positions))
    tolerance = max(1, math.ceil(acceleration))
    readout = np.flatnonzero(mask.any(axis=(0, 2, 3)))
    fractions = (
        sampled_fraction(readout, h // 2),
        sampled_fraction(rows, w // 2, tolerance),
        sampled_fraction(parts, d // 2, tolerance) if is_3d else 1.0,
    )
    if is_3d:
        kspace, mask = kspace[0], mask[0]
        calibration = None if calibration is None else calibration[0]
    else:
        kspace, mask = kspace[..., 0], mask[..., 0]
        calibration = None if calibration is None else calibration[..., 0]
    return RawScan(
        kspace=kspace,
        mask=mask,
        calibration=calibration,
        calibration_region=region,
        noise=facts.get("noise"),
        encoded_matrix=(h, w, d),
        recon_matrix=recon,
        partial_fourier=fractions,
        acceleration=acceleration,
        fov_mm=facts.get("fov_mm"),
        is_3d=is_3d,
        header=dict(facts.get("header", {})),
        source=str(source),
    )


def stack_noise(blocks: list[np.ndarray], coils: int | None, source: object) -> np.ndarray | None:
    """Concatenate noise readouts ``(C, n)`` into ``(C, N)``; None when there are none."""
    if not blocks:
        return None
    counts = {b.shape[0] for b in blocks}
    if len(counts) != 1 or (coils is not None and counts != {coils}):
        raise InputError(
            f"noise scan has {sorted(counts)} coils but the imaging lines {coils}", source
        )
    return np.concatenate(blocks, axis=1).astype(np.complex64)

