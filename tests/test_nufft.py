"""The NUFFT operators: adjointness, the direct DFT, BART, both backends, Toeplitz."""

import shutil
import subprocess

import numpy as np
import pytest

from csmri.io.cfl import read_cfl, write_cfl
from csmri.linop import CoilMaps, adjointness_test
from csmri.linop.nufft import NUFFT, SenseNUFFT
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.fft import fft2c
from csmri.mri.trajectories import radial

torch = pytest.importorskip("torch")
H, W = 16, 12


def random_traj(seed: int, shape=(10, 6), h=H, w=W) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kx = rng.uniform(-h / 2, h / 2, shape)
    ky = rng.uniform(-w / 2, w / 2, shape)
    return np.stack([kx, ky, np.zeros(shape)])


def direct_dft(image: np.ndarray, traj: np.ndarray) -> np.ndarray:
    """``1/sqrt(HW) sum_r x(r) exp(-2 pi i k.r/N)``, ``r`` centred at ``N // 2``, by brute force."""
    h, w = image.shape
    rx = np.arange(h) - h // 2
    ry = np.arange(w) - w // 2
    kx, ky = traj[0].ravel(), traj[1].ravel()
    phase = np.exp(-2j * np.pi * (kx[:, None, None] * rx[:, None] / h
                                  + ky[:, None, None] * ry[None, :] / w))
    return (phase * image).sum((1, 2)).reshape(traj.shape[1:]) / np.sqrt(h * w)


def test_nufft_adjoint_is_exact_in_double_precision():
    op = NUFFT(random_traj(0), (H, W))
    assert adjointness_test(op, batch=(3,)) < 1e-10
    assert adjointness_test(op, batch=(2,), like=torch.zeros(1, dtype=torch.complex128)) < 1e-12


def test_nufft_adjoint_in_single_precision():
    op = NUFFT(random_traj(1), (H, W))
    assert adjointness_test(op, like=np.zeros(1, np.complex64)) < 1e-5


def test_nufft_matches_the_direct_dft_on_both_backends(rng):
    traj = random_traj(2)
    image = rng.standard_normal((H, W)) + 1j * rng.standard_normal((H, W))
    exact = direct_dft(image, traj)
    op = NUFFT(traj, (H, W))
    assert op.forward(image).shape == traj.shape[1:]
    np.testing.assert_allclose(op.forward(image), exact, atol=1e-10 * np.abs(exact).max())
    tensor = op.forward(torch.tensor(image)).numpy()
    # torchkbnufft's Kaiser-Bessel interpolation is accurate to about 1e-3.
    assert np.abs(tensor - exact).max() < 3e-3 * np.abs(exact).max()


