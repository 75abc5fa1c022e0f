"""TGV: operators and their adjoints, the exact (x, w) update, brute force, and why it exists."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from csmri.app.reconstruct import reconstruct
from csmri.errors import UsageError
from csmri.metrics import psnr
from csmri.mri.fft import fft2c
from csmri.regularizers.tv import divergence_adjoint as grad_adjoint
from csmri.solvers import CartesianFast
from csmri.solvers.tgv import (
    TGV_RATIO,
    TGVADMM,
    grad,
    group_norms,
    group_shrink,
    multipliers,
    sym_grad,
    sym_grad_adjoint,
    tgv_admm,
)


def cnoise(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex128)


def test_operators_are_the_adjoints_of_each_other():
    rng = np.random.default_rng(0)
    x, p = cnoise(rng, (2, 7, 6)), cnoise(rng, (2, 2, 7, 6))
    w, q = cnoise(rng, (2, 2, 7, 6)), cnoise(rng, (3, 2, 7, 6))
    assert np.vdot(grad(x), p) == pytest.approx(np.vdot(x, grad_adjoint(p)), rel=1e-12)
    assert np.vdot(sym_grad(w), q) == pytest.approx(np.vdot(w, sym_grad_adjoint(q)), rel=1e-12)


def test_fourier_multipliers_are_the_difference_operators():
    rng = np.random.default_rng(1)
    x = cnoise(rng, (7, 6))
    fv, fh, bv, bh = multipliers((7, 6))
    np.testing.assert_allclose(np.fft.fft2(grad(x)[0]), fv * np.fft.fft2(x), atol=1e-10)
    np.testing.assert_allclose(np.fft.fft2(grad(x)[1]), fh * np.fft.fft2(x), atol=1e-10)
    w = cnoise(rng, (2, 7, 6))
    e = sym_grad(w)
    np.testing.assert_allclose(np.fft.fft2(e[0]), bv * np.fft.fft2(w[0]), atol=1e-10)
    np.testing.assert_allclose(np.fft.fft2(e[1]), bh * np.fft.fft2(w[1]), atol=1e-10)


def problem(h=12, w=10, slices=1, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random(w) < 0.5
    mask[w // 2 - 1 : w // 2 + 1] = True
    kspace = (fft2c(cnoise(rng, (slices, h, w))) * mask).astype(np.complex64)
    return CartesianFast(kspace, mask), kspace, mask


def test_the_joint_update_solves_its_normal_equations():
    data, _, _ = problem()
    rng = np.random.default_rng(2)
    solver = TGVADMM(data, lam=0.1, rho=0.7)
    solver.p, solver.u = cnoise(rng, solver.p.shape), cnoise(rng, solver.u.shape)
    solver.q, solver.v = cnoise(rng, solver.q.shape), cnoise(rng, solver.v.shape)
    x, w, _ = solver._solve()
    a, b = solver.p - solver.u, solver.q - solver.v
    # A^H (A x - y) in the uncentred basis the data term uses
    data_gradient = np.fft.ifft2(data.mask * np.fft.fft2(x, norm="ortho") - data.y, norm="ortho")
    r = grad(x) - w - a
    np.testing.assert_allclose(data_gradient + 0.7 * grad_adjoint(r), 0, atol=1e-4)
    np.testing.assert_allclose(-0.7 * r + 0.7 * sym_grad_adjoint(sym_grad(w) - b), 0, atol=1e-4)


def log_penalty(field, eps):
    return eps * np.log1p(field / eps).sum(axis=(-2, -1))


def reference_step(solver):
    """One iteration written with the NumPy operators (what the fused kernels must equal)."""
    a, b = solver.p - solver.u, solver.q - solver.v
    rhs = solver.rho * np.concatenate([grad_adjoint(a)[None], sym_grad_adjoint(b) - a])
    spectra = np.fft.fft2(rhs, norm="ortho")
    spectra[0] += solver.data.y
    solution = np.einsum("ijhw,jshw->ishw", solver.inverse, spectra)
    images = np.fft.ifft2(solution, norm="ortho")
    x, w = images[0], images[1:]
    gx, ew = grad(x) - w, sym_grad(w)
    t = np.full(len(x), solver.lam / solver.rho)
    if solver.weights.size:  # reweighted: a threshold per pixel, scaled by its weight
        tp = t[:, None, None] * solver.weights[0]
        tq = TGV_RATIO * t[:, None, None] * solver.weights[1]
        p, q = (f * np.maximum(1 - tt / np.maximum(group_norms(f), 1e-30), 0)
                for f, tt in ((gx + solver.u, tp), (ew + solver.v, tq)))
    else:
        p, q = group_shrink(gx + solver.u, t), group_shrink(ew + solver.v, TGV_RATIO * t)
    fit = 0.5 * np.sum(np.abs(solver.data.mask * solution[0] - solver.data.y) ** 2, axis=(-2, -1))
    if solver.eps > 0:
        reg = log_penalty(group_norms(gx), solver.eps)
        reg = reg + log_penalty(TGV_RATIO * group_norms(ew), solver.eps)
    else:
        reg = group_norms(gx).sum(axis=(-2, -1)) + TGV_RATIO * group_norms(ew).sum(axis=(-2, -1))
    return {"x": x, "w": w, "p": p, "q": q, "u": solver.u + gx - p, "v": solver.v + ew - q,
            "objective": fit + solver.lam * reg}


@pytest.mark.parametrize("reweighted", [False, True])
@pytest.mark.parametrize("shape", [(12, 10), (7, 9)])
def test_the_fused_iteration_equals_the_numpy_operators(shape, reweighted):
    data, _, _ = problem(*shape, slices=2)
    solver = TGVADMM(data, lam=0.05, rho=0.3, reweight_at={2} if reweighted else None, eps=0.5)
    for _ in range(3):
        solver.step()  # away from the zero start, so every term is active
    assert solver.weights.shape == ((2, 2, *shape) if reweighted else (0, 0, 0, 0))
    expected = reference_step(solver)
    stats = solver.step()
    for name in ("x", "w", "p", "q", "u", "v"):
        got = getattr(solver, name)
        np.testing.assert_allclose(got, expected[name], atol=2e-5 * np.abs(expected[name]).max())
    np.testing.assert_allclose(stats["objective"], expected["objective"], rtol=1e-4)


def objective(x, w, data, lam):
    k = np.fft.fft2(x, norm="ortho")
    fit = 0.5 * np.sum(np.abs(data.mask * k - data.y) ** 2)
    return fit + lam * (group_norms(grad(x) - w).sum() + TGV_RATIO * group_norms(sym_grad(w)).sum())


def test_admm_reaches_a_brute_force_minimum_on_a_tiny_problem():
    data, _, _ = problem(6, 5)
    lam, shape = 0.05, (1, 6, 5)
    images, histories = tgv_admm(data, lam, max_iter=1500, rho=0.2)
    admm_value = histories[0].objective[-1]

    n = int(np.prod(shape))
    mask, y = torch.as_tensor(data.mask), torch.as_tensor(data.y.astype(np.complex128))

    def torch_diff(a, axis, forward):
        return (torch.roll(a, -1, axis) - a) if forward else (a - torch.roll(a, 1, axis))

    def smoothed(z):  # (x, w) as real numbers, norms smoothed by 1e-4; value and gradient
        t = torch.tensor(z, requires_grad=True)
        c = torch.complex(t[: 3 * n], t[3 * n :])
        x, w = c[:n].reshape(shape), c[n:].reshape(2, *shape)
        k = torch.fft.fft2(x, norm="ortho")
        fit = 0.5 * (mask * k - y).abs().square().sum()
        dx = torch.stack([torch_diff(x, -2, True), torch_diff(x, -1, True)]) - w
        ew = torch.stack([torch_diff(w[0], -2, False), torch_diff(w[1], -1, False),
                          (torch_diff(w[0], -1, False) + torch_diff(w[1], -2, False)) / 2**0.5])

        def norm(f):
            return (f.abs().square().sum(0) + 1e-8).sqrt().sum()

        value = fit + lam * (norm(dx) + TGV_RATIO * norm(ew))
        value.backward()
        return float(value.detach()), t.grad.numpy()

    start = np.concatenate([np.fft.ifft2(data.y, norm="ortho").ravel(), np.zeros(2 * n)])
    z0 = np.concatenate([start.real, start.imag])
    brute = minimize(smoothed, z0, jac=True, method="L-BFGS-B",
                     options={"maxiter": 3000, "ftol": 1e-12, "gtol": 1e-7})
    assert admm_value == pytest.approx(brute.fun, rel=1e-3)
    x_brute = (brute.x[:n] + 1j * brute.x[3 * n : 4 * n]).reshape(shape)
    assert np.linalg.norm(images - x_brute) / np.linalg.norm(x_brute) < 2e-2


def test_tgv_beats_tv_on_a_smooth_ramp_where_tv_staircases():
    yy, xx = np.mgrid[:48, :40] / 40.0
    disc = ((yy - 0.6) ** 2 + (xx - 0.5) ** 2) < 0.16
    image = (disc * (0.3 + 0.7 * xx + 0.3 * yy))[None]
    rng = np.random.default_rng(0)
    mask = rng.random(40) < 0.3
    mask[18:22] = True
    noise = 0.01 * cnoise(rng, image.shape)
    kspace = (fft2c(image) + noise) * mask
    best = {}
    for reg in ("tv", "tgv"):
        scores = [
            psnr(image, np.abs(reconstruct(kspace, mask, reg=reg, lam=lam, max_iter=150).images))
            for lam in (0.001, 0.003, 0.01)
        ]
        best[reg] = max(scores)
    assert best["tgv"] > best["tv"] + 0.3


def test_reweighting_weights_each_term_by_the_slope_of_its_log_penalty():
    data, _, _ = problem(slices=2)
    solver = TGVADMM(data, lam=0.05, rho=0.3, reweight_at={1}, eps=0.2)
    rng = np.random.default_rng(4)
    x, w = cnoise(rng, solver.x.shape), cnoise(rng, solver.w.shape)
    solver.reweight(x, w)
    np.testing.assert_allclose(solver.weights[0], 0.2 / (0.2 + group_norms(grad(x) - w)), rtol=1e-5)
    second = TGV_RATIO * group_norms(sym_grad(w))
    np.testing.assert_allclose(solver.weights[1], 0.2 / (0.2 + second), rtol=1e-5)


def test_each_reweighting_lowers_the_log_tgv_objective():
    data, _, _ = problem(16, 14)
    _, (history,) = tgv_admm(data, 0.05, max_iter=900, reweights=2)  # reweights at 450, 675
    objective = np.asarray(history.objective)  # the log objective throughout
    assert objective[674] < objective[449] - 1e-4 * abs(objective[449])
    assert objective[-1] < objective[674]


def test_reweighted_tgv_beats_tgv_on_a_ramp_with_edges():
    yy, xx = np.mgrid[:48, :40] / 40.0
    disc = ((yy - 0.6) ** 2 + (xx - 0.5) ** 2) < 0.16
    square = (np.abs(yy - 0.3) < 0.12) & (np.abs(xx - 0.3) < 0.12)
    image = (disc * (0.3 + 0.7 * xx + 0.3 * yy) + 0.5 * square)[None]
    rng = np.random.default_rng(0)
    mask = rng.random(40) < 0.3
    mask[18:22] = True
    kspace = (fft2c(image) + 0.01 * cnoise(rng, image.shape)) * mask
    best = {}
    for reg in ("tgv", "tgv-reweighted"):
        best[reg] = max(
            psnr(image, np.abs(reconstruct(kspace, mask, reg=reg, lam=lam, max_iter=150).images))
            for lam in (0.001, 0.003, 0.01)
        )
    assert best["tgv-reweighted"] > best["tgv"] + 0.5


def test_a_tolerance_stops_tgv_at_convergence_not_at_the_zero_filled_start():
    # The first iteration reproduces the zero-filled start exactly (no change in x):
    # the residuals must keep it going.
    _, kspace, mask = problem(16, 14, slices=2)
    loose = reconstruct(kspace, mask, reg="tgv", lam=0.05, tol=2e-3, max_iter=1000)
    full = reconstruct(kspace, mask, reg="tgv", lam=0.05, max_iter=1000)
    assert all(5 < n < 1000 for n in loose.iterations), loose.iterations
    assert all(h.converged for h in loose.history)
    error = np.linalg.norm(loose.images - full.images) / np.linalg.norm(full.images)
    assert error < 3e-2


def test_tgv_needs_admm():
    _, kspace, mask = problem()
    with pytest.raises(UsageError, match="admm"):
        reconstruct(kspace, mask, reg="tgv", solver="fista")
    with pytest.raises(UsageError, match="admm"):
        reconstruct(kspace, mask, reg="tgv-reweighted", solver="fista")
