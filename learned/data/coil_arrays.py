"""Randomised receive arrays for multi-coil training examples (domain randomisation).

The birdcage maps of :func:`csmri.mri.coil_sim.birdcage_maps` are one fixed geometry; a
network that only ever sees them learns that geometry.  Real head arrays differ in coil
count, radius, shape, row layout and gain, and their B1 fields carry phase that no model
reproduces exactly.  :func:`random_array` therefore draws, per example:

* a layout: one ring, two rows (coils above and below the slice, further away, as a
  16- or 32-channel head coil), a posterior-heavy ring (a head rest with more elements
  behind the head), or coils at random positions;
* an elliptical ring radius (1.05-1.8 half fields of view) and a random rotation;
* a fall-off exponent (1-2) of the inverse distance, per-coil gains (-3 to +3 dB) and a
  smooth per-coil phase perturbation on top of the loop's own rotating phase;

and RSS-normalises the maps (``sum_c |S_c|^2 = 1``), so that the SENSE image equals the
object.  :func:`noise_covariance` draws correlated, unequal coil noise, and
:func:`transmit_field` a smooth B1+ intensity bias that belongs to the object (the target
carries it, as a real reference does).
"""

from __future__ import annotations

import numpy as np

from learned.data.synth import smooth_field

LAYOUTS = ("ring", "two-rows", "posterior", "scattered")


def random_array(shape: tuple[int, int], coils: int, rng: np.random.Generator) -> np.ndarray:
    """Sensitivities of a randomly drawn receive array (module docstring), RSS-normalised.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    coils : int
        Number of coils (>= 1).
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray of complex64, shape (C, H, W)
        Maps with ``sum_c |S_c|^2 = 1``.
    """
    from csmri.mri.coil_sim import loop_maps

    layout = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    angles = 2 * np.pi * np.arange(coils) / coils + rng.uniform(0, 2 * np.pi)
    if layout == "posterior":  # bunch the elements towards one side
        angles = angles[0] + np.pi * (1 - np.cos(np.pi * np.arange(coils) / coils))
    elif layout == "scattered":
        angles = rng.uniform(0, 2 * np.pi, coils)
    height = np.zeros(coils)
    if layout == "two-rows":
        height = np.where(np.arange(coils) % 2 == 0, 1.0, -1.0) * rng.uniform(0.3, 0.9)
    radius = rng.uniform(1.05, 1.8)
    aspect = rng.uniform(0.8, 1.25)
    falloff = rng.uniform(1.0, 2.0)
    gains = 10 ** (rng.uniform(-3, 3, coils) / 20)
    phases = [0.5 * smooth_field(shape, 3, rng) for _ in range(coils)]
    return loop_maps(shape, radius * aspect * np.sin(angles), radius * np.cos(angles) / aspect,
                     angles, height, falloff, gains, phases)


def noise_covariance(coils: int, rng: np.random.Generator) -> np.ndarray:
    """Correlated, unequal coil noise: a random positive-definite covariance.

    Neighbouring coils on the ring correlate with ``rho^distance`` (``rho`` in 0-0.5, a
    random sign per pair would not be positive definite), and each coil's variance is
    scaled by 0.5-2.

    Parameters
    ----------
    coils : int
        Number of coils.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray of float64, shape (C, C)
        Covariance with mean variance 1.
    """
    from csmri.mri.coil_sim import coil_noise_covariance

    correlation = coil_noise_covariance(coils, rng.uniform(0.0, 0.5))
    scale = np.sqrt(rng.uniform(0.5, 2.0, coils))
    covariance = correlation * scale[:, None] * scale[None, :]
    return covariance / np.mean(np.diag(covariance))


def transmit_field(shape: tuple[int, int], rng: np.random.Generator,
                   strength: float = 0.2) -> np.ndarray:
    """A smooth positive B1+ intensity bias ``exp(strength * field)``.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    rng : numpy.random.Generator
        Random source.
    strength : float
        Standard deviation of the log bias.

    Returns
    -------
    ndarray of float32, shape (H, W)
        Bias, near 1.
    """
    return np.exp(strength * smooth_field(shape, 3, rng)).astype(np.float32)


def coil_noise(shape: tuple[int, ...], covariance: np.ndarray, sigma: float,
               rng: np.random.Generator) -> np.ndarray:
    """Complex Gaussian noise ``(C, H, W)`` with coil covariance ``sigma^2 * covariance``.

    Parameters
    ----------
    shape : tuple of int
        ``(C, H, W)``.
    covariance : ndarray, shape (C, C)
        Coil covariance.
    sigma : float
        Noise level (per real and imaginary part ``sigma / sqrt(2)``).
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray of complex64, shape (C, H, W)
        Noise.
    """
    factor = np.linalg.cholesky(covariance)
    white = rng.standard_normal((2, *shape[1:], shape[0])) @ factor.T
    noise = (white[0] + 1j * white[1]) * (sigma / np.sqrt(2))
    return np.moveaxis(noise, -1, 0).astype(np.complex64)


def texture(shape: tuple[int, int], rng: np.random.Generator,
            exponent: tuple[float, float] = (2.0, 3.0)) -> np.ndarray:
    """A zero-mean unit-sd random field with a power-law spectrum ``|k|^-beta``.

    Single-subject anatomy has several times the mid- and high-frequency power of an
    averaged template (measured on the shared in-vivo scan against MNI152 at the same
    pixel size); modulating the template by such a field keeps a network from learning
    that every fine structure is aliasing or noise.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)``.
    rng : numpy.random.Generator
        Random source.
    exponent : tuple of float
        Range of ``beta``.

    Returns
    -------
    ndarray of float32, shape (H, W)
        The field.
    """
    h, w = shape
    beta = float(rng.uniform(*exponent))
    ky = np.fft.fftfreq(h)[:, None]
    kx = np.fft.fftfreq(w)[None, :]
    radius = np.hypot(ky, kx)
    radius[0, 0] = np.inf  # no mean
    spectrum = radius ** (-beta / 2) * (rng.standard_normal(shape)
                                        + 1j * rng.standard_normal(shape))
    field = np.fft.ifft2(spectrum).real
    return (field / max(field.std(), 1e-12)).astype(np.float32)
