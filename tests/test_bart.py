"""csmri against BART's ``pics`` on a shared, even-sized problem."""

from __future__ import annotations

import numpy as np
import pytest

from csmri.app.bart import bart_executable, bart_pics
from csmri.app.reconstruct import reconstruct
from csmri.io.images import load_sample
from csmri.linop import Cartesian
from csmri.metrics import psnr
from csmri.mri.fft import fft2c
from csmri.mri.simulate import simulate
from csmri.regularizers.tv import tv_norm
from csmri.solvers import least_squares

pytestmark = [
    pytest.mark.bart,
    pytest.mark.skipif(bart_executable() is None, reason="BART ('bart') is not installed on PATH"),
]

LAM = 0.05


@pytest.fixture(scope="module")
def shared_problem():
    # Even size: BART's fftmod centring equals our fftshift centring only for even sizes.
    images = load_sample()[5:6, 20:148, 10:138]
    return simulate(images, 4, 0.08, "random", seed=0, noise=0.005, phase=True)


def objective(sim, image: np.ndarray, scale: float) -> float:
    data = least_squares(Cartesian(sim.mask), (sim.kspace / scale).astype(np.complex64))
    x = (image / scale).astype(np.complex64)[np.newaxis]
    return float(data.value(data.forward(x))[0] + LAM * tv_norm(x)[0])


def test_isotropic_tv_matches_bart_pics_at_matched_lambda(shared_problem) -> None:
    sim = shared_problem
    ours = reconstruct(sim.kspace, sim.mask, reg="tv", lam=LAM, solver="admm", max_iter=100)
    scale = float(ours.scale[0])
    # -w passes our data scale, so BART's lambda is in exactly our units.
    theirs = bart_pics(sim.kspace, reg="tv", lam=LAM, iterations=100, scale=scale)
    p_ours = psnr(sim.target, np.abs(ours.images))
    p_bart = psnr(sim.target, np.abs(theirs.images))
    assert abs(p_ours - p_bart) < 0.3, (p_ours, p_bart)
    # Same objective definition: ours is at least as low (BART's ADMM converges slower).
    assert objective(sim, ours.images[0], scale) <= objective(sim, theirs.images[0], scale) * (
        1 + 1e-3
    )


def test_bart_wrapper_round_trips_layout(shared_problem) -> None:
    # With lambda ~ 0 and full sampling, pics returns the image: checks axes and FFT convention.
    image = shared_problem.target[0] * np.exp(1j * np.linspace(0, 1, 128))[None, :]
    kspace = fft2c(image.astype(np.complex64))
    result = bart_pics(kspace, reg="tv", lam=1e-9, iterations=50)
    np.testing.assert_allclose(result.images[0], image, atol=2e-3 * np.abs(image).max())
    assert len(result.wall) == 1 and result.wall[0] > 0
