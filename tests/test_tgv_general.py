"""TGV for any operator: the exact solver's minimum, brute force on SENSE, backends, stopping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from csmri.app.reconstruct import reconstruct
from csmri.app.sense import sense_reconstruct
from csmri.linop import Cartesian, Sense
from csmri.metrics import psnr
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.fft import fft2c
from csmri.solvers import CartesianFast, LeastSquares, tgv_ops
from csmri.solvers import tgv as reference
from csmri.solvers.tgv import TGV_RATIO, tgv_admm
from csmri.solvers.tgv_general import GeneralTGVADMM, tgv_general

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def cnoise(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def column_mask(w, rng, fraction=0.5):
    mask = rng.random(w) < fraction
    mask[w // 2 - 1 : w // 2 + 1] = True
    return mask


def sense_problem(h=12, w=10, coils=3, slices=1, seed=0, per_slice_maps=False):
    rng = np.random.default_rng(seed)
    mask = column_mask(w, rng, 0.4)
    maps = cnoise(rng, (slices, coils, h, w) if per_slice_maps else (coils, h, w))
    maps /= np.sqrt(np.sum(np.abs(maps) ** 2, axis=-3, keepdims=True))
    images = cnoise(rng, (slices, h, w))
    coil_images = images[:, None] * (maps if per_slice_maps else maps[None])
    kspace = (fft2c(coil_images) * mask).astype(np.complex64)
    return kspace, mask, maps.astype(np.complex64)


def test_torch_operators_equal_the_numpy_definitions():
    rng = np.random.default_rng(0)
    x, w, q = cnoise(rng, (2, 7, 6)), cnoise(rng, (2, 2, 7, 6)), cnoise(rng, (3, 2, 7, 6))
    for name, arg in (("grad", x), ("sym_grad", w), ("sym_grad_adjoint", q)):
        expected = getattr(reference, name)(arg)
        mine = "gradient" if name == "grad" else name
        np.testing.assert_allclose(getattr(tgv_ops, mine)(arg), expected, rtol=1e-6)
        got = getattr(tgv_ops, mine)(torch.from_numpy(arg)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    p = cnoise(rng, (2, 2, 7, 6))
    gx = tgv_ops.gradient(torch.from_numpy(x)).numpy()
    adjoint = tgv_ops.gradient_adjoint(torch.from_numpy(p)).numpy()
    assert np.vdot(gx, p) == pytest.approx(np.vdot(x, adjoint), rel=1e-12)


@pytest.mark.parametrize("reweights", [0, 2])
def test_it_follows_the_exact_solver_on_single_coil_data(reweights):
    # Eliminating w is exact, so with the Cartesian operator's exact normal solve the
    # iterates are those of the fused 3 x 3 solver, reweightings included.
    rng = np.random.default_rng(1)
    h, w = 14, 12
    mask = column_mask(w, rng)
    kspace = (fft2c(cnoise(rng, (2, h, w))) * mask).astype(np.complex64)
    lam, rho, iters = 0.05, 0.3, 300
    exact, (he, _) = tgv_admm(CartesianFast(kspace, mask), lam, iters, rho=rho, reweights=reweights)
    data = LeastSquares(Cartesian(mask, (h, w)), kspace)
    general, (hg, _) = tgv_general(data, lam, iters, rho=rho, reweights=reweights)
    np.testing.assert_allclose(hg.objective, he.objective, rtol=2e-5)
    np.testing.assert_allclose(general, exact, atol=2e-5 * np.abs(exact).max())


def test_cg_reaches_the_exact_solvers_minimum():
    # A one-coil SENSE operator of unit maps has no closed-form normal solve: CG throughout.
    rng = np.random.default_rng(2)
    h, w = 14, 12
    mask = column_mask(w, rng)
    kspace = (fft2c(cnoise(rng, (1, h, w))) * mask).astype(np.complex64)
    _, (exact,) = tgv_admm(CartesianFast(kspace, mask), 0.05, 600, rho=0.3)
    ones = np.ones((1, h, w), dtype=np.complex64)
    data = LeastSquares(Sense(ones, mask), kspace[:, None], cg_tol=1e-6, cg_iter=50)
    _, (cg,) = tgv_general(data, 0.05, 600, rho=0.3)
    assert len(cg.cg_residual) == 600 and max(cg.cg_residual) < 1e-5
    assert cg.objective[-1] == pytest.approx(exact.objective[-1], rel=1e-5)


def tgv_objective_torch(z, shape, maps, mask, y, lam):
    """The TGV objective of real unknowns ``z`` (x, w), norms smoothed by 1e-8."""
    n = int(np.prod(shape))
    c = torch.complex(z[: 3 * n], z[3 * n :])
    x, w = c[:n].reshape(shape), c[n:].reshape(2, *shape)
    k = torch.fft.fftshift(
        torch.fft.fft2(torch.fft.ifftshift(x[:, None] * maps, dim=(-2, -1)), norm="ortho"),
        dim=(-2, -1),
    )
    fit = 0.5 * (mask * k - y).abs().square().sum()

    def norm(f):
        return (f.abs().square().sum(0) + 1e-8).sqrt().sum()

    dx = tgv_ops.gradient(x) - w
    return fit + lam * (norm(dx) + TGV_RATIO * norm(tgv_ops.sym_grad(w)))


def test_sense_tgv_reaches_a_brute_force_minimum():
    kspace, mask, maps = sense_problem(6, 6, coils=3)
    lam, shape = 0.05, (1, 6, 6)
    data = LeastSquares(Sense(maps, mask), kspace, cg_tol=1e-7, cg_iter=50)
    images, (history,) = tgv_general(data, lam, max_iter=1500, rho=0.2)

    n = int(np.prod(shape))
    tmaps, tmask = torch.as_tensor(maps.astype(np.complex128)), torch.as_tensor(mask * 1.0)
    y = torch.as_tensor(kspace.astype(np.complex128))

    def smoothed(z):
        t = torch.tensor(z, requires_grad=True)
        value = tgv_objective_torch(t, shape, tmaps, tmask, y, lam)
        value.backward()
        return float(value.detach()), t.grad.numpy()

    start = Sense(maps.astype(np.complex128), mask).adjoint(kspace.astype(np.complex128))
    start = np.concatenate([start.ravel(), np.zeros(2 * n)])
    brute = minimize(smoothed, np.concatenate([start.real, start.imag]), jac=True,
                     method="L-BFGS-B", options={"maxiter": 5000, "ftol": 1e-13, "gtol": 1e-8})
    assert history.objective[-1] == pytest.approx(brute.fun, rel=1e-3)
    x_brute = (brute.x[:n] + 1j * brute.x[3 * n : 4 * n]).reshape(shape)
    assert np.linalg.norm(images - x_brute) / np.linalg.norm(x_brute) < 2e-2


def ramp_phantom(h=48, w=40, edges=False):
    yy, xx = np.mgrid[:h, :w] / w
    disc = ((yy - 0.6) ** 2 + (xx - 0.5) ** 2) < 0.16
    image = disc * (0.3 + 0.7 * xx + 0.3 * yy)
    if edges:
        image = image + 0.5 * ((np.abs(yy - 0.3) < 0.12) & (np.abs(xx - 0.3) < 0.12))
    return image[None]


def multicoil(image, coils=4, seed=0):
    rng = np.random.default_rng(seed)
    maps = birdcage_maps(image.shape[-2:], coils)
    mask = rng.random(image.shape[-1]) < 0.25
    mask[image.shape[-1] // 2 - 2 : image.shape[-1] // 2 + 2] = True
    noise = 0.01 * cnoise(rng, (1, coils, *image.shape[-2:]))
    return ((fft2c(image[:, None] * maps) + noise) * mask).astype(np.complex64), mask, maps


def best_psnr(image, kspace, mask, maps, reg):
    return max(
        psnr(image, np.abs(sense_reconstruct(kspace, mask, maps, reg=reg, lam=lam,
                                             max_iter=120).images))
        for lam in (0.001, 0.003, 0.01)
    )


def test_sense_tgv_beats_sense_tv_on_a_smooth_ramp_where_tv_staircases():
    image = ramp_phantom()
    kspace, mask, maps = multicoil(image)
    assert best_psnr(image, kspace, mask, maps, "tgv") > best_psnr(
        image, kspace, mask, maps, "tv") + 0.5


def test_sense_reweighted_tgv_descends_its_log_objective():
    image = ramp_phantom(edges=True)
    kspace, mask, maps = multicoil(image, seed=1)
    result = reconstruct(kspace, mask, reg="tgv-reweighted", lam=0.003, max_iter=400, maps=maps)
    objective = np.asarray(result.history[0].objective)  # reweights at 200 and 300
    assert objective[299] < objective[199] - 1e-4 * abs(objective[199])
    assert objective[-1] < objective[299]


@pytest.mark.parametrize("reweights", [0, 2])
def test_numpy_and_torch_agree(reweights):
    kspace, mask, maps = sense_problem(12, 10, coils=3, slices=2)
    results = {}
    for name, y in (("numpy64", kspace), ("numpy128", kspace.astype(np.complex128)),
                    ("torch64", torch.as_tensor(kspace)),
                    ("torch128", torch.as_tensor(kspace.astype(np.complex128)))):
        data = LeastSquares(Sense(maps, mask), y, cg_tol=1e-6, cg_iter=30)
        images, histories = tgv_general(data, 0.05, 40, rho=0.3, reweights=reweights)
        images = images.numpy() if torch.is_tensor(images) else images
        results[name] = images, np.array([h.objective for h in histories])
    # double precision: the generic NumPy path and torch are the same arithmetic
    np.testing.assert_allclose(results["numpy128"][0], results["torch128"][0], atol=1e-9)
    np.testing.assert_allclose(results["numpy128"][1], results["torch128"][1], rtol=1e-9)
    for name in ("numpy64", "torch64"):  # single precision (NumPy: the fused kernels)
        np.testing.assert_allclose(results[name][1], results["numpy128"][1], rtol=1e-4)
        scale = np.abs(results["numpy128"][0]).max()
        np.testing.assert_allclose(results[name][0], results["numpy128"][0], atol=1e-4 * scale)


@pytest.mark.parametrize("reg", ["tgv", "tgv-reweighted"])
def test_torch_single_coil_data_give_the_fused_numpy_result(reg):
    rng = np.random.default_rng(3)
    mask = column_mask(12, rng)
    kspace = (fft2c(cnoise(rng, (2, 14, 12))) * mask).astype(np.complex64)
    on_numpy = reconstruct(kspace, mask, reg=reg, lam=0.01, max_iter=40)
    on_torch = reconstruct(torch.as_tensor(kspace), mask, reg=reg, lam=0.01, max_iter=40)
    assert not on_numpy.history[0].cg_residual and not on_torch.history[0].cg_residual
    scale = np.abs(on_numpy.images).max()
    np.testing.assert_allclose(on_torch.images, on_numpy.images, atol=1e-4 * scale)


def test_a_tolerance_stops_each_slice_near_the_minimum():
    kspace, mask, maps = sense_problem(16, 14, coils=3, slices=2, per_slice_maps=True)
    loose = reconstruct(kspace, mask, reg="tgv", lam=0.05, tol=2e-3, max_iter=800, maps=maps)
    full = reconstruct(kspace, mask, reg="tgv", lam=0.05, max_iter=800, maps=maps)
    assert all(5 < n < 800 for n in loose.iterations), loose.iterations
    assert all(h.converged for h in loose.history)
    for h in full.history:
        assert h.objective[-1] < h.objective[0]
        assert h.cg_residual and max(h.cg_residual[1:]) < 1e-3
    error = np.linalg.norm(loose.images - full.images) / np.linalg.norm(full.images)
    assert error < 1e-2


def test_the_general_solver_keeps_state_per_slice():
    # Compaction drops finished slices: the rest continue as if solved alone.
    kspace, mask, maps = sense_problem(10, 8, coils=2, slices=3, per_slice_maps=True)
    data = LeastSquares(Sense(maps, mask), kspace)
    solver = GeneralTGVADMM(data, 0.05, 0.3, reweight_at={2})
    for _ in range(3):
        solver.step()
    solver.keep(np.array([2]))
    alone = GeneralTGVADMM(LeastSquares(Sense(maps[2:], mask), kspace[2:]), 0.05, 0.3, {2})
    for _ in range(3):
        alone.step()
    np.testing.assert_allclose(solver.step()["objective"], alone.step()["objective"], rtol=1e-6)


@CUDA
def test_sense_tgv_on_cuda_matches_the_cpu():
    kspace, mask, maps = sense_problem(32, 24, coils=4)
    cpu = reconstruct(kspace, mask, reg="tgv-reweighted", lam=0.01, max_iter=60, maps=maps)
    gpu = reconstruct(kspace, mask, reg="tgv-reweighted", lam=0.01, max_iter=60, maps=maps,
                      device="cuda")
    error = np.linalg.norm(gpu.images - cpu.images) / np.linalg.norm(cpu.images)
    assert error < 1e-3
