"""The data term evaluated through A^H A agrees with the direct one; Scaled is c A."""

import numpy as np

from csmri.linop import Scaled, adjointness_test
from csmri.linop.nufft import NUFFT
from csmri.mri.trajectories import radial
from csmri.solvers.data import LeastSquares
from csmri.solvers.normal_data import NormalLeastSquares

N = 16


def problem(rng):
    op = NUFFT(radial(N, 9, ordering="golden"), (N, N))
    y = rng.standard_normal((2, *op.oshape)) + 1j * rng.standard_normal((2, *op.oshape))
    x = rng.standard_normal((2, N, N)) + 1j * rng.standard_normal((2, N, N))
    return op, y, x


def test_normal_data_term_value_and_gradient_match_the_direct_ones(rng):
    op, y, x = problem(rng)
    direct, normal = LeastSquares(op, y), NormalLeastSquares(op, y)
    np.testing.assert_allclose(normal.value(normal.forward(x)), direct.value(direct.forward(x)),
                               rtol=1e-9)
    np.testing.assert_allclose(normal.gradient(normal.forward(x)),
                               direct.gradient(direct.forward(x)), atol=1e-9)


def test_normal_data_term_solves_the_admm_x_update(rng):
    op, y, x = problem(rng)
    data = NormalLeastSquares(op, y, cg_tol=1e-10, cg_iter=200)
    rho = np.array([0.5, 2.0])
    solution, *_ = data.solve(x, rho, None)
    residual = op.normal(solution) + rho[:, None, None] * solution - (op.adjoint(y)
                                                                      + rho[:, None, None] * x)
    assert np.abs(residual).max() < 1e-6 * np.abs(op.adjoint(y)).max()


def test_normal_data_term_keeps_slices(rng):
    op, y, x = problem(rng)
    data = NormalLeastSquares(op, y)
    data.keep(np.array([1]))
    np.testing.assert_allclose(data.value(data.forward(x[1:])),
                               LeastSquares(op, y[1:]).value(op.forward(x[1:])), rtol=1e-9)


def test_scaled_operator_is_c_times_a(rng):
    op, _, x = problem(rng)
    scaled = Scaled(op, 3.0)
    assert adjointness_test(scaled) < 1e-10
    np.testing.assert_allclose(scaled.forward(x), 3.0 * op.forward(x))
    np.testing.assert_allclose(scaled.normal(x), 9.0 * op.normal(x), rtol=1e-12)
