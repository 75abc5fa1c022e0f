"""3-D Cartesian: the readout split, plane-wise SENSE, and the Poisson-disc (ky, kz) masks."""

import numpy as np
import pytest

from csmri.app.recon3d import reconstruct_3d
from csmri.app.reconstruct import reconstruct
from csmri.errors import InputError, UsageError
from csmri.io.images import shepp_logan
from csmri.metrics import psnr
from csmri.mri.cartesian3d import readout_to_planes, volume_rss
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.fft import ifft2c
from csmri.mri.poisson import exclusion_radius, poisson_disc_mask, random_sequential_addition


def _centred_fftn(x: np.ndarray) -> np.ndarray:
    axes = (-3, -2, -1)
    return np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho"),
                           axes=axes)


@pytest.fixture(scope="module")
def volume():
    """A 16 x 32 x 32 phantom (Shepp-Logan in (x, y), smooth along z), 4 birdcage coils."""
    rng = np.random.default_rng(7)
    phantom = shepp_logan(32)[8:24]  # x, y
    profile = np.cos(np.linspace(-1.2, 1.2, 32)) ** 2
    truth = (phantom[:, :, None] * profile[None, None, :]).astype(np.complex64)  # x, y, z
    maps = birdcage_maps((32, 32), 4)[:, None]  # C, 1, Y, Z: constant along the readout
    coils = maps * truth[None]
    kspace = _centred_fftn(coils)
    kspace = kspace + 0.002 * (rng.standard_normal(kspace.shape)
                               + 1j * rng.standard_normal(kspace.shape))
    mask = poisson_disc_mask((32, 32), 4, calib=12, seed=3)
    return (kspace * mask).astype(np.complex64), mask, np.abs(truth)


def test_readout_split_equals_the_3d_inverse_fft(volume):
    kspace, _, _ = volume
    planes = readout_to_planes(kspace)
    direct = np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(kspace, axes=(1, 2, 3)),
                                          axes=(1, 2, 3), norm="ortho"), axes=(1, 2, 3))
    np.testing.assert_allclose(ifft2c(planes), direct.transpose(1, 0, 2, 3), atol=1e-5)


@pytest.mark.parametrize("solver", ["fista", "admm"])
def test_volume_solve_equals_solving_each_plane(volume, solver):
    """FISTA: the same up to float rounding (batched FFTs may round differently).  ADMM:
    batched CG runs until every plane of the chunk meets its tolerance, so a plane solved
    alone may stop its CG earlier (differences ~1e-4)."""
    kspace, mask, _ = volume
    result = reconstruct_3d(kspace, mask, lam=0.003, max_iter=10, chunk=5, solver=solver)
    planes = readout_to_planes(kspace)
    for x in (0, 7, 15):
        alone = reconstruct(planes[x], mask, lam=0.003, max_iter=10, maps=result.maps[x],
                            scale=result.scale, solver=solver)
        tol = (1e-5 if solver == "fista" else 1e-3) * np.abs(alone.images).max()
        np.testing.assert_allclose(result.images[x], alone.images[0], rtol=0, atol=tol)


def test_volume_reconstructs_better_than_zero_filled(volume):
    kspace, mask, truth = volume
    result = reconstruct_3d(kspace, mask, lam=0.003, max_iter=40)
    zero_filled = volume_rss(kspace)
    assert psnr(truth, np.abs(result.images)) > psnr(truth, zero_filled) + 3


def test_poisson_mask_is_deterministic_and_reaches_the_acceleration():
    first = poisson_disc_mask((64, 48), 5, calib=12, seed=11)
    np.testing.assert_array_equal(first, poisson_disc_mask((64, 48), 5, calib=12, seed=11))
    assert not np.array_equal(first, poisson_disc_mask((64, 48), 5, calib=12, seed=12))
    assert abs(first.size / first.sum() - 5) < 0.05 * 5
    assert first[26:38, 18:30].all()  # the calibration centre


def test_poisson_density_is_close_to_07_over_d_squared():
    """Saturated random sequential addition of discs: density ~ 0.7 / d(rho)^2 in every annulus."""
    shape = (200, 200)
    radius = exclusion_radius(shape, 3.0, 1.0)
    order = np.random.default_rng(0).permutation(radius.size)
    mask = random_sequential_addition(radius, order)
    rho = radius / 3.0 - 1.0
    for lo, hi in ((0.1, 0.3), (0.5, 0.7), (0.9, 1.1)):
        annulus = (rho > lo) & (rho < hi)
        assert mask[annulus].mean() * np.mean(radius[annulus] ** 2) == pytest.approx(0.7, rel=0.15)
    points = np.argwhere(mask)
    dist = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    r = radius[points[:, 0], points[:, 1]]
    np.fill_diagonal(dist, np.inf)
    assert np.all(dist >= np.minimum(r[:, None], r[None, :]))  # the Poisson-disc property


def test_bad_shapes_and_options_are_refused(volume):
    kspace, mask, _ = volume
    with pytest.raises(InputError, match="mask shape"):
        reconstruct_3d(kspace, mask[:-1])
    with pytest.raises(UsageError, match="acceleration"):
        poisson_disc_mask((16, 16), 1.0)
