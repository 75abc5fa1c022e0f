"""Non-Cartesian reconstruction: trajectories, density compensation, CS through the solvers."""

import numpy as np
import pytest

from csmri.app.noncartesian import gridding_reconstruction, reconstruct_noncartesian
from csmri.io.images import shepp_logan
from csmri.linop.nufft import NUFFT, SenseNUFFT
from csmri.metrics import psnr
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.density import gridded_density, pipe_menon
from csmri.mri.trajectories import (
    golden_increment,
    matrix_size,
    nyquist_spokes,
    radial,
    sample_count,
    spiral,
)

N = 32


def spoke_angles(traj: np.ndarray) -> np.ndarray:
    return np.arctan2(traj[0, -1], traj[1, -1])


@pytest.mark.parametrize("traj", [
    radial(N, 20), radial(N, 20, ordering="golden"), radial(N, 9, ordering="tiny-golden", tiny=7),
    spiral(N, 4), spiral(N, 6, alpha=2.0, seed=3),
])
def test_trajectories_stay_inside_the_grid_and_count_samples(traj):
    assert traj.shape[0] == 3 and np.all(traj[2] == 0)
    assert np.abs(traj[:2]).max() <= N / 2
    assert sample_count(traj) == traj.shape[1] * traj.shape[2]
    assert matrix_size(traj) == (N, N)


def test_golden_angle_spokes_advance_by_the_golden_angle():
    for tiny, degrees in ((1, 111.2461), (7, 23.6281)):
        traj = radial(N, 6, ordering="golden" if tiny == 1 else "tiny-golden", tiny=tiny)
        steps = np.diff(np.unwrap(spoke_angles(traj)))
        np.testing.assert_allclose(np.degrees(steps) % 360, degrees, atol=1e-3)
        assert np.degrees(golden_increment(tiny)) == pytest.approx(degrees, abs=1e-4)


def test_uniform_spokes_cover_half_a_turn_and_readout_is_twice_n():
    traj = radial(N, 8)
    assert traj.shape == (3, 2 * N, 8)
    np.testing.assert_allclose(np.diff(spoke_angles(traj) % np.pi), np.pi / 8, atol=1e-12)


def test_spiral_rotation_is_seeded():
    np.testing.assert_array_equal(spiral(N, 3, seed=5), spiral(N, 3, seed=5))
    assert not np.allclose(spiral(N, 3, seed=5), spiral(N, 3, seed=6))
    assert np.abs(spiral(N, 3)[:, -1]).max() == pytest.approx(N / 2)


def test_pipe_menon_flattens_the_gridded_density():
    traj = radial(N, nyquist_spokes(N))
    weights = pipe_menon(traj, (N, N))
    assert weights.shape == traj.shape[1:] and np.all(weights > 0)
    density = gridded_density(traj, (N, N), weights)
    k = np.arange(2 * N) / 2 - N / 2
    radius = np.hypot(*np.meshgrid(k, k, indexing="ij"))
    inside = density[radius < 0.8 * N / 2]
    assert inside.std() < 0.03 * inside.mean()
    assert inside.mean() == pytest.approx(1.0, abs=0.03)  # unit density: weights in pixel^2
    uncompensated = gridded_density(traj, (N, N), np.ones(traj.shape[1:]))[radius < 0.8 * N / 2]
    assert uncompensated.std() > 0.5 * uncompensated.mean()  # radial oversamples the centre


def test_gridding_of_a_nyquist_radial_scan_has_the_image_amplitude():
    image = shepp_logan(N).astype(np.complex128)
    traj = radial(N, nyquist_spokes(N))
    kspace = NUFFT(traj, (N, N)).forward(image)
    gridded = gridding_reconstruction(kspace, traj)[0]
    inside = np.abs(image) > 0.1
    ratio = np.abs(gridded)[inside].mean() / np.abs(image)[inside].mean()
    assert ratio == pytest.approx(1.0, abs=0.05)


@pytest.fixture(scope="module")
def radial_scan():
    image = shepp_logan(N).astype(np.complex128)
    traj = radial(N, 14, ordering="golden")
    return image, traj, NUFFT(traj, (N, N)).forward(image)


def test_tv_reconstruction_beats_gridding_on_undersampled_radial(radial_scan):
    image, traj, kspace = radial_scan
    gridded = gridding_reconstruction(kspace, traj)[0]
    recon = reconstruct_noncartesian(kspace, traj, reg="tv", lam=0.003, max_iter=60)
    assert recon.images.shape == (1, N, N)
    assert psnr(np.abs(image), np.abs(recon.images[0])) > psnr(np.abs(image), np.abs(gridded)) + 6


@pytest.mark.parametrize("reg", ["wavelet", "tv+wavelet", "tv-reweighted"])
def test_other_regularisers_beat_gridding(radial_scan, reg):
    image, traj, kspace = radial_scan
    gridded = gridding_reconstruction(kspace, traj)[0]
    recon = reconstruct_noncartesian(kspace, traj, reg=reg, lam=0.003, max_iter=40, solver="admm")
    assert psnr(np.abs(image), np.abs(recon.images[0])) > psnr(np.abs(image), np.abs(gridded)) + 3


def test_multicoil_reconstruction_with_simulated_maps(radial_scan):
    image, traj, _ = radial_scan
    maps = birdcage_maps((N, N), 4)
    kspace = SenseNUFFT(maps, traj).forward(image)
    gridded = gridding_reconstruction(kspace, traj, maps=maps)[0]
    recon = reconstruct_noncartesian(kspace, traj, maps=maps, reg="tv", lam=0.003, max_iter=60)
    assert psnr(np.abs(image), np.abs(recon.images[0])) > psnr(np.abs(image), np.abs(gridded)) + 6


def test_numpy_and_torch_reach_the_same_solution(radial_scan):
    pytest.importorskip("torch")
    _, traj, kspace = radial_scan
    kwargs = {"reg": "tv", "lam": 0.003, "max_iter": 30, "cg_iter": 20}  # CG to its tolerance
    host = reconstruct_noncartesian(kspace, traj, **kwargs)
    import torch

    tensor = reconstruct_noncartesian(torch.tensor(kspace), traj, **kwargs)
    # Same Toeplitz kernel and A^H y (finufft): only float32 rounding and the torch prox differ.
    assert tensor.history[0].objective[-1] == pytest.approx(host.history[0].objective[-1], rel=1e-3)
    gap = np.linalg.norm(tensor.images - host.images) / np.linalg.norm(host.images)
    assert gap < 5e-3


def test_tgv_on_radial_data_beats_gridding(radial_scan):
    image, traj, kspace = radial_scan
    gridded = gridding_reconstruction(kspace, traj)[0]
    recon = reconstruct_noncartesian(kspace, traj, reg="tgv", lam=0.003, max_iter=40)
    assert psnr(np.abs(image), np.abs(recon.images[0])) > psnr(np.abs(image), np.abs(gridded)) + 3
