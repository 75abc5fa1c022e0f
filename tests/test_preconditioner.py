"""The circulant SENSE preconditioner: its diagonal, the solves it speeds up, backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from csmri.linop import Sense
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.fft import fft2c, ifft2c
from csmri.solvers import LeastSquares
from csmri.solvers.cg import conjugate_gradient
from csmri.solvers.preconditioner import PreconditionedSense, circulant_normal_diagonal
from csmri.solvers.tgv_general import elimination


def cnoise(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.mark.parametrize("per_slice", [False, True])
def test_the_diagonal_is_that_of_the_normal_operator_in_k_space(per_slice):
    rng = np.random.default_rng(0)
    h, w, coils = 6, 5, 3
    maps = cnoise(rng, (2, coils, h, w) if per_slice else (coils, h, w))
    mask = rng.random(w) < 0.5
    op = Sense(maps, mask)
    expected = np.zeros((2, h, w))
    for i in range(h):
        for j in range(w):
            e = np.zeros((2, h, w), complex)
            e[:, i, j] = 1
            expected[:, i, j] = (e.conj() * fft2c(op.normal(ifft2c(e)))).real.sum((-2, -1))
    got = circulant_normal_diagonal(maps, mask)
    np.testing.assert_allclose(got, expected if per_slice else expected[0], atol=1e-12)


class Counting(Sense):
    calls = 0

    def normal(self, x):
        Counting.calls += 1
        return super().normal(x)


def test_preconditioned_cg_solves_the_same_system_with_fewer_normal_operators():
    rng = np.random.default_rng(1)
    h, w = 40, 32
    maps = birdcage_maps((h, w), 6)
    mask = rng.random(w) < 0.3
    mask[w // 2 - 2 : w // 2 + 2] = True
    y = (fft2c(cnoise(rng, (2, 1, h, w)) * maps) * mask).astype(np.complex128)
    gram = np.fft.fftshift(elimination((h, w))["gram"])
    b, rho = cnoise(rng, (2, h, w)), np.array([0.05, 0.2])
    solutions, counts = {}, {}
    for cls in (LeastSquares, PreconditionedSense):
        Counting.calls = 0
        data = cls(Counting(maps, mask), y, cg_tol=1e-8, cg_iter=400)
        solutions[cls], *_ = data.solve(b, rho, gram)
        counts[cls] = Counting.calls
        assert data.last_cg_residual.max() < 1e-8
    np.testing.assert_allclose(solutions[PreconditionedSense], solutions[LeastSquares],
                               atol=1e-6 * np.abs(solutions[LeastSquares]).max())
    assert counts[PreconditionedSense] < 0.7 * counts[LeastSquares], counts


def test_an_identity_preconditioner_gives_plain_cg():
    rng = np.random.default_rng(2)
    m = cnoise(rng, (3, 8, 8))
    m = m @ m.conj().transpose(0, 2, 1) + np.eye(8)
    b, x0 = cnoise(rng, (3, 8)), np.zeros((3, 8), complex)

    def apply(x):
        return np.einsum("sij,sj->si", m, x)

    plain, r1 = conjugate_gradient(apply, b, x0, 1e-10, 6)
    same, r2 = conjugate_gradient(apply, b, x0, 1e-10, 6, precondition=lambda r: r)
    np.testing.assert_allclose(same, plain, rtol=1e-10)
    np.testing.assert_allclose(r2, r1, rtol=1e-8)


def test_numpy_and_torch_give_the_same_preconditioned_solve():
    rng = np.random.default_rng(3)
    maps = birdcage_maps((12, 10), 3)
    mask = rng.random(10) < 0.5
    y = (fft2c(cnoise(rng, (1, 1, 12, 10)) * maps) * mask).astype(np.complex128)
    b = cnoise(rng, (1, 12, 10))
    on_numpy, *_ = PreconditionedSense(Sense(maps, mask), y).solve(b, np.array([0.1]), None)
    on_torch, *_ = PreconditionedSense(Sense(maps, mask), torch.as_tensor(y)).solve(
        torch.as_tensor(b), np.array([0.1]), None)
    np.testing.assert_allclose(on_torch.numpy(), on_numpy, atol=1e-10)
