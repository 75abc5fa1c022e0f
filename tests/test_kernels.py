"""Fused Numba kernels against plain NumPy definitions (TV, solver arithmetic, wavelets)."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from csmri.regularizers import dwt
from csmri.regularizers import tv as tvmod
from csmri.regularizers import tv_kernels as tvk
from csmri.solvers import kernels as sk

# Odd sizes on purpose: the circular wrap of the last row and column is where kernels go wrong.
SHAPE = (3, 9, 7)
DTYPES = [(np.complex64, 2e-5), (np.complex128, 1e-12)]


def cnoise(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)


def real(a: np.ndarray) -> np.ndarray:
    return a.view(a.real.dtype)


def modulus(w: np.ndarray, iso: bool) -> np.ndarray:
    """Joint modulus broadcast to both components (iso), else each component's own."""
    if iso:
        joint = np.sqrt(np.abs(w[0]) ** 2 + np.abs(w[1]) ** 2)
        return np.stack([joint, joint])
    return np.abs(w)


def shrink_reference(w: np.ndarray, thresh: np.ndarray, iso: bool) -> np.ndarray:
    mag = modulus(w, iso)
    t = thresh.reshape(1, -1, 1, 1)
    return w * np.where(mag > t, (mag - t) / np.where(mag > 0, mag, 1), 0)


def group_norm_reference(w: np.ndarray, iso: bool) -> np.ndarray:
    mag = modulus(w, iso)
    return (mag[0] if iso else mag[0] + mag[1]).sum(axis=(-2, -1))


@pytest.mark.parametrize(("dtype", "tol"), DTYPES)
@pytest.mark.parametrize("iso", [True, False])
def test_tv_kernels_match_numpy_definitions(dtype: type, tol: float, iso: bool) -> None:
    rng = np.random.default_rng(0)
    rdt = np.dtype(dtype).type(0).real.dtype.type
    x = cnoise(rng, SHAPE, dtype)
    w = cnoise(rng, (2, *SHAPE), dtype)
    thresh = np.array([0.3, 1.0, 2.5], dtype=rdt)
    gradient = tvmod.gradient(x)

    out = np.empty_like(w)
    tvk.shrink(real(w), thresh, iso, real(out))
    np.testing.assert_allclose(out, shrink_reference(w, thresh, iso), atol=tol)
    np.testing.assert_allclose(tvk.group_norm(real(w), iso), group_norm_reference(w, iso), rtol=tol)
    np.testing.assert_allclose(
        tvk.tv_value(real(x), iso), group_norm_reference(gradient, iso), rtol=tol
    )

    # FGP: primal point, then the dual step with its projection and momentum.
    mu, step, beta = rdt(0.4), rdt(0.2), rdt(0.35)
    primal = np.empty_like(x)
    tvk.fgp_primal(real(x), real(w), mu, real(primal))
    np.testing.assert_allclose(primal, x - mu * tvmod.divergence_adjoint(w), atol=tol)
    r, r_next, p = w.copy(), np.empty_like(w), 0.5 * w
    g = w + step * tvmod.gradient(x - mu * tvmod.divergence_adjoint(w))
    g = g / np.maximum(modulus(g, iso), 1)
    expected_r = g + beta * (g - p)
    tvk.fgp_step(real(x), real(r), real(r_next), real(p), mu, step, beta, iso)
    np.testing.assert_allclose(p, g, atol=tol)
    np.testing.assert_allclose(r_next, expected_r, atol=tol)
    np.testing.assert_array_equal(r, w)  # the input dual is not modified

    # ADMM: z = shrink(D x + u), u += D x - z, TV(x) and the residuals.
    u, z = w.copy(), np.empty_like(w)
    z_expected = shrink_reference(gradient + u, thresh, iso)
    none = np.empty((0, 0, 0), dtype=x.real.dtype)
    value, primal_sq = tvk.admm_z_update(real(x), real(u), real(z), thresh, iso, none, 0.0)
    np.testing.assert_allclose(z, z_expected, atol=tol)
    np.testing.assert_allclose(u, w + gradient - z_expected, atol=tol)
    np.testing.assert_allclose(value, group_norm_reference(gradient, iso), rtol=tol)
    expected_primal = np.sum(np.abs(gradient - z_expected) ** 2, axis=(0, 2, 3))
    np.testing.assert_allclose(primal_sq, expected_primal, rtol=10 * tol)
    z_old = cnoise(rng, (2, *SHAPE), dtype)
    b = np.empty_like(x)
    dual_sq = tvk.admm_synthesis(real(z), real(u), real(z_old), real(b))
    np.testing.assert_allclose(b, tvmod.divergence_adjoint(z - u), atol=tol)
    expected_dual = np.sum(np.abs(tvmod.divergence_adjoint(z - z_old)) ** 2, axis=(1, 2))
    np.testing.assert_allclose(dual_sq, expected_dual, rtol=10 * tol)


