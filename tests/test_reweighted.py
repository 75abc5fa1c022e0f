"""Reweighted TV: its prox by brute force, the majoriser, the schedule, ADMM, and why it exists."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from csmri.app.reconstruct import reconstruct
from csmri.app.sense import sense_reconstruct
from csmri.errors import UsageError
from csmri.io.images import shepp_logan
from csmri.linop import Cartesian
from csmri.metrics import psnr
from csmri.mri.coil_sim import simulate_multicoil
from csmri.mri.simulate import simulate
from csmri.regularizers import TotalVariation, make_terms
from csmri.regularizers.reweighted import ReweightedTV
from csmri.regularizers.tv import real_view
from csmri.solvers import admm, least_squares


def cfield(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_weighted_shrink_is_the_prox_of_the_weighted_group_norm_by_brute_force():
    rng = np.random.default_rng(0)
    reg = ReweightedTV((3, 4), eps=1.0)
    v = cfield(rng, (2, 1, 3, 4))
    reg.update_weights(cfield(rng, (2, 1, 3, 4)))
    threshold = 2.0
    z = reg.shrink(v, np.array([threshold]))
    weights = reg.weights.astype(np.float64)
    v64 = v.astype(np.complex128)

    def objective(flat):  # 1/2 ||z - v||^2 + t sum_p w_p |z|_p, norms smoothed by 1e-12
        c = (flat[: v.size] + 1j * flat[v.size :]).reshape(v.shape)
        magnitude = np.sqrt((np.abs(c) ** 2).sum(0) + 1e-12)
        grad_norm = c / magnitude
        value = 0.5 * np.sum(np.abs(c - v64) ** 2) + threshold * np.sum(weights * magnitude)
        grad = (c - v64) + threshold * weights * grad_norm
        return value, np.concatenate([grad.real.ravel(), grad.imag.ravel()])

    start = np.zeros(2 * v.size)
    brute = minimize(objective, start, jac=True, method="L-BFGS-B",
                     options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    z_brute = (brute.x[: v.size] + 1j * brute.x[v.size :]).reshape(v.shape)
    np.testing.assert_allclose(z, z_brute, atol=2e-4)
    assert np.any(np.abs(z).sum(0) == 0) and np.any(np.abs(z).sum(0) > 0)  # both regimes seen


def test_the_weights_are_the_slope_of_a_majoriser_of_the_log_penalty():
    rng = np.random.default_rng(1)
    reg = ReweightedTV((5, 6), eps=0.3)
    current, other = cfield(rng, (2, 2, 5, 6)), cfield(rng, (2, 2, 5, 6))
    reg.update_weights(current)
    weights = reg.weights.astype(np.float64)

    def magnitudes(w):
        return np.sqrt((np.abs(w.astype(np.complex128)) ** 2).sum(0))

    np.testing.assert_allclose(weights, 0.3 / (0.3 + magnitudes(current)), rtol=1e-6)
    for candidate in (other, 0.5 * current, current + 0.01 * other):
        bound = reg.norm(current) + np.sum(
            weights * (magnitudes(candidate) - magnitudes(current)), axis=(-2, -1)
        )
        assert np.all(reg.norm(candidate) <= bound + 1e-9)
    expected = 0.3 * np.log1p(magnitudes(other) / 0.3).sum(axis=(-2, -1))
    np.testing.assert_allclose(reg.norm(other), expected, rtol=1e-6)


@pytest.mark.parametrize("reweighted", [False, True])
def test_the_fused_update_equals_the_numpy_update(reweighted):
    rng = np.random.default_rng(2)
    reg = ReweightedTV((6, 8), eps=0.5)
    x, u = cfield(rng, (2, 6, 8)), cfield(rng, (2, 2, 6, 8))
    if reweighted:
        reg.update_weights(cfield(rng, (2, 2, 6, 8)))
    thresholds = np.array([0.3, 0.8], dtype=np.float32)
    w = reg.analysis(x)
    z_expected = reg.shrink(w + u, thresholds)
    z, u_fused = np.empty_like(u), u.copy()
    views = real_view(x), real_view(u_fused), real_view(z)
    value, primal_sq = reg.fused_z_update(*views, thresholds)
    np.testing.assert_allclose(z, z_expected, atol=1e-5)
    np.testing.assert_allclose(u_fused, u + w - z_expected, atol=1e-5)
    np.testing.assert_allclose(value, reg.norm(w), rtol=1e-5)
    np.testing.assert_allclose(primal_sq, np.sum(np.abs(w - z_expected) ** 2, axis=(0, 2, 3)),
                               rtol=1e-4)


def test_the_schedule_halves_the_iterations_left():
    assert ReweightedTV((4, 4)).schedule(100) == {50, 75}
    assert ReweightedTV((4, 4), reweights=3).schedule(200) == {100, 150, 175}
    assert ReweightedTV((4, 4), reweights=0).schedule(100) == set()
    assert ReweightedTV((4, 4)).schedule(1) == set()
    with pytest.raises(UsageError):
        ReweightedTV((4, 4), eps=0.0)


def small_problem(size: int = 24, seed: int = 0):
    image = shepp_logan(size)
    sim = simulate(image, 3, 0.25, "random", seed, 0.01, True)
    y = sim.kspace / np.abs(np.fft.ifft2(sim.kspace)).max()
    return image, sim.mask, y.astype(np.complex64)


def test_without_reweighting_it_is_plain_tv_through_the_unfused_update():
    _, mask, y = small_problem()
    op = Cartesian(mask, y.shape[-2:])
    results = []
    for reg in (TotalVariation(y.shape[-2:]), ReweightedTV(y.shape[-2:], reweights=0)):
        data = least_squares(op, y, needs_solve=True)
        images, _ = admm(data, reg, lam=0.01, max_iter=60, adaptive=False)
        results.append(images)
    np.testing.assert_allclose(results[1], results[0], rtol=0, atol=1e-4 * np.abs(results[0]).max())


def test_each_reweighting_lowers_the_log_objective():
    _, mask, y = small_problem()
    data = least_squares(Cartesian(mask, y.shape[-2:]), y, needs_solve=True)
    terms = make_terms("tv-reweighted", y.shape[-2:], 0.02)
    _, (history,) = admm(data, terms, max_iter=900)  # reweights at 450 and 675
    objective = np.asarray(history.objective)
    # The objective is 1/2||Ax - y||^2 + lam L(x) throughout; before the first update ADMM
    # minimises TV instead, and each weighted problem majorises L at its start.
    assert objective[674] < objective[449] - 1e-4 * abs(objective[449])
    assert objective[-1] < objective[674]


def test_it_recovers_a_piecewise_constant_image_better_than_tv():
    image = shepp_logan(64)
    sim = simulate(image, 4, 0.08, "random", 0, 0.005, True)
    best = {}
    for reg in ("tv", "tv-reweighted"):
        best[reg] = max(
            psnr(sim.target, np.abs(reconstruct(sim.kspace, sim.mask, reg=reg, lam=lam).images))
            for lam in (0.001, 0.003, 0.01)
        )
    assert best["tv-reweighted"] > best["tv"] + 1.0


def test_with_coil_maps_it_also_beats_tv_on_a_phantom():
    sim = simulate_multicoil(shepp_logan(64), coils=6, acceleration=4, center_fraction=0.1, seed=3)
    best = {
        reg: max(
            psnr(sim.reference, np.abs(sense_reconstruct(
                sim.kspace, sim.mask, sim.maps, reg=reg, lam=lam, max_iter=60).images))
            for lam in (0.001, 0.003)
        )
        for reg in ("tv", "tv-reweighted")
    }
    assert best["tv-reweighted"] > best["tv"] + 0.5


@pytest.mark.parametrize("reg", ["tv-reweighted", "tgv-reweighted"])
def test_a_tolerance_never_stops_before_the_last_reweighting(reg):
    _, mask, y = small_problem()
    result = reconstruct(y, mask, reg=reg, lam=0.01, tol=0.9, max_iter=100)
    assert result.iterations == [75]  # converged at once, but only after the update at 75


def test_it_needs_admm():
    _, mask, y = small_problem()
    with pytest.raises(UsageError, match="admm"):
        reconstruct(y, mask, reg="tv-reweighted", solver="fista")


def test_the_torch_backend_gives_the_numpy_result():
    _, mask, y = small_problem()
    on_numpy = reconstruct(y, mask, reg="tv-reweighted", lam=0.01, max_iter=40).images
    on_torch = reconstruct(torch.as_tensor(y), mask, reg="tv-reweighted", lam=0.01, max_iter=40)
    np.testing.assert_allclose(on_torch.images, on_numpy, atol=1e-4 * np.abs(on_numpy).max())
