import numpy as np
import pytest
from conftest import random_complex

from csmri.mri.fft import fft2c, ifft2c


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
