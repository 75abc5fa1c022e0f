"""Coil noise prewhitening: decorrelate and equalise the receive channels' noise.

Receive coils share noise (mutual inductance, common sample noise) and differ in
gain, so the noise in ``y = E x + n`` has a covariance ``Psi`` that is neither
diagonal nor the identity.  Least squares on raw coil data then over-trusts the
noisiest, most correlated channels.  With the Cholesky factor ``Psi = L L^H``
the whitening matrix ``W = L^{-1}`` makes ``W n`` white (``E[W n n^H W^H] = I``),
and the same ``W`` applied along the coil axis of the data, the calibration
lines and the coil maps turns the problem into one with white noise, for which
plain least squares / SENSE is the maximum-likelihood estimate (Pruessmann et
al. 1999, Kellman & McVeigh 2005).

``W`` is lower triangular and acts per sample, so it commutes with the FFT and
with the sampling mask: whitening k-space and whitening coil images are the same.

Conventions.  The covariance is ``X X^H / (N - 1)`` of the noise samples
``X`` (coils x samples), as in Gadgetron's ``NoiseAdjustGadget`` and
ismrmrd-python-tools' ``calculate_prewhitening``; both also multiply ``W`` by
``sqrt(2)`` so that real and imaginary parts have unit variance, and here the
complex noise gets unit variance instead (no ``sqrt(2)``): multiply by
``sqrt(2)`` to match theirs.  When the noise scan and the imaging scan were
sampled with different dwell times, the noise variance scales with the
bandwidth: :func:`bandwidth_scale` gives Gadgetron's correction
``sqrt(dwell_imaging / dwell_noise * relative_receiver_noise_bandwidth)``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from csmri.errors import InputError


def noise_covariance(noise: np.ndarray, coil_axis: int = 0, source: object = None) -> np.ndarray:
    """Sample covariance of coil noise, ``X X^H / (N - 1)``.

    Parameters
    ----------
    noise : ndarray, complex
        Noise samples with the coils along ``coil_axis`` (every other axis is a sample).
    coil_axis : int
        Axis of the coils.
    source : object, optional
        File or scan named in error messages.

    Returns
    -------
    ndarray of complex128, shape (C, C)
        Hermitian covariance; entry ``(i, j)`` is ``E[n_i conj(n_j)]``.

    Raises
    ------
    InputError
        Fewer noise samples than coils (the covariance would be singular), or
        non-finite samples.
    """
    noise = np.asarray(noise)
    if noise.ndim == 0:
        raise InputError("noise samples must have a coil axis", source)
    samples = np.moveaxis(noise, coil_axis, 0).reshape(noise.shape[coil_axis], -1)
    coils, count = samples.shape
    if count < max(coils, 2):
        raise InputError(
            f"noise scan has {count} samples for {coils} coils: at least as many samples "
            "as coils are needed to estimate the noise covariance",
            source,
        )
    samples = samples.astype(np.complex128)
    if not np.all(np.isfinite(samples)):
        raise InputError("noise samples contain NaN or infinite values", source)
    return samples @ samples.conj().T / (count - 1)


def bandwidth_scale(
    imaging_dwell_us: float | None,
    noise_dwell_us: float | None,
    relative_bandwidth: float | None = None,
) -> float:
    """Gadgetron's factor on ``W`` for a noise scan sampled at another bandwidth.

    White noise power grows with the receiver bandwidth (``1 / dwell``), so the
    imaging data's noise covariance is ``Psi * dwell_noise / dwell_imaging``;
    ``relative_bandwidth`` (ISMRMRD ``relativeReceiverNoiseBandwidth``, about
    0.79 on Siemens) corrects for the anti-aliasing filter's noise bandwidth.

    Parameters
    ----------
    imaging_dwell_us, noise_dwell_us : float or None
        Sample times of the imaging and noise acquisitions (µs); 1 when either is
        missing or zero, as Gadgetron does.
    relative_bandwidth : float, optional
        Relative receiver noise bandwidth (1 when absent).

    Returns
    -------
    float
        ``sqrt(dwell_imaging / dwell_noise * relative_bandwidth)``.
    """
    if not imaging_dwell_us or not noise_dwell_us:
        return 1.0
    ratio = 1.0 if relative_bandwidth is None else float(relative_bandwidth)
    return float(np.sqrt(float(imaging_dwell_us) / float(noise_dwell_us) * ratio))


def whitening_matrix(
    covariance: np.ndarray, scale: float = 1.0, source: object = None
) -> np.ndarray:
    """``W = scale * L^{-1}`` with ``covariance = L L^H`` (Cholesky, lower triangular).

    Parameters
    ----------
    covariance : ndarray, shape (C, C)
        Hermitian positive-definite noise covariance (:func:`noise_covariance`).
    scale : float
        Extra factor (:func:`bandwidth_scale`).
    source : object, optional
        File or scan named in error messages.

    Returns
    -------
    ndarray of complex128, shape (C, C)
        Lower-triangular whitening matrix: ``W covariance W^H = scale^2 I``.

    Raises
    ------
    InputError
        The covariance is not positive definite (a dead or duplicated channel).
    """
    covariance = np.asarray(covariance, dtype=np.complex128)
    if covariance.ndim != 2 or covariance.shape[0] != covariance.shape[1]:
        raise InputError(f"noise covariance must be square, got shape {covariance.shape}", source)
    try:
        factor = np.linalg.cholesky((covariance + covariance.conj().T) / 2)
    except np.linalg.LinAlgError:
        raise InputError(
            "noise covariance is not positive definite (a dead or duplicated coil?)", source
        ) from None
    identity = np.eye(covariance.shape[0], dtype=np.complex128)
    return float(scale) * solve_triangular(factor, identity, lower=True)


def whiten(data: np.ndarray, matrix: np.ndarray, coil_axis: int = 0) -> np.ndarray:
    """Apply a whitening matrix along the coil axis: ``out[i] = sum_j W[i, j] data[j]``.

    Use the same matrix for k-space, calibration lines, noise and coil maps.

    Parameters
    ----------
    data : ndarray, complex
        k-space, calibration data, noise or maps, coils along ``coil_axis``.
    matrix : ndarray, shape (C, C)
        Whitening matrix (:func:`whitening_matrix`).
    coil_axis : int
        Axis of the coils in ``data``.

    Returns
    -------
    ndarray
        Whitened data, same shape; complex64 for single-precision input, else complex128.

    Raises
    ------
    InputError
        The coil count of ``data`` differs from the matrix's.
    """
    data = np.asarray(data)
    matrix = np.asarray(matrix)
    coils = data.shape[coil_axis]
    if matrix.shape != (coils, coils):
        raise InputError(
            f"data has {coils} coils (axis {coil_axis}) but the whitening matrix is "
            f"{matrix.shape[0]}x{matrix.shape[1]}"
        )
    single = data.dtype in (np.complex64, np.float32)
    moved = np.moveaxis(data, coil_axis, -1)
    out = np.moveaxis(
        moved @ matrix.T.astype(np.complex64 if single else np.complex128), -1, coil_axis
    )
    return out.astype(np.complex64 if single else np.complex128, copy=False)


def prewhiten(
    kspace: np.ndarray,
    noise: np.ndarray,
    coil_axis: int = 0,
    noise_coil_axis: int = 0,
    scale: float = 1.0,
    source: object = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Whiten k-space with the covariance of a noise scan; return ``(kspace, W)``.

    Parameters
    ----------
    kspace : ndarray, complex
        Data with coils along ``coil_axis``.
    noise : ndarray, complex
        Noise samples with coils along ``noise_coil_axis``.
    coil_axis, noise_coil_axis : int
        Coil axes of ``kspace`` and ``noise``.
    scale : float
        :func:`bandwidth_scale` when the scans' dwell times differ.
    source : object, optional
        File or scan named in error messages.

    Returns
    -------
    tuple of ndarray
        Whitened k-space, and ``W`` to whiten the calibration data and maps alike.
    """
    matrix = whitening_matrix(noise_covariance(noise, noise_coil_axis, source), scale, source)
    return whiten(kspace, matrix, coil_axis), matrix


