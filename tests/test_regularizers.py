"""Regularisers: TV operators and prox, orthogonal wavelets and their l1 prox."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pywt
from scipy.optimize import minimize

from csmri.errors import UsageError
from csmri.regularizers import WaveletL1, dwt, make_regularizer
from csmri.regularizers import tv as tvmod
from csmri.regularizers.wavelet import (
    MAX_PADDED_AREA,
    WaveletTransform,
    automatic_levels,
    padded_shape,
)


def cnoise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex128)


def test_tv_gradient_adjoint_is_exact() -> None:
    rng = np.random.default_rng(0)
    x, p = cnoise(rng, (2, 7, 5)), cnoise(rng, (2, 2, 7, 5))
    lhs = np.vdot(p, tvmod.gradient(x))
    rhs = np.vdot(tvmod.divergence_adjoint(p), x)
    assert abs(lhs - rhs) < 1e-10 * abs(lhs)


def test_tv_gram_eigenvalues_diagonalise_circular_differences() -> None:
    rng = np.random.default_rng(1)
    x = cnoise(rng, (6, 9))
    ddx = tvmod.divergence_adjoint(tvmod.gradient(x))
    spectral = np.fft.ifft2(tvmod.gram_eigenvalues((6, 9), np.float64) * np.fft.fft2(x))
    np.testing.assert_allclose(ddx, spectral, atol=1e-10)


@pytest.mark.parametrize("isotropic", [True, False])
def test_tv_prox_satisfies_optimality(isotropic: bool) -> None:
    # x = v - mu D^H p with p feasible is optimal iff <p, D x> = TV(x) (zero duality gap).
    rng = np.random.default_rng(2)
    v = cnoise(rng, (2, 12, 10)).astype(np.complex64)
    mu = 0.3
    x, p = tvmod.tv_prox(v, mu, isotropic, n_iter=3000)
    assert np.all(tvmod.magnitude(p, isotropic) <= 1 + 1e-5)
    gap = tvmod.tv_prox_gap(v, mu, p, isotropic)
    objective = 0.5 * np.sum(np.abs(x - v) ** 2, axis=(-2, -1)) + mu * tvmod.tv_norm(x, isotropic)
    assert np.all(gap >= -1e-4 * objective)
    assert np.all(gap <= 1e-4 * objective)


@pytest.mark.parametrize("isotropic", [True, False])
def test_tv_prox_matches_brute_force_on_4x4(isotropic: bool) -> None:
    # Brute force: the smooth dual min_p 1/2||v - mu D^T p||^2 over the dual ball, by SLSQP.
    rng = np.random.default_rng(3)
    v = rng.standard_normal((4, 4))
    mu = 0.4

    def primal_of(flat: np.ndarray) -> np.ndarray:
        return v - mu * tvmod.divergence_adjoint(flat.reshape(2, 4, 4))

    def dual(flat: np.ndarray) -> float:
        return 0.5 * float(np.sum(primal_of(flat) ** 2))

    if isotropic:
        constraints = [
            {"type": "ineq", "fun": lambda f: 1.0 - f[:16] ** 2 - f[16:] ** 2},
        ]
        solution = minimize(
            dual,
            np.zeros(32),
            method="SLSQP",
            constraints=constraints,
            options={"ftol": 1e-14, "maxiter": 2000},
        )
    else:
        solution = minimize(
            dual,
            np.zeros(32),
            method="L-BFGS-B",
            bounds=[(-1.0, 1.0)] * 32,
            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000},
        )
    reference = primal_of(solution.x)
    x, _ = tvmod.tv_prox(v.astype(np.complex128), mu, isotropic, n_iter=5000)
    assert np.abs(x.imag).max() < 1e-12  # a real input has a real prox
    np.testing.assert_allclose(x.real, reference, atol=1e-4)


def test_tv_prox_warm_start_tightens_the_gap() -> None:
    rng = np.random.default_rng(4)
    v = cnoise(rng, (1, 32, 32)).astype(np.complex64)
    _, p10 = tvmod.tv_prox(v, 0.2, True, n_iter=10)
    _, p20 = tvmod.tv_prox(v, 0.2, True, n_iter=10, p0=p10)
    assert tvmod.tv_prox_gap(v, 0.2, p20)[0] < tvmod.tv_prox_gap(v, 0.2, p10)[0]


def test_tv_shrink_is_the_prox_of_the_group_norm() -> None:
    rng = np.random.default_rng(5)
    w = cnoise(rng, (2, 1, 5, 5))
    t = 0.8
    z = tvmod.shrink(w, t, True)
    mag = np.sqrt(np.abs(z[0]) ** 2 + np.abs(z[1]) ** 2)
    wmag = np.sqrt(np.abs(w[0]) ** 2 + np.abs(w[1]) ** 2)
    on = mag > 0
    # Optimality: w - z = t z / |z| where z != 0, |w| <= t where z == 0.
    np.testing.assert_allclose((w - z)[:, on], (t * z / np.where(on, mag, 1))[:, on], atol=1e-12)
    assert np.all(wmag[~on] <= t + 1e-12)


@pytest.mark.parametrize(
    ("shape", "wavelet", "levels"),
    [((217, 181), "db4", None), ((13, 7), "db4", 2), ((5, 9), "haar", 3), ((11, 11), "sym3", 1)],
)
def test_wavelet_transform_is_orthogonal_at_odd_sizes(
    shape: tuple[int, int], wavelet: str, levels: int | None
) -> None:
    t = WaveletTransform(shape, wavelet, levels)
    assert all(p % 2**t.levels == 0 and p >= s for p, s in zip(t.padded_shape, shape, strict=True))
    rng = np.random.default_rng(6)
    x = cnoise(rng, (2, *t.padded_shape))
    c = t.forward(x)
    np.testing.assert_allclose(t.inverse(c), x, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(c), np.linalg.norm(x), rtol=1e-10)
    d = cnoise(rng, c.shape)
    assert abs(np.vdot(d, c) - np.vdot(t.inverse(d), x)) < 1e-9 * np.linalg.norm(x) ** 2


@pytest.mark.parametrize(
    ("wavelet", "shape", "levels"),
    [
        ("haar", (8, 16), 3),
        ("db2", (16, 8), 3),
        ("db4", (32, 64), 4),
        ("sym8", (16, 32), 4),
        ("coif1", (24, 40), 3),
        ("db4", (320, 320), 5),
    ],
)
def test_wavelet_transform_equals_pywavelets_periodization(
    wavelet: str, shape: tuple[int, int], levels: int
) -> None:
    # Deep levels make the signal shorter than the filter: the wrap-around must still match.
    t = WaveletTransform(shape, wavelet, levels)
    assert t.padded_shape == shape
    rng = np.random.default_rng(10)
    x = cnoise(rng, (2, *shape))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Level value", category=UserWarning)
        bands = [pywt.wavedec2(p, wavelet, mode="periodization", level=levels) for p in x]
        planes = [pywt.coeffs_to_array(b, axes=(-2, -1))[0] for b in bands]
    expected = np.array(planes)
    np.testing.assert_allclose(t.forward(x), expected, atol=1e-10)
    single = t.forward(x.astype(np.complex64))
    assert single.dtype == np.complex64
    np.testing.assert_allclose(single, expected, atol=1e-4)
    np.testing.assert_allclose(t.inverse(single), x, atol=1e-4)


def test_wavelet_low_band_holds_the_mean_of_a_constant_image() -> None:
    t = WaveletTransform((16, 16), "db4", 2)
    c = t.forward(np.ones((16, 16), dtype=np.complex128))
    assert np.abs(t.detail_l1(c)) < 1e-10  # a constant has no details


def test_wavelet_prox_satisfies_optimality() -> None:
    t = WaveletTransform((20, 14), "db4", 2)
    rng = np.random.default_rng(7)
    v = cnoise(rng, (1, *t.padded_shape))
    thr = 0.7
    x, c = t.prox(v, thr)
    cv = t.forward(v)
    np.testing.assert_allclose(t.forward(x), c, atol=1e-10)
    ah, aw = t.approx_shape
    detail = np.ones(c.shape, dtype=bool)
    detail[..., :ah, :aw] = False
    np.testing.assert_allclose(c[~detail], cv[~detail])  # approximation band is not penalised
    on = detail & (np.abs(c) > 0)
    np.testing.assert_allclose((cv - c)[on], thr * (c / np.abs(np.where(on, c, 1)))[on], atol=1e-10)
    assert np.all(np.abs(cv[detail & ~on]) <= thr + 1e-12)


def test_wavelet_prox_matches_brute_force_on_4x4() -> None:
    # Brute force: min 1/2||x - v||^2 + thr * sum(a + b) with detail(W x) = a - b, a, b >= 0.
    t = WaveletTransform((4, 4), "haar", 1)
    rng = np.random.default_rng(8)
    v = rng.standard_normal((4, 4))
    thr = 0.5
    detail = np.ones((4, 4), dtype=bool)
    detail[:2, :2] = False

    def split(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return f[:16].reshape(4, 4), f[16:28], f[28:]

    def objective(f: np.ndarray) -> float:
        x, a, b = split(f)
        return 0.5 * float(np.sum((x - v) ** 2)) + thr * float(np.sum(a + b))

    def equality(f: np.ndarray) -> np.ndarray:
        x, a, b = split(f)
        return t.forward(x.astype(complex)).real[detail] - a + b

    solution = minimize(
        objective,
        np.concatenate([v.ravel(), np.zeros(24)]),
        method="SLSQP",
        constraints=[{"type": "eq", "fun": equality}],
        bounds=[(None, None)] * 16 + [(0.0, None)] * 24,
        options={"ftol": 1e-14, "maxiter": 2000},
    )
    x, _ = t.prox(v.astype(np.complex128), thr)
    np.testing.assert_allclose(x.real, split(solution.x)[0], atol=1e-5)


def test_cycle_spinning_prox_is_a_shifted_exact_prox() -> None:
    reg = WaveletL1((16, 16), "haar", 2, cycle_spin=True, slice_seeds=[11])
    rng = np.random.default_rng(9)
    v = cnoise(rng, (1, 16, 16)).astype(np.complex64)
    x, _ = reg.prox(v, 0.3)
    shift = tuple(int(s) for s in np.random.default_rng(11).integers(0, 4, size=2))
    ref, _ = reg.transform.prox(np.roll(v, shift, axis=(-2, -1)), 0.3)
    np.testing.assert_allclose(x, np.roll(ref, (-shift[0], -shift[1]), axis=(-2, -1)), atol=1e-6)


def test_unknown_names_raise_usage_errors_listing_choices() -> None:
    with pytest.raises(UsageError, match="tv, tv-aniso, wavelet"):
        make_regularizer("l2", (8, 8))
    with pytest.raises(UsageError, match="haar, db1"):
        make_regularizer("wavelet", (8, 8), wavelet="nope")
    with pytest.raises(UsageError, match="not orthogonal"):
        make_regularizer("wavelet", (8, 8), wavelet="bior2.2")


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_roll_kernel_equals_numpy_roll_both_ways(dtype: type) -> None:
    rng = np.random.default_rng(9)
    x = cnoise(rng, (3, 7, 10)).astype(dtype)
    shifts = np.array([[3, -4], [0, 0], [-15, 23]], dtype=np.int64)
    rolled = dwt.roll_images(x, shifts, 1, np.empty_like(x))
    for s in range(3):
        np.testing.assert_array_equal(rolled[s], np.roll(x[s], tuple(shifts[s]), axis=(0, 1)))
    np.testing.assert_array_equal(dwt.roll_images(rolled, shifts, -1, np.empty_like(x)), x)


@pytest.mark.parametrize(
    ("shape", "wavelet"), [((320, 320), "haar"), ((216, 180), "haar"), ((181, 217), "db4"),
                           ((64, 48), "db2"), ((9, 7), "haar")]
)
def test_automatic_levels_are_the_deepest_within_the_padding_bound(
    shape: tuple[int, int], wavelet: str
) -> None:
    filter_length = pywt.Wavelet(wavelet).dec_len
    levels = automatic_levels(shape, filter_length)
    deepest = max(1, pywt.dwt_max_level(min(shape), filter_length))
    assert 1 <= levels <= deepest

    def area(n: int) -> int:
        return int(np.prod(padded_shape(shape, n)))

    assert levels == 1 or area(levels) <= MAX_PADDED_AREA * shape[0] * shape[1]
    deeper = range(levels + 1, deepest + 1)
    assert all(area(n) > MAX_PADDED_AREA * shape[0] * shape[1] for n in deeper)
    assert WaveletTransform(shape, wavelet).levels == levels
