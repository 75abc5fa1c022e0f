"""ESPIRiT and fallback maps, SENSE data term and solvers, coil compression, BART agreement."""

import shutil
import subprocess

import numpy as np
import pytest

from csmri.app.sense import rss_zero_filled, sense_adjoint, sense_reconstruct
from csmri.errors import InputError
from csmri.io.images import shepp_logan
from csmri.linop import Sense
from csmri.metrics import psnr
from csmri.mri.coil_sim import birdcage_maps, coil_noise_covariance, simulate_multicoil
from csmri.mri.coils import compress_coils
from csmri.mri.espirit import calibration_region, espirit, lowres_maps
from tests.conftest import random_complex


@pytest.fixture(scope="module")
def sim():
    image = shepp_logan(64)
    return simulate_multicoil(image, coils=6, acceleration=3, center_fraction=0.25, seed=3)


def _agreement(true: np.ndarray, est: np.ndarray) -> np.ndarray:
    """``|<S_true(r), S_est(r)>|`` per pixel: 1 when equal up to a phase."""
    return np.abs(np.sum(np.conj(true) * est, axis=-3))


def test_birdcage_maps_are_rss_normalised_and_distinct():
    maps = birdcage_maps((20, 24), 8)
    np.testing.assert_allclose(np.sum(np.abs(maps) ** 2, axis=0), 1, atol=1e-5)
    # coil 0 sits at angle 0 (right, +x), coil 2 at 90 degrees (+y, bottom rows), coil 4 left
    peaks = [np.unravel_index(np.argmax(np.abs(maps[c])), maps[c].shape) for c in (0, 2, 4)]
    assert peaks[0][1] == 23 and peaks[1][0] == 19 and peaks[2][1] == 0


def test_correlated_noise_has_the_requested_covariance():
    cov = coil_noise_covariance(4, 0.5)
    assert np.all(np.linalg.eigvalsh(cov) > 0) and cov[0, 1] == 0.5 and cov[0, 2] == 0.25
    image = np.zeros((64, 64))
    image[32, 32] = 1e-3 / 1.0  # negligible signal; the noise sigma is relative to the maximum
    data = simulate_multicoil(image, coils=4, noise=1.0, correlation=0.5, seed=1)
    samples = data.kspace[0][:, data.mask].reshape(4, -1) / 1e-3
    measured = samples @ samples.conj().T / samples.shape[1]
    np.testing.assert_allclose(measured.real / measured[0, 0].real, cov, atol=0.05)


def test_espirit_recovers_true_maps_up_to_a_phase(sim):
    maps = espirit(sim.kspace, sim.mask).numpy()
    inside = sim.reference[0] > 0.1
    agreement = _agreement(sim.maps[0], maps[0])[inside]
    assert np.median(agreement) > 0.995 and agreement.min() > 0.9
    outside = sim.reference[0] == 0
    assert np.all(np.sum(np.abs(maps[0]) ** 2, axis=0)[~outside] <= 1 + 1e-4)


def test_power_iteration_matches_batched_eigh(sim):
    power = espirit(sim.kspace, sim.mask).numpy()
    exact = espirit(sim.kspace, sim.mask, eig_iter=0).numpy()
    kept = np.sum(np.abs(exact[0]) ** 2, axis=0) > 0
    assert np.array_equal(kept, np.sum(np.abs(power[0]) ** 2, axis=0) > 0)
    assert np.percentile(_agreement(exact[0], power[0])[kept], 1) > 0.99


def test_espirit_is_batched_and_deterministic(sim):
    two = np.concatenate([sim.kspace, sim.kspace[:, ::-1]])  # second slice: coils reversed
    batched = espirit(two, sim.mask).numpy()
    single = espirit(two[1:], sim.mask).numpy()
    np.testing.assert_allclose(batched[1], single[0], atol=1e-4)
    np.testing.assert_allclose(espirit(two[:1], sim.mask).numpy()[0], batched[0], atol=1e-4)


@pytest.mark.cuda
def test_espirit_gpu_matches_cpu(sim):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    cpu = espirit(sim.kspace, sim.mask).numpy()
    gpu = espirit(sim.kspace, sim.mask, device="cuda").cpu().numpy()
    np.testing.assert_allclose(gpu, cpu, atol=1e-3)


