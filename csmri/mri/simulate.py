"""Simulate undersampled single-coil k-space from magnitude images.

magnitude -> complex image (optional seeded smooth phase) -> centred k-space ->
complex Gaussian noise (sigma relative to the image maximum) -> column mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from csmri.mri.fft import fft2c
from csmri.mri.masks import ColumnMask, make_mask


@dataclass
class SimulatedKspace:
    """Masked k-space with its mask, noiseless magnitude target and provenance.

    Attributes
    ----------
    kspace : ndarray of complex64, shape (S, H, W)
        Measured k-space, zero in unsampled columns.
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    target : ndarray of float32, shape (S, H, W)
        Magnitude of the noiseless complex image.
    attrs : dict
        Simulation parameters (acceleration, center_fraction, seed, noise, mask_type, ...).
    """

    kspace: np.ndarray
    mask: np.ndarray
    target: np.ndarray
    attrs: dict = field(default_factory=dict)


def smooth_phase(
    shape: tuple[int, int], rng: np.random.Generator, max_phase: float = np.pi
) -> np.ndarray:
    """A random, spatially smooth phase map: a low-order 2-D polynomial plus a Gaussian bump.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    rng : numpy.random.Generator
        Random source.
    max_phase : float
        Peak absolute phase in radians.

    Returns
    -------
    ndarray of float32, shape (H, W)
        Phase in radians.
    """
    h, w = shape
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    c = rng.uniform(-1, 1, size=6)
    cy, cx = rng.uniform(-0.5, 0.5, size=2)
    phase = c[0] * x + c[1] * y + c[2] * x * y + c[3] * x**2 + c[4] * y**2
    phase += c[5] * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.3)
    phase *= max_phase / max(np.abs(phase).max(), 1e-12)
    return phase.astype(np.float32)


def phased_stack(
    images: np.ndarray,
    acceleration: float,
    center_fraction: float,
    mask_type: str,
    seed: int,
    phase: bool,
    mask: ColumnMask | None,
) -> tuple[np.ndarray, ColumnMask, np.random.Generator, np.ndarray]:
    """The first steps of every simulation: stack, mask, random source and phased images.

    Parameters are those of :func:`simulate`.

    Returns
    -------
    images : ndarray of float32, shape (S, H, W)
        The magnitudes as a stack.
    mask : ColumnMask
        ``mask``, or one drawn from ``(mask_type, W, center_fraction, acceleration, seed)``.
    rng : numpy.random.Generator
        ``default_rng(seed)`` after the phase maps were drawn (the noise comes next).
    complex_images : ndarray of complex64, shape (S, H, W)
        The images times their smooth random phases (if ``phase``).
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 2:
        images = images[np.newaxis]
    if mask is None:
        mask = make_mask(mask_type, images.shape[-1], center_fraction, acceleration, seed)
    rng = np.random.default_rng(seed)
    complex_images = images.astype(np.complex64)
    if phase:
        for i in range(images.shape[0]):
            complex_images[i] *= np.exp(1j * smooth_phase(images.shape[-2:], rng))
    return images, mask, rng, complex_images


def simulate(
    images: np.ndarray,
    acceleration: float = 4,
    center_fraction: float = 0.08,
    mask_type: str = "random",
    seed: int = 0,
    noise: float = 0.0,
    phase: bool = True,
    mask: ColumnMask | None = None,
) -> SimulatedKspace:
    """Undersampled k-space of a stack of magnitude images.

    Parameters
    ----------
    images : ndarray, shape (S, H, W) or (H, W)
        Non-negative magnitude images.
    acceleration, center_fraction : float
        Mask parameters (fastMRI semantics).
    mask_type : {"random", "equispaced"}
        Mask family.
    seed : int
        Seeds the mask (``RandomState(seed)``, as fastMRI), and, through
        ``numpy.random.default_rng(seed)``, the phase maps and the noise.
    noise : float
        Standard deviation of complex Gaussian k-space noise, relative to the
        image maximum (``E|n|^2 = (noise * max|x|)^2`` per sample; with an
        orthonormal FFT this is the same per-pixel noise level in the image).
    phase : bool
        Multiply each slice by its own smooth random phase.
    mask : ColumnMask, optional
        Use this mask instead of drawing one.

    Returns
    -------
    SimulatedKspace
        Masked k-space, mask, target and attributes; one mask for all slices.
    """
    images, mask, rng, complex_images = phased_stack(
        images, acceleration, center_fraction, mask_type, seed, phase, mask
    )
    kspace = fft2c(complex_images)
    if noise > 0:
        sigma = noise * float(np.abs(images).max()) / np.sqrt(2)
        kspace = kspace + sigma * (
            rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape)
        )
    kspace = (kspace * mask.mask).astype(np.complex64)
    attrs = {
        "acceleration": float(acceleration),
        "center_fraction": float(center_fraction),
        "seed": int(seed),
        "noise": float(noise),
        "mask_type": mask_type,
        "phase": bool(phase),
        "realised_acceleration": mask.realised_acceleration,
        "num_low_frequencies": int(mask.num_low_frequencies),
    }
    return SimulatedKspace(kspace, mask.mask.copy(), np.abs(images).astype(np.float32), attrs)
