"""The operator layer: adjointness, normal operators, exact normal solves, autograd, devices."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from csmri.linop import (
    Cartesian,
    CoilMaps,
    Compose,
    FFT2c,
    LinearOperator,
    Mask,
    Sense,
    adjointness_test,
)
from csmri.mri.fft import fft2c, ifft2c
from csmri.mri.masks import random_mask

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def random_maps(coils: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    maps = rng.standard_normal((coils, h, w)) + 1j * rng.standard_normal((coils, h, w))
    return maps / np.sqrt((np.abs(maps) ** 2).sum(axis=0, keepdims=True))


def operators(h: int, w: int) -> dict[str, tuple[LinearOperator, tuple[int, int]]]:
    column = random_mask(w, 0.25, 3, seed=1).mask
    mask2d = np.random.default_rng(2).random((h, w)) < 0.4
    maps = random_maps(4, h, w)
    return {
        "fft": (FFT2c(), (h, w)),
        "column-mask": (Mask(column), (h, w)),
        "2d-mask": (Mask(mask2d), (h, w)),
        "cartesian": (Cartesian(column), (h, w)),
        "cartesian-2d": (Cartesian(mask2d), (h, w)),
        "coil-maps": (CoilMaps(maps), (h, w)),
        "sense": (Sense(maps, column), (h, w)),
        "sense-2d": (Sense(maps, mask2d), (h, w)),
        "composed": (Mask(column) @ FFT2c() @ CoilMaps(maps), (h, w)),
    }


NAMES = list(operators(4, 4))
LIKES = {
    "numpy": (None, 1e-12),
    "numpy-single": (np.zeros(1, np.complex64), 1e-5),
    "torch": (torch.zeros(1, dtype=torch.complex128), 1e-12),
    "torch-single": (torch.zeros(1, dtype=torch.complex64), 1e-5),
}


@pytest.mark.parametrize("size", [(16, 12), (7, 9), (9, 8)])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
@pytest.mark.parametrize("like", list(LIKES))
@pytest.mark.parametrize("name", NAMES)
def test_every_operator_and_its_adjoint_operator_pass_the_adjointness_test(name, like, batch, size):
    op, shape = operators(*size)[name]
    array, tol = LIKES[like]
    assert adjointness_test(op, shape, batch=batch, like=array) < tol
    assert adjointness_test(op.H, op.forward(np.zeros(shape)).shape, batch=batch, like=array) < tol


def test_the_adjointness_test_catches_a_wrong_adjoint():
    class Scaled(FFT2c):
        def adjoint(self, y):
            return 1.001 * ifft2c(y)

    assert adjointness_test(Scaled(), (6, 5)) > 1e-4


@pytest.mark.parametrize("like", ["numpy", "torch"])
@pytest.mark.parametrize("name", NAMES)
def test_normal_equals_adjoint_of_forward(name, like):
    op, shape = operators(7, 10)[name]
    x = np.random.default_rng(3).standard_normal((2, *shape)) + 0j
    x = torch.from_numpy(x) if like == "torch" else x
    expected = op.adjoint(op.forward(x))
    got = op.normal(x)
    assert type(got) is type(x)
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-12)


def test_sense_is_mask_fft_coil_maps_by_definition():
    maps = random_maps(3, 6, 7)
    mask = np.array([1, 0, 1, 1, 0, 0, 1], bool)
    x = np.random.default_rng(4).standard_normal((2, 6, 7)) + 1j
    y = Sense(maps, mask).forward(x)
    expected = (
        np.fft.fftshift(
            np.fft.fft2(np.fft.ifftshift(maps * x[:, None], axes=(-2, -1)), norm="ortho"),
            axes=(-2, -1),
        )
        * mask
    )
    np.testing.assert_allclose(y, expected, atol=1e-12)
    assert y.shape == (2, 3, 6, 7)
    assert Sense(maps, mask).oshape == (3, 6, 7)


def test_coil_maps_normalised_to_unit_sum_of_squares_are_an_isometry():
    maps = random_maps(5, 8, 6)
    x = np.random.default_rng(5).standard_normal((8, 6)) + 1j
    assert np.linalg.norm(CoilMaps(maps).forward(x)) == pytest.approx(np.linalg.norm(x), rel=1e-12)
    np.testing.assert_allclose(CoilMaps(maps).normal(x), x, atol=1e-12)


def test_the_adjoint_of_the_adjoint_is_the_operator_and_matmul_applies_it():
    op = Cartesian(np.ones(5))
    assert op.H.H is op
    x = np.random.default_rng(6).standard_normal((4, 5)) + 0j
    np.testing.assert_allclose(op @ x, op.forward(x))
    assert isinstance(op @ FFT2c(), Compose)


def test_composing_operators_of_different_sizes_fails():
    with pytest.raises(ValueError, match="do not match"):
        Mask(np.ones(5)) @ CoilMaps(np.ones((2, 4, 6)))


def dense(apply, shape: tuple[int, ...]) -> np.ndarray:
    """The matrix of a linear map on complex arrays of ``shape`` (column per basis vector)."""
    n = int(np.prod(shape))
    columns = [apply(np.eye(n, dtype=complex)[i].reshape(shape)).ravel() for i in range(n)]
    return np.stack(columns, axis=1)


@pytest.mark.parametrize("like", ["numpy", "torch"])
@pytest.mark.parametrize("mask_kind", ["column", "2d"])
def test_exact_normal_solves_match_a_dense_solve(like, mask_kind):
    h, w = 5, 6
    mask = np.array([1, 0, 0, 1, 1, 0]) if mask_kind == "column" else np.eye(h, w)
    gram = np.random.default_rng(7).random((h, w))
    b = np.random.default_rng(8).standard_normal((2, h, w)) + 1j
    rho = np.array([0.3, 2.0])
    for op, g in [
        (Cartesian(mask), None),
        (Cartesian(mask), gram),
        (FFT2c(), gram),
        (Mask(mask), None),
    ]:
        normal = dense(op.normal, (h, w))
        penalty = np.eye(h * w) if g is None else dense(lambda x, g=g: ifft2c(g * fft2c(x)), (h, w))
        arg = torch.from_numpy(b) if like == "torch" else b
        got = np.asarray(op.solve_normal(arg, rho, g))
        for s in range(2):
            expected = np.linalg.solve(normal + rho[s] * penalty, b[s].ravel())
            np.testing.assert_allclose(got[s].ravel(), expected, atol=1e-10)


def test_sense_and_generic_compositions_have_no_closed_form_normal_solve():
    maps = random_maps(2, 4, 4)
    assert Sense(maps, np.ones(4)).solve_normal(np.ones((4, 4), complex), 1.0) is None
    assert (Mask(np.ones(4)) @ CoilMaps(maps)).solve_normal(np.ones((4, 4), complex), 1.0) is None
    assert Mask(np.ones(4)).solve_normal(np.ones((4, 4), complex), 1.0, np.ones((4, 4))) is None


@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (2, 3, 5, 6)])
def test_torch_fft2c_matches_numpy_and_round_trips(shape):
    x = np.random.default_rng(9).standard_normal(shape) + 1j
    t = torch.from_numpy(x)
    np.testing.assert_allclose(fft2c(t).numpy(), fft2c(x), atol=1e-12)
    np.testing.assert_allclose(ifft2c(fft2c(t)).numpy(), x, atol=1e-12)
    assert fft2c(t.to(torch.complex64)).dtype == torch.complex64


@pytest.mark.parametrize("name", ["cartesian", "sense", "composed"])
def test_gradcheck_through_forward_adjoint_and_normal(name):
    op, shape = operators(5, 4)[name]
    x = torch.from_numpy(np.random.default_rng(10).standard_normal(shape) + 1j)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(op.forward, (x,), fast_mode=True)
    assert torch.autograd.gradcheck(op.normal, (x,), fast_mode=True)
    y = op.forward(x.detach()).clone().requires_grad_(True)
    assert torch.autograd.gradcheck(op.adjoint, (y,), fast_mode=True)


def test_gradcheck_with_respect_to_torch_coil_maps():
    maps = torch.from_numpy(random_maps(2, 4, 5)).requires_grad_(True)
    x = torch.from_numpy(np.random.default_rng(11).standard_normal((4, 5)) + 1j)
    mask = np.array([1, 0, 1, 1, 0])
    assert torch.autograd.gradcheck(lambda m: Sense(m, mask).forward(x), (maps,), fast_mode=True)


def test_importing_csmri_and_its_operators_does_not_import_torch():
    code = "import sys, csmri, csmri.linop, csmri.mri.fft; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.cuda
@CUDA
@pytest.mark.parametrize("name", NAMES)
def test_operators_on_cuda_stay_on_the_device_and_are_adjoint(name):
    op, shape = operators(12, 10)[name]
    like = torch.zeros(1, dtype=torch.complex128, device="cuda")
    assert adjointness_test(op, shape, batch=(2,), like=like) < 1e-12
    x = torch.ones((2, *shape), dtype=torch.complex64, device="cuda")
    assert op.normal(x).device.type == "cuda"
