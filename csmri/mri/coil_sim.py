"""Simulated multi-coil acquisition: birdcage-style maps, coil images, correlated noise.

Coil ``c`` of ``C`` sits on a circle of radius ``radius`` (in units of the half
field of view) at angle ``2 pi c / C``.  Its sensitivity at pixel ``r`` falls off
as the inverse distance to the coil and turns with the angle seen from the coil,
plus the coil's position angle (the B1 field of a loop rotates around it), the
model of SigPy's ``birdcage_maps`` and BART's ``phantom -s``.  The maps are then
normalised to ``sum_c |S_c|^2 = 1``, so the SENSE image equals the
magnitude target and ``reconstruction_rss`` of the fully sampled coil images
equals the image magnitude.
"""

from __future__ import annotations

import numpy as np

from csmri.acquisition import Acquisition
from csmri.mri.fft import fft2c
from csmri.mri.masks import ColumnMask
from csmri.mri.simulate import phased_stack


def birdcage_maps(shape: tuple[int, int], coils: int, radius: float = 1.5) -> np.ndarray:
    """Birdcage-style coil maps, RSS-normalised.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    coils : int
        Number of coils (>= 1).
    radius : float
        Coil circle radius relative to the half field of view (> 1: outside the object).

    Returns
    -------
    ndarray of complex64, shape (C, H, W)
        Maps with ``sum_c |S_c|^2 = 1``.
    """
    angles = 2 * np.pi * np.arange(coils) / coils
    return loop_maps(shape, radius * np.sin(angles), radius * np.cos(angles), angles)


def loop_maps(
    shape: tuple[int, int],
    centre_y: np.ndarray,
    centre_x: np.ndarray,
    angles: np.ndarray,
    heights: np.ndarray | None = None,
    falloff: float = 1.0,
    gains: np.ndarray | None = None,
    phases: list[np.ndarray] | None = None,
) -> np.ndarray:
    """RSS-normalised maps of small loops: the coil model of the module docstring.

    Loop ``c`` sits at ``(centre_y[c], centre_x[c])`` (units of the half field of view)
    and ``heights[c]`` out of the slice plane; its sensitivity is
    ``gains[c] exp(i (atan2(dy, dx) + angles[c] + phases[c])) / distance ** falloff``.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    centre_y, centre_x, angles : ndarray, shape (C,)
        Loop positions and the angles that offset their phase.
    heights : ndarray, shape (C,), optional
        Distances from the slice plane (default 0).
    falloff : float
        Exponent of the inverse distance.
    gains : ndarray, shape (C,), optional
        Per-loop gains (default 1).
    phases : list of ndarray, shape (H, W), optional
        Per-loop phase perturbations (default none).

    Returns
    -------
    ndarray of complex64, shape (C, H, W)
        Maps with ``sum_c |S_c|^2 = 1``.
    """
    h, w = shape
    y, x = np.meshgrid(
        (np.arange(h) - h // 2) / (h / 2), (np.arange(w) - w // 2) / (w / 2), indexing="ij"
    )
    maps = np.empty((len(angles), h, w), dtype=np.complex128)
    for c in range(len(angles)):
        dy, dx = y - centre_y[c], x - centre_x[c]
        squared = dx**2 + dy**2 if heights is None else dx**2 + dy**2 + heights[c] ** 2
        phase = np.arctan2(dy, dx) + angles[c]
        if phases is not None:
            phase = phase + phases[c]
        value = np.exp(1j * phase) if gains is None else gains[c] * np.exp(1j * phase)
        maps[c] = value / np.sqrt(squared) ** falloff
    maps /= np.sqrt(np.sum(np.abs(maps) ** 2, axis=0))
    return maps.astype(np.complex64)


def coil_noise_covariance(coils: int, correlation: float) -> np.ndarray:
    """Noise covariance with unit variances and ``correlation ** |i - j|`` between coils.

    Parameters
    ----------
    coils : int
        Number of coils.
    correlation : float
        Correlation of neighbouring coils, in ``[0, 1)``.

    Returns
    -------
    ndarray of float64, shape (C, C)
        Positive-definite covariance.
    """
    index = np.arange(coils)
    distance = np.abs(index[:, None] - index[None, :])
    distance = np.minimum(distance, coils - distance)  # coils on a ring
    return correlation**distance


def simulate_multicoil(
    images: np.ndarray,
    coils: int = 8,
    acceleration: float = 4,
    center_fraction: float = 0.08,
    mask_type: str = "random",
    seed: int = 0,
    noise: float = 0.0,
    correlation: float = 0.0,
    phase: bool = True,
    mask: ColumnMask | None = None,
) -> Acquisition:
    """Undersampled multi-coil k-space of magnitude images, in the fastMRI layout.

    Parameters
    ----------
    images : ndarray, shape (S, H, W) or (H, W)
        Non-negative magnitude images.
    coils : int
        Number of birdcage coils.
    acceleration, center_fraction, mask_type, seed, phase, mask
        As :func:`csmri.mri.simulate.simulate` (``seed`` also seeds the noise).
    noise : float
        Per-coil complex noise sigma relative to the image maximum.
    correlation : float
        Noise correlation between neighbouring coils (``0``: independent).

    Returns
    -------
    Acquisition
        k-space ``(S, C, H, W)``, mask, the RSS reference (= the image magnitude, as
        the maps are RSS-normalised), the true maps, and the simulation attributes.
    """
    images, mask, rng, complex_images = phased_stack(
        images, acceleration, center_fraction, mask_type, seed, phase, mask
    )
    s, h, w = images.shape
    maps = birdcage_maps((h, w), coils)
    kspace = fft2c(complex_images[:, None] * maps[None])
    if noise > 0:
        sigma = noise * float(images.max()) / np.sqrt(2)
        factor = np.linalg.cholesky(coil_noise_covariance(coils, correlation))
        white = rng.standard_normal((2, s, h, w, coils)) @ factor.T
        kspace = kspace + sigma * np.moveaxis(white[0] + 1j * white[1], -1, 1)
    kspace = (kspace * mask.mask).astype(np.complex64)
    attrs = {
        "acceleration": float(acceleration),
        "center_fraction": float(center_fraction),
        "seed": int(seed),
        "noise": float(noise),
        "coil_correlation": float(correlation),
        "coils": int(coils),
        "mask_type": mask_type,
        "phase": bool(phase),
        "realised_acceleration": mask.realised_acceleration,
        "num_low_frequencies": int(mask.num_low_frequencies),
    }
    mask2d = np.broadcast_to(mask.mask[None, :], (h, w)).copy()
    target = np.abs(images).astype(np.float32)
    return Acquisition(
        kspace,
        mask2d,
        maps=np.broadcast_to(maps, (s, coils, h, w)).copy(),
        reference=target,
        attrs=attrs,
        maps_source="simulated",
    )
