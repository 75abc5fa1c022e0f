import numpy as np
import pytest
from conftest import random_complex

from csmri.fft import fft2c, ifft2c
from csmri.masks import random_mask
from csmri.operators import CartesianSingleCoil, adjointness_error


def numpy_reference_fft2c(x: np.ndarray) -> np.ndarray:
    shifted = np.fft.ifftshift(x, axes=(-2, -1))
    return np.fft.fftshift(np.fft.fft2(shifted, norm="ortho"), axes=(-2, -1))


@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (3, 16, 15), (2, 2, 5, 6)])
def test_fft2c_matches_numpy_reference_for_odd_and_even_sizes(rng, shape):
    x = random_complex(rng, shape)
    np.testing.assert_allclose(fft2c(x), numpy_reference_fft2c(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape", [(16, 16), (17, 11)])
def test_fft2c_is_unitary_parseval_and_inverse(rng, shape):
    x = random_complex(rng, shape).astype(np.complex128)
    k = fft2c(x)
    assert np.linalg.norm(k) == pytest.approx(np.linalg.norm(x), rel=1e-12)
    np.testing.assert_allclose(ifft2c(k), x, atol=1e-12)


@pytest.mark.parametrize("size", [8, 9])
def test_fft2c_puts_dc_at_centre_index(size):
    image = np.ones((size, size), dtype=np.complex128)
    k = fft2c(image)
    assert np.abs(k[size // 2, size // 2]) == pytest.approx(size)
    k[size // 2, size // 2] = 0
    assert np.abs(k).max() < 1e-9


def test_fft2c_preserves_complex64(rng):
    assert fft2c(random_complex(rng, (4, 8, 8))).dtype == np.complex64


@pytest.mark.parametrize("shape", [(16, 12), (3, 15, 13)])
def test_cartesian_operator_adjoint_is_exact(rng, shape):
    mask = random_mask(shape[-1], 0.25, 3, seed=0).mask
    op = CartesianSingleCoil(mask, shape)
    assert adjointness_error(op, rng) < 1e-12


def test_cartesian_operator_normal_equals_adjoint_of_forward(rng):
    mask = random_mask(20, 0.2, 4, seed=3).mask
    op = CartesianSingleCoil(mask, (10, 20))
    x = random_complex(rng, (10, 20)).astype(np.complex128)
    np.testing.assert_allclose(op.normal(x), op.adjoint(op.forward(x)), atol=1e-12)


def test_cartesian_operator_zeroes_unsampled_columns(rng):
    mask = random_mask(32, 0.125, 4, seed=5).mask
    op = CartesianSingleCoil(mask, (16, 32))
    y = op.forward(random_complex(rng, (16, 32)))
    assert np.all(y[:, ~mask] == 0)
    assert np.all(y[:, mask] != 0)
