"""Partial Fourier reconstruction: homodyne and POCS along one asymmetric k-space axis.

A partial Fourier scan measures a fraction ``f`` (> 1/2) of one axis: the centre
and one side.  For a real image ``k(-q) = conj(k(q))`` fills the other side; an
MR image is real only up to a slowly varying phase ``phi``, which the
symmetrically sampled centre (``|q| < (f - 1/2) N``) estimates at low resolution.

- Homodyne (Noll, Nishimura & Macovski 1991): weight k-space by ``H(q)`` with
  ``H(q) + H(-q) = 2`` (2 on the one-sided part, 0 where nothing was measured;
  a linear ramp, or a step of 1, across the symmetric centre), then
  ``x = Re(ifft(H k) exp(-i phi)) exp(i phi)``.
- POCS (Haacke, Lindskog & Lin 1991): alternate the phase constraint
  ``x <- |x| exp(i phi)`` (strictly, the real part along ``phi``) with data
  consistency on the measured samples; converges to the conjugate-symmetric
  completion, exact for an image whose phase is the estimate's.

Both act on ``(..., H, W)`` k-space with the usual centred, orthonormal FFT
(:func:`csmri.mri.fft.fft2c`), so leading axes (slices, coils) are independent:
reconstruct each coil, then combine by RSS or the SENSE adjoint
(:func:`partial_fourier_baseline`).
"""

from __future__ import annotations

import numpy as np

from csmri.errors import InputError, UsageError
from csmri.mri.fft import fft2c, ifft2c

PF_METHODS = ("zero-filled", "homodyne", "pocs")


def _geometry(kspace: np.ndarray, fraction: float, axis: int, side: str) -> tuple[int, int, str]:
    """``(N, n, side)``: axis length, sampled count, and which end was measured."""
    if axis not in (-1, -2, kspace.ndim - 1, kspace.ndim - 2):
        raise UsageError(f"partial Fourier axis must be one of the last two, got {axis}")
    if not 0.5 < fraction <= 1:
        raise UsageError(f"partial Fourier fraction must be in (0.5, 1], got {fraction}")
    size = kspace.shape[axis]
    count = round(fraction * size)
    if count <= size // 2 + 1:
        raise UsageError(f"fraction {fraction} of {size} lines leaves no symmetric centre")
    if side == "auto":
        lines = np.moveaxis(np.abs(kspace), axis, -1).reshape(-1, size).sum(0)
        low_empty, high_empty = not lines[: size - count].any(), not lines[count:].any()
        if count < size and low_empty == high_empty:
            raise InputError(
                f"cannot tell the measured side: k-space is {'zero' if low_empty else 'non-zero'}"
                f" on both ends beyond the {count} of {size} sampled lines"
            )
        side = "high" if low_empty and count < size else "low"
    if side not in ("low", "high"):
        raise UsageError(f"side must be 'auto', 'low' or 'high', got {side!r}")
    return size, count, side


