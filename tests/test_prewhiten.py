"""Noise prewhitening: identity covariance after whitening, better SENSE on correlated noise."""

import numpy as np
import pytest

from csmri.app.sense import sense_reconstruct
from csmri.errors import InputError
from csmri.io.images import shepp_logan
from csmri.metrics import psnr
from csmri.mri.coil_sim import coil_noise_covariance, simulate_multicoil
from csmri.mri.coils import estimate_maps
from csmri.mri.fft import fft2c
from csmri.mri.prewhiten import (
    bandwidth_scale,
    noise_covariance,
    prewhiten,
    whiten,
    whiten_sense,
    whitening_matrix,
)

STD = np.array([1.0, 1.0, 6.0, 1.0, 8.0, 1.0])  # unequal coil noise levels


def _noise(rng, covariance, shape):
    """Complex Gaussian noise with ``E[n n^H] = covariance``, coils first."""
    c = covariance.shape[0]
    white = (rng.standard_normal((c, *shape)) + 1j * rng.standard_normal((c, *shape))) / np.sqrt(2)
    return np.tensordot(np.linalg.cholesky(covariance), white, axes=1)


def _covariance():
    return coil_noise_covariance(6, 0.8) * np.outer(STD, STD)


def test_whitened_noise_has_identity_covariance():
    rng = np.random.default_rng(0)
    covariance = _covariance()
    matrix = whitening_matrix(noise_covariance(_noise(rng, covariance, (20000,))))
    np.testing.assert_allclose(matrix, np.tril(matrix))  # W = L^-1 is lower triangular
    fresh = _noise(rng, covariance, (40, 500))  # independent samples, coil axis 0
    white = whiten(fresh, matrix, coil_axis=0).reshape(6, -1)
    estimate = white @ white.conj().T / white.shape[1]
    # sampling error of a covariance entry from N samples ~ 1/sqrt(N): 20000 and 20000 here
    np.testing.assert_allclose(estimate, np.eye(6), atol=0.04)
    # the raw noise is far from white
    raw = fresh.reshape(6, -1)
    assert np.abs(raw @ raw.conj().T / raw.shape[1] - np.eye(6)).max() > 10


def test_covariance_is_the_sample_estimate_along_any_coil_axis():
    rng = np.random.default_rng(1)
    noise = _noise(rng, _covariance(), (3, 50))
    direct = noise.reshape(6, -1) @ noise.reshape(6, -1).conj().T / (150 - 1)
    np.testing.assert_allclose(noise_covariance(np.moveaxis(noise, 0, 2), coil_axis=2), direct)


def test_whitening_commutes_with_the_fft():
    rng = np.random.default_rng(2)
    matrix = whitening_matrix(_covariance())
    images = rng.standard_normal((6, 8, 10)) + 1j * rng.standard_normal((6, 8, 10))
    np.testing.assert_allclose(
        whiten(fft2c(images), matrix, 0), fft2c(whiten(images, matrix, 0)), atol=1e-10
    )
    np.testing.assert_allclose(matrix @ _covariance() @ matrix.conj().T, np.eye(6), atol=1e-10)


def test_bandwidth_scale_follows_the_dwell_ratio():
    assert bandwidth_scale(None, 5.0) == 1.0
    assert bandwidth_scale(10.0, 2.5) == pytest.approx(2.0)
    assert bandwidth_scale(10.0, 2.5, 0.79) == pytest.approx(np.sqrt(4 * 0.79))
    scaled = whitening_matrix(_covariance(), scale=2.0)
    np.testing.assert_allclose(scaled, 2 * whitening_matrix(_covariance()))


def test_too_few_noise_samples_and_dead_coils_are_refused():
    rng = np.random.default_rng(3)
    with pytest.raises(InputError, match=r"scan.dat: noise scan has 5 samples for 6 coils"):
        noise_covariance(_noise(rng, _covariance(), (5,)), source="scan.dat")
    dead = _noise(rng, _covariance(), (100,))
    dead[3] = 0
    with pytest.raises(InputError, match="not positive definite"):
        prewhiten(dead, dead, source="scan.dat")
    with pytest.raises(InputError, match="data has 4 coils"):
        whiten(np.zeros((4, 3)), np.eye(6))