def test_nufft_on_the_cartesian_grid_is_fft2c(rng):
    grid = np.stack(np.meshgrid(np.arange(H) - H // 2, np.arange(W) - W // 2, indexing="ij"))
    image = rng.standard_normal((2, H, W)) + 1j * rng.standard_normal((2, H, W))
    np.testing.assert_allclose(NUFFT(grid, (H, W)).forward(image), fft2c(image), atol=1e-10)


def test_toeplitz_normal_equals_the_nufft_pair(rng):
    traj = random_traj(3, (40, 8))
    image = rng.standard_normal((2, H, W)) + 1j * rng.standard_normal((2, H, W))
    op = NUFFT(traj, (H, W), toeplitz=True)
    pair = op.adjoint(op.forward(image))
    np.testing.assert_allclose(op.normal(image), pair, atol=1e-10 * np.abs(pair).max())
    tensor = op.normal(torch.tensor(image)).numpy()
    np.testing.assert_allclose(tensor, pair, atol=1e-10 * np.abs(pair).max())


def test_weighted_toeplitz_normal_is_a_h_d_a(rng):
    traj = random_traj(4)
    weights = rng.uniform(0.1, 2.0, traj.shape[1:])
    image = rng.standard_normal((H, W)) + 1j * rng.standard_normal((H, W))
    op = NUFFT(traj, (H, W), weights=weights)
    expected = op.adjoint(weights * op.forward(image))
    np.testing.assert_allclose(op.normal(image), expected, atol=1e-10 * np.abs(expected).max())


def test_sense_nufft_is_nufft_of_each_coil_image(rng):
    maps = birdcage_maps((H, W), 4)
    traj = random_traj(5)
    op = SenseNUFFT(maps, traj)
    assert op.oshape == (4, *traj.shape[1:])
    assert adjointness_test(op, batch=(2,)) < 1e-10
    image = rng.standard_normal((H, W)) + 1j * rng.standard_normal((H, W))
    expected = NUFFT(traj, (H, W)).forward(CoilMaps(maps).forward(image))
    np.testing.assert_allclose(op.forward(image), expected, atol=1e-12)
    pair = op.adjoint(op.forward(image))
    np.testing.assert_allclose(op.normal(image), pair, atol=1e-9 * np.abs(pair).max())


def test_trajectory_beyond_the_grid_is_refused():
    traj = random_traj(6)
    traj[0, 0, 0] = H / 2 + 0.5
    with pytest.raises(ValueError, match="> 8"):
        NUFFT(traj, (H, W))


def test_nufft_is_differentiable_through_data_consistency_steps():
    """gradcheck through three unrolled gradient steps x <- x - t A^H (A x - y)."""
    traj = random_traj(7, (6, 4), 8, 8)
    op = NUFFT(traj, (8, 8), toeplitz=False)
    rng = np.random.default_rng(0)
    y = torch.tensor(rng.standard_normal(traj.shape[1:]) + 1j * rng.standard_normal(traj.shape[1:]))

    def unrolled(x):
        for _ in range(3):
            x = x - 0.3 * op.adjoint(op.forward(x) - y)
        return x

    x0 = torch.tensor(rng.standard_normal((8, 8)) + 0j, requires_grad=True)
    assert torch.autograd.gradcheck(unrolled, (x0,), eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.bart
@pytest.mark.skipif(shutil.which("bart") is None, reason="BART not installed")
def test_nufft_agrees_with_bart_nufft(tmp_path, rng):
    """Same units and scaling as ``bart nufft`` (periodic ``-P``, BART's accuracy ~1e-3)."""
    traj = random_traj(8, (12, 5))
    image = (rng.standard_normal((H, W)) + 1j * rng.standard_normal((H, W))).astype(np.complex64)
    write_cfl(tmp_path / "traj", traj.astype(np.complex64))
    write_cfl(tmp_path / "img", image)
    subprocess.run(["bart", "nufft", "-P", tmp_path / "traj", tmp_path / "img", tmp_path / "ksp"],
                   check=True, capture_output=True)
    bart = read_cfl(tmp_path / "ksp").reshape(traj.shape[1:])
    ours = NUFFT(traj, (H, W)).forward(image)
    assert np.abs(ours - bart).max() < 5e-3 * np.abs(bart).max()
    # The adjoint too: BART's -a with the image size.
    write_cfl(tmp_path / "ksp2", ours.astype(np.complex64)[None])
    subprocess.run(["bart", "nufft", "-P", "-a", "-d", f"{H}:{W}:1", tmp_path / "traj",
                    tmp_path / "ksp2", tmp_path / "adj"], check=True, capture_output=True)
    adjoint = NUFFT(traj, (H, W)).adjoint(ours)
    assert np.abs(read_cfl(tmp_path / "adj") - adjoint).max() < 5e-3 * np.abs(adjoint).max()


@pytest.mark.bart
@pytest.mark.skipif(shutil.which("bart") is None, reason="BART not installed")
def test_radial_trajectory_is_bart_traj_scaled_by_half(tmp_path):
    n, spokes = 8, 5
    subprocess.run(["bart", "traj", "-r", "-x", str(2 * n), "-y", str(spokes), tmp_path / "t"],
                   check=True, capture_output=True)
    bart = read_cfl(tmp_path / "t").real * 0.5
    np.testing.assert_allclose(radial(n, spokes), bart, atol=1e-5)