def _along(values: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """Shape a 1-D weight to broadcast along ``axis``."""
    shape = [1] * ndim
    shape[axis] = values.size
    return values.reshape(shape)


def _windows(size: int, count: int, side: str) -> tuple[np.ndarray, ...]:
    """Measured lines, symmetric-centre Hann window, ramp and step weights along the axis.

    ``q`` counts lines from the centre ``size // 2``; the measured lines are the
    first ``count`` ('low') or the last ``count`` ('high'), and the symmetric
    centre ``|q| <= half`` is the part measured on both sides.
    """
    centre = size // 2
    q = np.arange(size) - centre
    index = np.arange(size)
    measured = index < count if side == "low" else index >= size - count
    half = int(min(-q[measured].min(), q[measured].max()))
    symmetric = np.abs(q) <= half
    sign = 1.0 if side == "low" else -1.0  # q * sign > 0: the side missing beyond the centre
    one_sided = measured & ~symmetric
    hann = np.where(symmetric, 0.5 * (1 + np.cos(np.pi * q / (half + 1))), 0.0)
    ramp = np.where(one_sided, 2.0, np.where(symmetric, 1 - sign * q / (half + 1), 0.0))
    step = np.where(one_sided, 2.0, np.where(symmetric, 1.0, 0.0))
    return measured, hann, ramp, step


def phase_estimate(
    kspace: np.ndarray, fraction: float, axis: int = -1, side: str = "auto"
) -> np.ndarray:
    """Low-resolution phase ``exp(i phi)`` from the symmetrically sampled centre (Hann window).

    Parameters
    ----------
    kspace : ndarray, shape (..., H, W)
        Centred k-space, zero where not measured.
    fraction : float
        Measured fraction of ``axis`` (in ``(0.5, 1]``).
    axis : int
        The asymmetric axis (one of the last two).
    side : {"auto", "low", "high"}
        Which end of the axis was measured (``auto``: the non-zero one).

    Returns
    -------
    ndarray of complex, shape (..., H, W)
        Unit-modulus phase image.
    """
    kspace = np.asarray(kspace)
    size, count, side = _geometry(kspace, fraction, axis, side)
    hann = _windows(size, count, side)[1]
    lowres = ifft2c(kspace * _along(hann, axis, kspace.ndim))
    return np.exp(1j * np.angle(lowres))


def homodyne(
    kspace: np.ndarray,
    fraction: float,
    axis: int = -1,
    filter: str = "ramp",
    side: str = "auto",
) -> np.ndarray:
    """Homodyne partial Fourier reconstruction.

    Parameters
    ----------
    kspace : ndarray, shape (..., H, W)
        Centred k-space, zero beyond the measured fraction of ``axis``.
    fraction : float
        Measured fraction of ``axis`` (e.g. 0.625 for 5/8).
    axis : int
        The asymmetric axis (``-1``: ``W``; ``-2``: ``H``).
    filter : {"ramp", "step"}
        Weight across the symmetric centre: a linear ramp (smoother, less ringing)
        or the step ``H = 1``.
    side : {"auto", "low", "high"}
        Which end was measured.

    Returns
    -------
    ndarray of complex128, shape (..., H, W)
        ``Re(ifft(H k) exp(-i phi)) exp(i phi)``: the real homodyne image carrying
        the low-resolution phase back (take ``abs`` for magnitude).
    """
    kspace = np.asarray(kspace)
    size, count, side = _geometry(kspace, fraction, axis, side)
    if filter not in ("ramp", "step"):
        raise UsageError(f"homodyne filter must be 'ramp' or 'step', got {filter!r}")
    _, hann, ramp, step = _windows(size, count, side)
    weight = ramp if filter == "ramp" else step
    phase = np.exp(1j * np.angle(ifft2c(kspace * _along(hann, axis, kspace.ndim))))
    image = ifft2c(kspace * _along(weight, axis, kspace.ndim))
    return np.real(image * np.conj(phase)) * phase


def pocs(
    kspace: np.ndarray,
    fraction: float,
    axis: int = -1,
    iterations: int = 10,
    mask: np.ndarray | None = None,
    side: str = "auto",
) -> np.ndarray:
    """POCS partial Fourier reconstruction.

    Parameters
    ----------
    kspace : ndarray, shape (..., H, W)
        Centred k-space, zero where not measured.
    fraction : float
        Measured fraction of ``axis``.
    axis : int
        The asymmetric axis.
    iterations : int
        Alternations of the phase constraint and data consistency.
    mask : ndarray, optional
        Measured samples (broadcast against ``kspace``), for data undersampled on
        the other axis too; default: the measured fraction of ``axis``.
    side : {"auto", "low", "high"}
        Which end was measured.

    Returns
    -------
    ndarray of complex128, shape (..., H, W)
        The image, with the low-resolution phase.
    """
    kspace = np.asarray(kspace)
    size, count, side = _geometry(kspace, fraction, axis, side)
    measured, hann, _, _ = _windows(size, count, side)
    keep = _along(measured, axis, kspace.ndim) if mask is None else np.asarray(mask) != 0
    phase = np.exp(1j * np.angle(ifft2c(kspace * _along(hann, axis, kspace.ndim))))
    image = ifft2c(kspace)
    for _ in range(int(iterations)):
        constrained = np.maximum(np.real(image * np.conj(phase)), 0) * phase
        image = ifft2c(np.where(keep, kspace, fft2c(constrained)))
    return image


def partial_fourier_baseline(
    kspace: np.ndarray,
    fraction: float,
    axis: int = -1,
    method: str = "pocs",
    maps: np.ndarray | None = None,
    iterations: int = 10,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Multi-coil baseline with partial Fourier completion per coil, then coil combination.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred multi-coil k-space.
    fraction, axis
        As :func:`homodyne`.
    method : {"zero-filled", "homodyne", "pocs"}
        Completion of each coil's k-space.
    maps : ndarray, shape (S, C, H, W) or (C, H, W), optional
        Coil maps: the SENSE adjoint ``sum_c conj(S_c) x_c`` (complex); without
        them the RSS magnitude.
    iterations : int
        POCS iterations.
    mask : ndarray, optional
        Measured samples for POCS's data consistency (needed when the data are
        also undersampled; see :func:`pocs`).

    Returns
    -------
    ndarray, shape (S, H, W)
        Complex SENSE-adjoint image with ``maps``, float RSS image without.
    """
    if method == "zero-filled":
        coils = ifft2c(np.asarray(kspace))
    elif method == "homodyne":
        coils = homodyne(kspace, fraction, axis)
    elif method == "pocs":
        coils = pocs(kspace, fraction, axis, iterations, mask=mask)
    else:
        choices = ", ".join(PF_METHODS)
        raise UsageError(f"unknown partial Fourier method {method!r}; choose {choices}")
    if maps is None:
        return np.sqrt(np.sum(np.abs(coils) ** 2, axis=-3))
    return np.sum(np.conj(maps) * coils, axis=-3)


def detect_partial_fourier(mask: np.ndarray, margin: int = 2) -> tuple[int, float] | None:
    """The sampled fraction of an asymmetric echo (partial Fourier along the readout), or None.

    Cartesian masks sample every readout point of a measured line, so unmeasured rows at one
    edge of k-space can only be an asymmetric echo: it is detected when the sampled rows'
    extent is off the centre by more than ``margin`` rows.  Partial phase encoding cannot be
    told from random undersampling by the mask alone (a random mask's outermost columns are
    missing by chance) and is not detected here; the raw readers report it in the header.

    Parameters
    ----------
    mask : ndarray of bool, shape (H, W)
        Sampled locations.
    margin : int
        Tolerance in rows.

    Returns
    -------
    tuple or None
        ``(-2, fraction)``: the readout axis and the fraction of it sampled.
    """
    rows = np.flatnonzero((np.asarray(mask) != 0).any(axis=1))
    if rows.size == 0:
        return None
    low, high, size = int(rows[0]), int(rows[-1]), mask.shape[0]
    if abs((size - 1 - high) - low) > 2 * margin:
        return -2, (high - low + 1) / size
    return None
