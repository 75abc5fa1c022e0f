"""Simulate radial and spiral k-space from magnitude images, single- or multi-coil.

magnitude -> complex image (seeded smooth phase) -> [birdcage coil maps] -> NUFFT at the
trajectory (BART units) -> complex Gaussian noise relative to the image maximum, scaled as
the Cartesian simulation's (:mod:`csmri.mri.simulate`) so that ``noise`` means the same.
Images are zero-padded to a square even matrix (radial and spiral trajectories cover a
disc of a square grid).  Acceleration is relative to Nyquist: ``pi/2 N`` spokes for radial
(:func:`csmri.mri.trajectories.nyquist_spokes`), and arms ``R`` pixels apart at the edge of
an Archimedean spiral.
"""

from __future__ import annotations

import numpy as np

from csmri.acquisition import Acquisition, Trajectory
from csmri.linop.nufft import NUFFT
from csmri.mri.simulate import smooth_phase
from csmri.mri.trajectories import nyquist_spokes, radial, spiral

TRAJECTORIES = ("radial", "golden", "tiny-golden", "spiral")
"""``radial``: uniform angles; ``golden``/``tiny-golden``: golden-angle increments."""

DEFAULT_INTERLEAVES = 8


def make_trajectory(
    kind: str,
    n: int,
    acceleration: float = 4.0,
    spokes: int | None = None,
    interleaves: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """A trajectory ``(3, readout, lines)`` of ``kind`` on an ``n x n`` grid.

    Parameters
    ----------
    kind : {"radial", "golden", "tiny-golden", "spiral"}
        Family.
    n : int
        Grid size.
    acceleration : float
        Undersampling below Nyquist (ignored for radial when ``spokes`` is given).
    spokes : int, optional
        Radial spokes (default ``round(nyquist_spokes(n) / acceleration)``).
    interleaves : int, optional
        Spiral arms (default 8); the turns per arm set the acceleration.
    seed : int
        Seeds the spiral's global rotation.

    Returns
    -------
    ndarray of float64
        BART-convention coordinates in pixels.
    """
    if kind not in TRAJECTORIES:
        raise ValueError(f"unknown trajectory {kind!r}; choose {', '.join(TRAJECTORIES)}")
    if kind == "spiral":
        arms = interleaves or DEFAULT_INTERLEAVES
        return spiral(n, arms, turns=n / (2 * arms * acceleration), seed=seed)
    count = spokes or max(1, round(nyquist_spokes(n) / acceleration))
    ordering = "uniform" if kind == "radial" else kind
    return radial(n, count, ordering=ordering)


def simulate_noncartesian(
    images: np.ndarray,
    kind: str = "golden",
    acceleration: float = 4.0,
    seed: int = 0,
    noise: float = 0.0,
    phase: bool = True,
    coils: int = 1,
    spokes: int | None = None,
    interleaves: int | None = None,
) -> Acquisition:
    """Non-Cartesian k-space of magnitude images (see the module docstring).

    Parameters
    ----------
    images : ndarray, shape (S, H, W) or (H, W)
        Non-negative magnitudes.
    kind, acceleration, spokes, interleaves
        The trajectory (:func:`make_trajectory`).
    seed : int
        Seeds the phase, the noise and the spiral's rotation.
    noise : float
        Complex noise sigma relative to the image maximum (as :func:`csmri.mri.simulate.simulate`).
    phase : bool
        Apply a smooth random phase.
    coils : int
        Birdcage coils (1: single-coil).

    Returns
    -------
    Acquisition
        k-space ``(S, C, readout, lines)`` with its :class:`Trajectory`, the padded
        magnitude reference and, for coils, the true maps.
    """
    from csmri.mri.coil_sim import birdcage_maps

    images = np.asarray(images, dtype=np.float32)
    images = images[np.newaxis] if images.ndim == 2 else images
    s, h, w = images.shape
    n = max(h, w) + max(h, w) % 2
    padded = np.zeros((s, n, n), np.float32)
    top, left = (n - h) // 2, (n - w) // 2
    padded[:, top : top + h, left : left + w] = images
    rng = np.random.default_rng(seed)
    complex_images = padded.astype(np.complex64)
    if phase:
        complex_images = complex_images * np.exp(1j * smooth_phase((n, n), rng))
    coords = make_trajectory(kind, n, acceleration, spokes, interleaves, seed)
    op = NUFFT(coords, (n, n), toeplitz=False)
    maps = birdcage_maps((n, n), coils) if coils > 1 else np.ones((1, n, n), np.complex64)
    coil_images = complex_images[:, None] * maps[None]
    kspace = op.forward(coil_images.reshape(s * coils, n, n)).reshape(s, coils, *coords.shape[1:])
    if noise > 0:
        # Cartesian noise is relative to an orthonormal FFT; scale by this NUFFT's gain
        gain = float(np.abs(op.forward(np.ones((n, n), np.complex64))).max()) / n
        sigma = noise * float(padded.max()) / np.sqrt(2) * gain
        kspace = kspace + sigma * (rng.standard_normal(kspace.shape)
                                   + 1j * rng.standard_normal(kspace.shape))
    attrs = {"trajectory": kind, "acceleration": float(acceleration), "seed": int(seed),
             "noise": float(noise), "phase": bool(phase), "coils": int(coils),
             "lines": int(coords.shape[-1])}
    return Acquisition(
        np.asarray(kspace, dtype=np.complex64),
        None,
        maps=None if coils == 1 else np.broadcast_to(maps, (s, coils, n, n)).copy(),
        reference=np.abs(padded),
        attrs=attrs,
        maps_source="simulated" if coils > 1 else "",
        trajectory=Trajectory(coords, (n, n)),
    )