def whiten_sense(
    kspace: np.ndarray, maps: np.ndarray, matrix: np.ndarray, coil_axis: int = -3
) -> tuple[np.ndarray, np.ndarray]:
    """Whiten k-space and coil maps together for SENSE, keeping the image's units.

    ``y = M F S x + n`` becomes ``W y = M F (W S) x + W n``: the same image ``x``
    with white noise.  Both are then divided by one scalar, the largest per-pixel
    norm ``sqrt(sum_c |(W S)_c|^2)``, because the solvers' step assumes
    ``||A|| <= 1`` (true for RSS-normalised maps); a common scalar leaves the
    least-squares solution unchanged.

    The maps are whitened with the same matrix rather than re-estimated by
    ESPIRiT from whitened data: ESPIRiT normalises its maps to unit RSS per pixel,
    which would turn the image into ``x * ||W S(r)||`` (a coil-sensitivity
    shading), whereas ``W S`` keeps ``x`` itself, comparable with the reference.

    Parameters
    ----------
    kspace : ndarray
        k-space ``(..., C, H, W)`` (coils along ``coil_axis``).
    maps : ndarray
        Coil maps for the raw (unwhitened) coils, coils along ``coil_axis``.
    matrix : ndarray, shape (C, C)
        Whitening matrix (:func:`whitening_matrix`).
    coil_axis : int
        Coil axis of both arrays (``-3`` for ``(..., C, H, W)``).

    Returns
    -------
    tuple of ndarray
        Whitened, rescaled k-space and maps.
    """
    white_maps = whiten(maps, matrix, coil_axis)
    peak = float(np.sqrt(np.max(np.sum(np.abs(white_maps) ** 2, axis=coil_axis))))
    if not np.isfinite(peak) or peak == 0:
        raise InputError("coil maps are zero everywhere: nothing to whiten")
    return whiten(kspace, matrix, coil_axis) / peak, white_maps / peak

