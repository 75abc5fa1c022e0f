"""TGV by Chambolle-Pock: the ADMM minima, its step bound, backends, stopping, reweighting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from csmri.linop import Cartesian, Sense
from csmri.mri.fft import fft2c
from csmri.solvers import CartesianFast, LeastSquares
from csmri.solvers.tgv import tgv_admm
from csmri.solvers.tgv_general import tgv_general
from csmri.solvers.tgv_ops import gradient, gradient_adjoint, sym_grad, sym_grad_adjoint
from csmri.solvers.tgv_pdhg import regularizer_norm_sq, tgv_pdhg


def cnoise(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def sense_problem(h=14, w=12, coils=3, slices=2, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random(w) < 0.4
    mask[w // 2 - 1 : w // 2 + 1] = True
    maps = cnoise(rng, (coils, h, w))
    maps /= np.sqrt(np.sum(np.abs(maps) ** 2, axis=0))
    kspace = fft2c(cnoise(rng, (slices, 1, h, w)) * maps) * mask
    return kspace.astype(np.complex64), mask, maps.astype(np.complex64)


def test_the_step_bound_is_the_norm_of_the_regulariser_operator():
    shape = (9, 8)
    rng = np.random.default_rng(0)
    x, w = cnoise(rng, shape), cnoise(rng, (2, *shape))
    for _ in range(300):  # power iteration on K_reg^H K_reg
        r = gradient(x) - w
        x, w = gradient_adjoint(r), sym_grad_adjoint(sym_grad(w)) - r
        norm = np.sqrt(np.vdot(x, x).real + np.vdot(w, w).real)
        x, w = x / norm, w / norm
    bound = regularizer_norm_sq(shape)
    assert norm <= bound * (1 + 1e-9)
    assert norm == pytest.approx(bound, rel=1e-3)


def test_it_reaches_the_exact_single_coil_minimum():
    rng = np.random.default_rng(1)
    mask = rng.random(12) < 0.5
    mask[5:7] = True
    kspace = (fft2c(cnoise(rng, (1, 14, 12))) * mask).astype(np.complex64)
    _, (exact,) = tgv_admm(CartesianFast(kspace, mask), 0.05, 3000, rho=0.3)
    _, (pd,) = tgv_pdhg(LeastSquares(Cartesian(mask, (14, 12)), kspace), 0.05, 3000)
    assert pd.objective[-1] == pytest.approx(exact.objective[-1], rel=1e-5)


def test_it_reaches_the_sense_admm_minimum_and_stops_there_on_tolerance():
    kspace, mask, maps = sense_problem()
    data = LeastSquares(Sense(maps, mask), kspace, cg_tol=1e-7, cg_iter=60)
    _, admm_runs = tgv_general(data, 0.05, 2000, rho=0.3)
    _, full = tgv_pdhg(LeastSquares(Sense(maps, mask), kspace), 0.05, 3000)
    _, loose = tgv_pdhg(LeastSquares(Sense(maps, mask), kspace), 0.05, 3000, tol=1e-3)
    for a, f, lo in zip(admm_runs, full, loose, strict=True):
        assert f.objective[-1] == pytest.approx(a.objective[-1], rel=1e-5)
        assert lo.converged and 50 < lo.iterations < 3000
        assert lo.objective[-1] == pytest.approx(a.objective[-1], rel=1e-3)


def test_numpy_and_torch_agree_with_reweighting():
    kspace, mask, maps = sense_problem()
    runs = {}
    for name, y in (("numpy", kspace.astype(np.complex128)),
                    ("torch", torch.as_tensor(kspace.astype(np.complex128)))):
        images, histories = tgv_pdhg(LeastSquares(Sense(maps, mask), y), 0.05, 60, reweights=2)
        runs[name] = (images.numpy() if torch.is_tensor(images) else images,
                      np.array([h.objective for h in histories]))
    np.testing.assert_allclose(runs["torch"][0], runs["numpy"][0], atol=1e-9)
    np.testing.assert_allclose(runs["torch"][1], runs["numpy"][1], rtol=1e-9)


def test_each_reweighting_lowers_the_log_objective():
    kspace, mask, maps = sense_problem(slices=1, seed=2)
    _, (h,) = tgv_pdhg(LeastSquares(Sense(maps, mask), kspace), 0.05, 2000, reweights=2)
    objective = np.asarray(h.objective)  # reweights at 1000 and 1500
    assert objective[1499] < objective[999] - 1e-4 * abs(objective[999])
    assert objective[-1] < objective[1499]
