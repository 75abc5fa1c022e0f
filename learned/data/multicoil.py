"""Multi-coil training examples simulated from one clean (or measured complex) slice.

Per example (:func:`simulate_coils`), with the random arrays of
:mod:`learned.data.coil_arrays`:

1. random field-of-view placement: the slice is zoomed by 0.55-1.0 (a whole head, or a
   part of it, in the field of view, at a coarser or finer pixel size) and a window of the
   training size is cut at a random position (zero-padded where the slice is smaller);
2. a smooth B1+ bias and, for a magnitude slice, a power-law texture modulation (up to
   25 %, :func:`learned.data.coil_arrays.texture`: templates lack a single scan's fine
   structure) and a random phase with the structure of a scanner's (:func:`scanner_phase`;
   a measured complex slice keeps its own phase);
3. a random receive array, coil images ``S_c x``, their k-space, correlated and unequal
   coil noise at a random level, and the shared column mask.

The target is the magnitude of ``x`` (bias included: a real reference carries it too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from csmri.mri.fft import fft2c
from csmri.mri.simulate import smooth_phase
from learned.data.coil_arrays import (
    coil_noise,
    noise_covariance,
    random_array,
    texture,
    transmit_field,
)

ZOOM_RANGE = (0.55, 1.0)
TEXTURE_MAX = 0.25


@dataclass(frozen=True)
class CoilExample:
    """One simulated multi-coil example.

    Attributes
    ----------
    kspace : ndarray of complex64, shape (C, P, P)
        Masked noisy coil k-space.
    maps : ndarray of complex64, shape (C, P, P)
        The true (RSS-normalised) sensitivities.
    target : ndarray of float32, shape (P, P)
        Clean magnitude.
    """

    kspace: np.ndarray
    maps: np.ndarray
    target: np.ndarray


def place(image: np.ndarray, size: int, rng: np.random.Generator,
          zoom: tuple[float, float] = ZOOM_RANGE) -> np.ndarray:
    """Zoom a slice by a random factor and cut a random ``size x size`` window.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Slice (real or complex).
    size : int
        Window side.
    rng : numpy.random.Generator
        Random source.
    zoom : tuple of float
        Range of the zoom factor.

    Returns
    -------
    ndarray, shape (size, size)
        The window (complex64 for a complex slice, else float32).
    """
    factor = float(rng.uniform(*zoom))
    parts = [image.real, image.imag] if np.iscomplexobj(image) else [image]
    parts = [ndimage.zoom(np.asarray(p, np.float32), factor, order=1) for p in parts]
    zoomed = parts[0] + 1j * parts[1] if len(parts) == 2 else parts[0]
    h, w = zoomed.shape
    ph, pw = max(size - h, 0), max(size - w, 0)
    top = int(rng.integers(-ph, 1)) if ph else int(rng.integers(h - size + 1))
    left = int(rng.integers(-pw, 1)) if pw else int(rng.integers(w - size + 1))
    window = np.zeros((size, size), dtype=zoomed.dtype)
    src_top, src_left = max(top, 0), max(left, 0)
    dst_top, dst_left = max(-top, 0), max(-left, 0)
    rows, cols = min(h - src_top, size - dst_top), min(w - src_left, size - dst_left)
    window[dst_top : dst_top + rows, dst_left : dst_left + cols] = zoomed[
        src_top : src_top + rows, src_left : src_left + cols]
    return window.astype(np.complex64 if np.iscomplexobj(window) else np.float32)


def scanner_phase(magnitude: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random phase map with the structure of a measured gradient-echo image's phase.

    A coil-combined image from a scanner carries far more than the low-order smooth
    phase of :func:`csmri.mri.simulate.smooth_phase`: on the shared in-vivo scan its
    phase deviates from its own low-pass by 0.95 rad rms inside the head, with several
    wraps near the sinuses (B0 inhomogeneity) and jumps at the scalp (fat-water shift).
    A network trained on smooth phase alone loses 6 dB on that image against its
    magnitude.  The sum drawn here:

    * the smooth polynomial-and-bump phase (peak up to pi);
    * one or two localised off-resonance spots: Gaussian phase bumps of 0-6 pi peak and
      5-25 % of the field of view wide;
    * a multi-scale random field (grids of 4-16 cells), up to 1 rad sd;
    * a contrast-linked term, ``beta * magnitude / max`` with ``|beta| <= pi``, so phase
      edges follow tissue edges as chemical shift and susceptibility make them.

    Parameters
    ----------
    magnitude : ndarray, shape (H, W)
        The image magnitude.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray of float32, shape (H, W)
        Phase in radians.
    """
    from learned.data.synth import smooth_field

    shape = magnitude.shape
    phase = smooth_phase(shape, rng, max_phase=float(rng.uniform(0, np.pi)))
    y, x = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]),
                       indexing="ij")
    for _ in range(int(rng.integers(1, 3))):
        cy, cx = rng.uniform(-0.7, 0.7, 2)
        width = rng.uniform(0.1, 0.5)
        phase = phase + rng.uniform(0, 6 * np.pi) * np.exp(
            -((y - cy) ** 2 + (x - cx) ** 2) / (2 * width**2))
    grid = int(rng.integers(4, 17))
    phase = phase + rng.uniform(0, 1.0) * smooth_field(shape, grid, rng)
    peak = max(float(magnitude.max()), 1e-12)
    phase = phase + rng.uniform(-np.pi, np.pi) * magnitude / peak
    return phase.astype(np.float32)


def simulate_coils(image: np.ndarray, size: int, coils: int, mask: np.ndarray, noise: float,
                   rng: np.random.Generator, phase: bool = True) -> CoilExample:
    """Simulate one multi-coil example (module docstring).

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Clean magnitude, or a measured complex (coil-combined) slice.
    size : int
        Field-of-view side of the example.
    coils : int
        Number of receive coils.
    mask : ndarray of bool, shape (size,)
        Sampled columns.
    noise : float
        Mean noise sigma relative to the example's maximum; drawn in ``[0, 2 * noise]``.
    rng : numpy.random.Generator
        Random source.
    phase : bool
        Give a magnitude slice a smooth random phase.

    Returns
    -------
    CoilExample
        k-space, maps and target.
    """
    window = place(image, size, rng)
    x = window.astype(np.complex64) * transmit_field(window.shape, rng)
    if not np.iscomplexobj(window):
        amount = float(rng.uniform(0, TEXTURE_MAX))
        x = x * np.clip(1 + amount * texture(window.shape, rng), 0, None)
        if phase:
            x = x * np.exp(1j * scanner_phase(np.abs(x), rng)).astype(np.complex64)
    maps = random_array(window.shape, coils, rng)
    kspace = fft2c(maps * x[None])
    sigma = float(rng.uniform(0, 2 * noise)) * float(np.abs(x).max())
    if sigma > 0:
        kspace = kspace + coil_noise(kspace.shape, noise_covariance(coils, rng), sigma, rng)
    kspace = (kspace * mask).astype(np.complex64)
    return CoilExample(kspace, maps, np.abs(x).astype(np.float32))
