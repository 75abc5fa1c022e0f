"""SENSE fast path equals the generic operator; ESPIRiT's faster pieces equal direct ones."""

import math

import numpy as np
import pytest
import torch

from csmri.linop import Sense
from csmri.mri.espirit import _image_space, _right_singular
from csmri.mri.fft import ifft2c
from csmri.solvers import admm, proximal_gradient
from csmri.solvers.data import LeastSquares, least_squares
from csmri.solvers.sense_fast import UncentredSense
from tests.conftest import random_complex


@pytest.fixture(params=[(12, 10), (9, 7)], ids=["even", "odd"])
def problem(request, rng):
    h, w = request.param
    maps = random_complex(rng, (2, 3, h, w)).astype(np.complex64)
    mask = rng.random((h, w)) < 0.5
    y = (random_complex(rng, (2, 3, h, w)) * mask).astype(np.complex64)
    return Sense(maps, mask), y


def test_fast_path_is_picked_and_matches_the_generic_data_term(problem, rng):
    op, y = problem
    fast, slow = least_squares(op, y), LeastSquares(op, y)
    assert isinstance(fast.op, UncentredSense)
    x = random_complex(rng, (2, *op.ishape)).astype(np.complex64)
    np.testing.assert_allclose(fast.value(fast.forward(x)), slow.value(slow.forward(x)),
                               rtol=1e-4)
    np.testing.assert_allclose(fast.gradient(fast.forward(x)), slow.gradient(slow.forward(x)),
                               atol=1e-4)
    np.testing.assert_allclose(fast.zero_filled(), slow.zero_filled(), atol=1e-5)
    assert fast.lipschitz == pytest.approx(slow.lipschitz, rel=1e-5)
    fast.keep(np.array([1]))
    slow.keep(np.array([1]))
    np.testing.assert_allclose(fast.gradient(fast.forward(x[1:])),
                               slow.gradient(slow.forward(x[1:])), atol=1e-4)


def test_solvers_give_the_same_iterates_on_both_paths(problem):
    from csmri.regularizers import make_terms

    op, y = problem
    shape = op.ishape
    ((tv, lam),) = make_terms("tv", shape, 0.01)
    for solve in (
        lambda data: proximal_gradient(data, tv, lam, max_iter=15)[0],
        lambda data: admm(data, tv, lam, max_iter=15)[0],
    ):
        fast, slow = solve(least_squares(op, y)), solve(LeastSquares(op, y))
        np.testing.assert_allclose(fast, slow, atol=1e-4 * np.abs(slow).max())


def test_image_space_kernel_equals_the_inverse_fft_of_the_padded_kernel(rng):
    size, h, w = 5, 12, 9
    hk = torch.from_numpy(random_complex(rng, (1, 2, 2, size, size)).astype(np.complex64))
    grid = torch.zeros((1, 2, 2, h, w), dtype=torch.complex64)
    top, left = h // 2 - (size - 1) // 2, w // 2 - (size - 1) // 2
    grid[..., top : top + size, left : left + size] = hk
    direct = (ifft2c(grid) * math.sqrt(h * w)).permute(0, 3, 4, 1, 2)
    np.testing.assert_allclose(_image_space(hk, h, w).numpy(), direct.numpy(), atol=1e-4)


def test_gram_eigenvectors_span_the_svd_signal_space(rng):
    a = torch.from_numpy(random_complex(rng, (1, 40, 12)).astype(np.complex64))
    sv, vh = _right_singular(a)
    _, sv_ref, vh_ref = torch.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(sv.numpy(), sv_ref.numpy(), rtol=1e-4)
    top = vh[0, :4].numpy()
    ref = vh_ref[0, :4].numpy()
    np.testing.assert_allclose(top.conj().T @ top, ref.conj().T @ ref, atol=1e-4)