@pytest.mark.parametrize(("dtype", "tol"), DTYPES)
def test_solver_kernels_match_numpy_definitions(dtype: type, tol: float) -> None:
    rng = np.random.default_rng(1)
    k, k_prev, y, z = (cnoise(rng, SHAPE, dtype) for _ in range(4))
    mask = (rng.random(SHAPE[1:]) < 0.5).astype(np.float32)
    y *= mask
    rho = np.array([0.5, 1.0, 2.0], dtype=np.float32)
    inv_den = rng.random(SHAPE).astype(np.float32)

    residual = mask * k - y
    np.testing.assert_allclose(
        sk.data_value(k, mask, y), 0.5 * np.sum(np.abs(residual) ** 2, axis=(1, 2)), rtol=tol
    )
    out = np.empty_like(k)
    sk.masked_residual(k, mask, y, out)
    np.testing.assert_allclose(out, residual, atol=tol)

    diff_sq, new_sq, inner = sk.step_stats(k, k_prev, z)
    np.testing.assert_allclose(diff_sq, np.sum(np.abs(k - k_prev) ** 2, axis=(1, 2)), rtol=tol)
    np.testing.assert_allclose(new_sq, np.sum(np.abs(k) ** 2, axis=(1, 2)), rtol=tol)
    expected_inner = np.sum(np.real(np.conj(z - k) * (k - k_prev)), axis=(1, 2))
    np.testing.assert_allclose(inner, expected_inner, rtol=10 * tol, atol=tol)

    beta = np.array([0.0, 0.3, 0.9], dtype=np.float32)
    sk.extrapolate(k, k_prev, beta, out)
    np.testing.assert_allclose(out, k + beta[:, None, None] * (k - k_prev), atol=tol)

    updated = (rho[:, None, None] * k + y) * inv_den
    data, diff_sq, new_sq = sk.admm_kspace_update(k, k_prev, y, mask, rho, inv_den)
    np.testing.assert_allclose(k, updated, atol=tol)
    expected = 0.5 * np.sum(np.abs(mask * updated - y) ** 2, axis=(1, 2))
    np.testing.assert_allclose(data, expected, rtol=tol)
    np.testing.assert_allclose(
        diff_sq, np.sum(np.abs(updated - k_prev) ** 2, axis=(1, 2)), rtol=tol
    )
    np.testing.assert_allclose(new_sq, np.sum(np.abs(updated) ** 2, axis=(1, 2)), rtol=tol)


def test_wavelet_soft_threshold_kernel_matches_its_definition() -> None:
    rng = np.random.default_rng(2)
    c = cnoise(rng, (2, 8, 12), np.complex64)
    c[0, 5, 7] = 0  # an exact zero must stay zero, not become 0/0
    t = np.float32(0.9)
    mag = np.abs(c)
    expected = c * np.where(mag > t, (mag - t) / np.where(mag > 0, mag, 1), 0)
    expected[:, :2, :3] = c[:, :2, :3]  # the approximation block is not penalised
    work = c.copy()
    l1 = dwt.soft_threshold_details(work, np.full(2, t), 2, 3)
    np.testing.assert_allclose(work, expected, atol=1e-6)
    detail_l1 = np.abs(expected).sum(axis=(1, 2)) - np.abs(expected[:, :2, :3]).sum(axis=(1, 2))
    np.testing.assert_allclose(l1, detail_l1, rtol=1e-5)


def test_kernel_results_do_not_depend_on_the_thread_count() -> None:
    rng = np.random.default_rng(3)
    x = cnoise(rng, (2, 64, 48), np.complex64)
    w = cnoise(rng, (2, 2, 64, 48), np.complex64)
    thresh = np.array([0.5, 1.5], dtype=np.float32)

    def run() -> list[np.ndarray]:
        u, z = w.copy(), np.empty_like(w)
        none = np.empty((0, 0, 0), dtype=np.float32)
        value, primal = tvk.admm_z_update(real(x), real(u), real(z), thresh, True, none, 0.0)
        return [z, u, value, primal, tvk.tv_value(real(x), False)]

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = run()
        numba.set_num_threads(before)
        multi = run()
    finally:
        numba.set_num_threads(before)
    for a, b in zip(single, multi, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_threshold_per_image_must_match_the_images() -> None:
    # The kernels do not check bounds: the wrapper must refuse a short threshold array.
    w = cnoise(np.random.default_rng(4), (2, *SHAPE), np.complex64)
    with pytest.raises(ValueError, match="2 thresholds for 3 images"):
        tvmod.shrink(w, np.array([0.1, 0.2]), True)


def test_an_interrupt_inside_a_kernel_surfaces_as_keyboard_interrupt() -> None:
    # CPython reports a signal caught during compiled code as SystemError caused by it.
    from csmri.kernel import ParallelKernel

    def interrupted(*args: object) -> None:
        # As measured: the interrupt sits two causes deep (Numba's unpickling wraps it too).
        inner = SystemError("_numba_unpickle returned a result with an exception set")
        inner.__cause__ = KeyboardInterrupt()
        raise SystemError("returned a result with an exception set") from inner

    def other(*args: object) -> None:
        raise SystemError("something else")

    wrapped = ParallelKernel(lambda x: x)
    wrapped.parallel = wrapped.serial = interrupted
    with pytest.raises(KeyboardInterrupt):
        wrapped(1)
    wrapped.parallel = wrapped.serial = other
    with pytest.raises(SystemError, match="something else"):
        wrapped(1)
