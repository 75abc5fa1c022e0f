"""Solvers on the operator layer: NumPy and torch agree, SENSE, sums of terms, CG, autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from csmri.app.reconstruct import reconstruct
from csmri.linop import Cartesian, Sense
from csmri.mri.fft import fft2c
from csmri.regularizers import TotalVariation, WaveletL1
from csmri.solvers import (
    CartesianColumns,
    CartesianFast,
    LeastSquares,
    admm,
    fista,
    ista,
    least_squares,
)

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def phantom(h: int, w: int, slices: int = 2, seed: int = 0) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    disc = ((yy - h / 2) ** 2 / (0.35 * h) ** 2 + (xx - w / 2) ** 2 / (0.4 * w) ** 2 < 1) * 1.0
    rng = np.random.default_rng(seed)
    images = disc + 0.05 * rng.standard_normal((slices, h, w))
    return images * np.exp(1j * 0.3 * xx / w)


def coil_maps(coils: int, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    centres = np.linspace(0, 2 * np.pi, coils, endpoint=False)
    maps = np.stack(
        [
            np.exp(-((yy - 0.5 - 0.4 * np.cos(c)) ** 2 + (xx - 0.5 - 0.4 * np.sin(c)) ** 2))
            for c in centres
        ]
    )
    maps = maps * np.exp(1j * np.arange(coils)[:, None, None] * xx)
    return maps / np.sqrt((np.abs(maps) ** 2).sum(0, keepdims=True))


def column_mask(w: int) -> np.ndarray:
    mask = np.zeros(w, bool)
    mask[::3] = True
    mask[w // 2 - 2 : w // 2 + 2] = True
    return mask


def single_coil(h: int = 16, w: int = 14, slices: int = 2):
    mask = column_mask(w)
    return Cartesian(mask), fft2c(phantom(h, w, slices)) * mask


def sense(h: int = 16, w: int = 14, slices: int = 2, coils: int = 4):
    op = Sense(coil_maps(coils, h, w), column_mask(w))
    return op, op.forward(phantom(h, w, slices))


def as_torch(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.complex128))


def run(solver, op, y, reg, lam, **kwargs):
    return solver(least_squares(op, y), reg, lam, **kwargs)


def tv(shape):
    return TotalVariation(shape, isotropic=True, inner_iter=30)


def wavelet(shape):
    return WaveletL1(shape, "db2", 2, cycle_spin=False)


@pytest.mark.parametrize("problem", [single_coil, sense])
@pytest.mark.parametrize(
    ("solver", "make_reg", "kwargs"),
    [
        (fista, wavelet, {}),
        (fista, tv, {}),
        (admm, tv, {}),
        (admm, wavelet, {}),
        (ista, tv, {}),
    ],
)
def test_numpy_and_torch_reach_the_same_objective(problem, solver, make_reg, kwargs):
    op, y = problem()
    shape = y.shape[-2:]
    results = {}
    for name, data in [("numpy", y.astype(np.complex128)), ("torch", as_torch(y))]:
        images, histories = run(solver, op, data, make_reg(shape), 0.02, max_iter=60, **kwargs)
        results[name] = (np.asarray(images), [h.objective[-1] for h in histories])
        assert type(images) is type(data)
    np.testing.assert_allclose(results["numpy"][1], results["torch"][1], rtol=1e-9)
    np.testing.assert_allclose(results["numpy"][0], results["torch"][0], atol=1e-8)


@pytest.mark.parametrize(("solver", "make_reg"), [(fista, wavelet), (admm, tv), (admm, wavelet)])
def test_the_numpy_fast_path_equals_the_generic_operator_path(solver, make_reg):
    op, y = single_coil(slices=2)
    fast = least_squares(op, y.astype(np.complex64))
    generic = least_squares(op, y.astype(np.complex128))
    assert isinstance(fast, CartesianFast) and isinstance(generic, LeastSquares)
    shape = y.shape[-2:]
    _, hf = solver(fast, make_reg(shape), 0.02, max_iter=40)
    _, hg = solver(generic, make_reg(shape), 0.02, max_iter=40)
    for a, b in zip(hf, hg, strict=True):
        assert a.objective[-1] == pytest.approx(b.objective[-1], rel=1e-5)


@pytest.mark.parametrize("shape", [(8, 6), (7, 9)])
def test_the_column_data_term_equals_the_2d_one(shape):
    h, w = shape
    rng = np.random.default_rng(3)
    mask = np.zeros(w, bool)
    mask[[0, 2, w // 2, w - 1]] = True
    kspace = (rng.standard_normal((2, h, w)) + 1j * rng.standard_normal((2, h, w))) * mask
    kspace = kspace.astype(np.complex64)
    columns = least_squares(Cartesian(mask), kspace, needs_solve=False)
    plane = least_squares(Cartesian(mask), kspace)
    assert isinstance(columns, CartesianColumns) and type(plane) is CartesianFast
    x = (rng.standard_normal((2, h, w)) + 1j * rng.standard_normal((2, h, w))).astype(np.complex64)
    np.testing.assert_allclose(columns.value(columns.forward(x)), plane.value(plane.forward(x)),
                               rtol=1e-5)
    np.testing.assert_allclose(columns.gradient(columns.forward(x)),
                               plane.gradient(plane.forward(x)), atol=1e-5)
    np.testing.assert_allclose(columns.zero_filled(), plane.zero_filled(), atol=1e-6)
    for data in (columns, plane):  # a unit gradient step is data consistency
        k = data.forward(x)
        np.testing.assert_allclose(data.unit_step(k), x - data.gradient(k), atol=1e-5)
    with pytest.raises(NotImplementedError):
        columns.solve(x, np.ones(2), None)


def test_a_mask_that_is_not_made_of_columns_keeps_the_2d_data_term():
    rng = np.random.default_rng(4)
    mask = rng.random((6, 5)) < 0.5
    kspace = (rng.standard_normal((1, 6, 5)) * mask).astype(np.complex64)
    assert type(least_squares(Cartesian(mask), kspace, needs_solve=False)) is CartesianFast
    with pytest.raises(ValueError, match="whole columns"):
        CartesianColumns(kspace, mask)


@pytest.mark.parametrize("like", ["numpy", "torch"])
@pytest.mark.parametrize("with_gram", [False, True])
def test_cg_normal_solve_matches_a_dense_solve(like, with_gram):
    h, w = 6, 5
    op = Sense(coil_maps(3, h, w), column_mask(w))
    rng = np.random.default_rng(0)
    y = op.forward(rng.standard_normal((1, h, w)) + 1j * rng.standard_normal((1, h, w)))
    b = rng.standard_normal((1, h, w)) + 1j * rng.standard_normal((1, h, w))
    gram = TotalVariation((h, w)).gram if with_gram else None
    rho = np.array([0.7])
    data = LeastSquares(op, as_torch(y) if like == "torch" else y, cg_tol=1e-12, cg_iter=200)
    x, *_ = data.solve(as_torch(b) if like == "torch" else b, rho, gram)
    n = h * w
    basis = np.eye(n, dtype=complex).reshape(n, h, w)
    normal = np.stack([op.normal(e).ravel() for e in basis], axis=1)
    if gram is None:
        penalty = np.eye(n)
    else:
        penalty = np.stack(
            [np.fft.ifft2(np.fft.fft2(e) * np.fft.ifftshift(gram)).ravel() for e in basis], axis=1
        )
    rhs = op.adjoint(y)[0].ravel() + rho[0] * b[0].ravel()
    expected = np.linalg.solve(normal + rho[0] * penalty, rhs)
    np.testing.assert_allclose(np.asarray(x)[0].ravel(), expected, atol=1e-9)
    assert data.last_cg_residual[0] <= 1e-12


def test_sense_admm_with_cg_reaches_the_fista_optimum_and_reports_the_cg_residual():
    op, y = sense(h=12, w=10, slices=1, coils=3)
    shape = y.shape[-2:]
    _, hf = fista(least_squares(op, y), wavelet(shape), 0.02, max_iter=400)
    _, ha = admm(LeastSquares(op, y, cg_tol=1e-6, cg_iter=50), wavelet(shape), 0.02, max_iter=400)
    assert ha[0].objective[-1] == pytest.approx(hf[0].objective[-1], rel=1e-4)
    assert len(ha[0].cg_residual) == 400 and max(ha[0].cg_residual[-20:]) <= 1e-6


def sum_objective(op, y, x, terms):
    k = op.forward(x)
    return 0.5 * np.sum(np.abs(k - y) ** 2) + sum(
        lam * float(r.value(r.to_variable(x))[0]) for r, lam in terms
    )


@pytest.mark.parametrize("like", ["numpy", "torch"])
def test_a_sum_of_tv_and_wavelet_terms_is_minimised(like):
    op, y = single_coil(h=16, w=16, slices=1)
    shape = (16, 16)
    data = y if like == "numpy" else as_torch(y)
    terms = [(TotalVariation(shape), 0.01), (wavelet(shape), 0.01)]
    x, h = admm(least_squares(op, data), terms, max_iter=300)
    x = np.asarray(x)
    best = sum_objective(op, y, x, terms)
    assert h[0].objective[-1] == pytest.approx(best, rel=1e-6)
    # Each single-term solution is worse under the sum: the joint optimum is not one of them.
    for reg in (TotalVariation(shape), wavelet(shape)):
        xs, _ = admm(least_squares(op, y), reg, 0.02, max_iter=300)
        assert best < sum_objective(op, y, np.asarray(xs), terms)
    # Perturbing the optimum never lowers the objective.
    rng = np.random.default_rng(1)
    for _ in range(5):
        step = 1e-3 * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape))
        assert sum_objective(op, y, x + step, terms) >= best * (1 - 1e-9)


def test_a_sum_with_a_zero_weight_term_equals_the_single_term():
    op, y = single_coil(h=16, w=16, slices=1)
    shape = (16, 16)
    x1, _ = admm(
        least_squares(op, y), [(TotalVariation(shape), 0.02), (wavelet(shape), 0.0)], max_iter=200
    )
    x2, _ = admm(least_squares(op, y), TotalVariation(shape), 0.02, max_iter=200)
    np.testing.assert_allclose(x1, x2, atol=1e-4)


def unrolled(solver, make_reg, op):
    def solve(y: torch.Tensor) -> torch.Tensor:
        data = least_squares(op, y)
        kwargs = {"adaptive": False} if solver is admm else {"restart": False}
        images, _ = solver(data, make_reg((6, 5)), 0.05, max_iter=5, **kwargs)
        return images

    return solve


@pytest.mark.parametrize(
    ("solver", "make_reg", "problem"),
    [
        (fista, wavelet, "cartesian"),
        (admm, tv, "cartesian"),
        (fista, tv, "sense"),
        (admm, wavelet, "sense"),
    ],
)
def test_gradcheck_through_five_unrolled_iterations(solver, make_reg, problem):
    mask = column_mask(5)
    op = Cartesian(mask) if problem == "cartesian" else Sense(coil_maps(2, 6, 5), mask)
    y = op.forward(as_torch(phantom(6, 5, slices=1)))
    y = y.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(unrolled(solver, make_reg, op), (y,), fast_mode=True, atol=1e-6)


def test_reconstruct_with_one_unit_coil_map_equals_single_coil():
    images = phantom(16, 14, slices=2).astype(np.complex64)
    mask = column_mask(14)
    kspace = (fft2c(images) * mask).astype(np.complex64)
    # FISTA: no normal solve, so the SENSE path takes the same steps as the single-coil one.
    single = reconstruct(kspace, mask, reg="tv", solver="fista", max_iter=30)
    multi = reconstruct(
        kspace[:, None], mask, reg="tv", solver="fista", max_iter=30, maps=np.ones((1, 16, 14))
    )
    np.testing.assert_allclose(multi.images, single.images, atol=1e-4 * np.abs(single.images).max())


@pytest.mark.parametrize("reg", ["tv", "wavelet"])
def test_sense_reconstruct_beats_zero_filling_and_torch_matches_numpy(reg):
    images = phantom(24, 20, slices=2)
    maps = coil_maps(4, 24, 20)
    mask = column_mask(20)
    kspace = Sense(maps, mask).forward(images)
    zero = Sense(maps, mask).adjoint(kspace)
    result = reconstruct(kspace, mask, reg=reg, lam=0.005, max_iter=60, maps=maps)
    assert np.linalg.norm(result.images - images) < 0.7 * np.linalg.norm(zero - images)
    on_torch = reconstruct(
        torch.from_numpy(kspace), mask, reg=reg, lam=0.005, max_iter=60, maps=maps
    )
    np.testing.assert_allclose(on_torch.images, result.images, atol=1e-4 * np.abs(images).max())


@pytest.mark.cuda
@CUDA
@pytest.mark.parametrize(("solver", "make_reg"), [(fista, wavelet), (admm, tv)])
def test_solvers_on_cuda_match_numpy(solver, make_reg):
    op, y = sense()
    shape = y.shape[-2:]
    cpu, hc = run(solver, op, y, make_reg(shape), 0.02, max_iter=30)
    gpu, hg = run(solver, op, as_torch(y).cuda(), make_reg(shape), 0.02, max_iter=30)
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu, atol=1e-5)
    assert hg[0].objective[-1] == pytest.approx(hc[0].objective[-1], rel=1e-6)


@pytest.mark.cuda
@CUDA
def test_reconstruct_on_cuda_matches_numpy():
    images = phantom(32, 32, slices=2).astype(np.complex64)
    mask = column_mask(32)
    kspace = (fft2c(images) * mask).astype(np.complex64)
    a = reconstruct(kspace, mask, reg="tv", max_iter=30)
    b = reconstruct(kspace, mask, reg="tv", max_iter=30, device="cuda")
    np.testing.assert_allclose(b.images, a.images, atol=1e-4 * np.abs(a.images).max())