def test_small_calibration_is_refused_with_the_fallback_offered(sim):
    mask = np.zeros((64, 64), bool)
    mask[:, 29:36] = True
    assert calibration_region(mask) == (24, 7)
    with pytest.raises(InputError, match=r"need at least 10 centre lines.*--maps lowres"):
        espirit(sim.kspace * mask, mask)
    maps = lowres_maps(sim.kspace * mask, mask).numpy()
    inside = sim.reference[0] > 0.1
    assert np.median(_agreement(sim.maps[0], maps[0])[inside]) > 0.95


def test_sense_adjoint_is_the_operator_adjoint_and_rss_the_coil_rss(rng):
    maps = random_complex(rng, (2, 3, 9, 10))
    mask = rng.random((9, 10)) < 0.5
    kspace = random_complex(rng, (2, 3, 9, 10)) * mask
    np.testing.assert_allclose(
        sense_adjoint(kspace, maps), Sense(maps, mask).adjoint(kspace), atol=1e-4
    )
    coils = np.fft.fftshift(
        np.fft.ifft2(np.fft.ifftshift(kspace, axes=(-2, -1)), norm="ortho"), axes=(-2, -1)
    )
    np.testing.assert_allclose(
        rss_zero_filled(kspace), np.sqrt(np.sum(np.abs(coils) ** 2, axis=1)), rtol=1e-4
    )


@pytest.mark.parametrize(
    "reg,solver",
    [
        ("tv", "fista"),
        ("wavelet", "fista"),
        ("tv", "admm"),
        ("tv+wavelet", "admm"),
        ("tv-reweighted", "admm"),
    ],
)
def test_sense_cs_beats_the_adjoint_and_zero_filled(sim, reg, solver):
    result = sense_reconstruct(
        sim.kspace, sim.mask, sim.maps, reg=reg, solver=solver, lam=0.002, max_iter=40
    )
    objective = result.history[0].objective
    assert objective[-1] < objective[0]
    score = psnr(sim.reference, np.abs(result.images))
    assert score > psnr(sim.reference, np.abs(sense_adjoint(sim.kspace, sim.maps))) + 3
    assert score > psnr(sim.reference, rss_zero_filled(sim.kspace)) + 3


def test_fista_and_admm_reach_the_same_tv_objective():
    small = simulate_multicoil(
        shepp_logan(32), coils=4, acceleration=3, center_fraction=0.3, seed=2
    )
    args = (small.kspace, small.mask, small.maps)
    fista = sense_reconstruct(*args, reg="tv", solver="fista", lam=0.01, max_iter=200)
    admm = sense_reconstruct(*args, reg="tv", solver="admm", lam=0.01, max_iter=100)
    f, a = fista.history[0].objective[-1], admm.history[0].objective[-1]
    assert abs(f - a) / f < 5e-3


def test_coil_compression_keeps_the_signal(sim):
    kspace, maps = compress_coils(sim.kspace, 3, sim.maps)
    assert kspace.shape == (1, 3, 64, 64)
    energy = np.sum(np.abs(kspace) ** 2) / np.sum(np.abs(sim.kspace) ** 2)
    assert energy > 0.9
    full = sense_reconstruct(sim.kspace, sim.mask, sim.maps, lam=0.002, max_iter=30)
    small = sense_reconstruct(kspace, sim.mask, maps, lam=0.002, max_iter=30)
    assert psnr(sim.reference, np.abs(small.images)) > psnr(sim.reference, np.abs(full.images)) - 2


def _bart(*args):
    subprocess.run(["bart", *map(str, args)], check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("bart") is None, reason="BART is not installed")
def test_sense_with_csmri_maps_within_02_db_of_bart_ecalib_maps(tmp_path):
    from csmri.io.cfl import bart_to_coil_stack, coil_stack_to_bart, read_cfl, write_cfl

    data = simulate_multicoil(
        shepp_logan(96), coils=8, acceleration=4, center_fraction=0.25, seed=5, noise=0.002
    )
    write_cfl(tmp_path / "k", coil_stack_to_bart(data.kspace))
    _bart("ecalib", "-m1", "-c0.8", tmp_path / "k", tmp_path / "maps")
    bart_maps = bart_to_coil_stack(read_cfl(tmp_path / "maps"))
    ours = espirit(data.kspace, data.mask).numpy()
    scores = [
        psnr(
            data.reference,
            np.abs(sense_reconstruct(data.kspace, data.mask, maps, lam=0.002, max_iter=60).images),
        )
        for maps in (ours, bart_maps)
    ]
    assert abs(scores[0] - scores[1]) < 0.2, scores