def test_prewhitened_sense_beats_sense_on_correlated_unequal_noise():
    rng = np.random.default_rng(4)
    image = shepp_logan(48)
    sim = simulate_multicoil(image, coils=6, acceleration=2, center_fraction=0.25, seed=1)
    covariance = 4e-4 * _covariance()  # noise sigma 0.02 of the image maximum, coil 4 eight times
    noise = np.moveaxis(_noise(rng, covariance, (1, 48, 48)), 0, 1)
    kspace = (sim.kspace + noise * sim.mask).astype(np.complex64)
    calibration_noise = _noise(rng, covariance, (4000,))  # a separate noise scan
    white_kspace, matrix = prewhiten(kspace, calibration_noise, coil_axis=1)
    np.testing.assert_allclose(white_kspace, whiten(kspace, matrix, 1), rtol=1e-6)
    white_kspace, white_maps = whiten_sense(kspace, sim.maps, matrix)
    np.testing.assert_allclose(np.sum(np.abs(white_maps) ** 2, 1).max(), 1, rtol=1e-5)
    # the whitened model keeps the image: y = F S x  ->  W y / p = F (W S / p) x
    x = rng.standard_normal((48, 48)) + 1j * rng.standard_normal((48, 48))
    y, m = whiten_sense(fft2c(sim.maps[0] * x), sim.maps[0], matrix)
    np.testing.assert_allclose(y, fft2c(m * x), atol=1e-5 * np.abs(y).max())
    plain = sense_reconstruct(kspace, sim.mask, sim.maps, lam=0.003, max_iter=30)
    white = sense_reconstruct(white_kspace, sim.mask, white_maps, lam=0.003, max_iter=30)
    plain_psnr = psnr(sim.reference, np.abs(plain.images))
    white_psnr = psnr(sim.reference, np.abs(white.images))
    assert white_psnr > plain_psnr + 6, (plain_psnr, white_psnr)
    # the other workflow: ESPIRiT maps estimated from the whitened data themselves (their
    # images carry the RSS-normalisation shading, so compare after the best scalar fit)
    raw_maps = estimate_maps(kspace, sim.mask)
    whitened = whiten(kspace, matrix, 1)
    espirit_plain = sense_reconstruct(kspace, sim.mask, raw_maps, lam=0.003, max_iter=30)
    espirit_white = sense_reconstruct(
        whitened, sim.mask, estimate_maps(whitened, sim.mask), lam=0.003, max_iter=30
    )
    fitted = [_fitted_psnr(sim.reference, r.images) for r in (espirit_plain, espirit_white)]
    assert fitted[1] > fitted[0] + 6, fitted


def _fitted_psnr(target, images):
    magnitude = np.abs(images)
    return psnr(target, magnitude * np.sum(target * magnitude) / np.sum(magnitude**2))


def test_raw_scan_is_whitened_with_its_own_noise_scan_and_dwell_times(tmp_path):
    from csmri.io.ismrmrd import read_ismrmrd_raw
    from csmri.io.raw_convert import prewhiten_scan
    from tests.test_ismrmrd_raw import _write

    rng = np.random.default_rng(5)
    covariance = coil_noise_covariance(4, 0.6) * np.outer([1, 2, 1, 3], [1, 2, 1, 3])
    full = _noise(rng, covariance, (16, 16)).astype(np.complex64)
    noise = _noise(rng, covariance, (400,)).astype(np.complex64)
    lines = [(full[:, :, r], 8, r, 0, 0) for r in range(16)]
    _write(tmp_path / "raw.h5", lines, noise=[noise[:, :200], noise[:, 200:]])
    scan = read_ismrmrd_raw(tmp_path / "raw.h5")
    white, matrix = prewhiten_scan(scan)
    scale = bandwidth_scale(10.0, 5.0, 0.79)  # the writer's dwell times and bandwidth
    assert scale == pytest.approx(np.sqrt(2 * 0.79))
    estimate = noise_covariance(white.noise)
    np.testing.assert_allclose(estimate, scale**2 * np.eye(4), atol=1e-4)
    np.testing.assert_allclose(white.kspace, whiten(scan.kspace, matrix, 1), rtol=1e-6)
    assert white.header["prewhitened"] and not scan.header.get("prewhitened")
    _write(tmp_path / "quiet.h5", lines)
    empty = read_ismrmrd_raw(tmp_path / "quiet.h5")
    with pytest.raises(InputError, match=r"quiet\.h5: no noise scan to prewhiten with"):
        prewhiten_scan(empty)
