"""Solvers and the reconstruct API: agreement, monotonicity, scaling, validation."""

from __future__ import annotations

import numpy as np
import pytest

from csmri.app.reconstruct import reconstruct, reconstruct_iter
from csmri.errors import InputError, SolverError, UsageError
from csmri.linop import Cartesian
from csmri.mri.fft import fft2c, ifft2c
from csmri.regularizers import Regularizer, make_regularizer
from csmri.solvers import least_squares, proximal_gradient


def phantom(shape: tuple[int, int] = (24, 20), seed: int = 0) -> np.ndarray:
    """A small piecewise-constant complex image with a smooth phase."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    image = ((yy - h / 2) ** 2 / (0.35 * h) ** 2 + (xx - w / 2) ** 2 / (0.4 * w) ** 2 < 1).astype(
        float
    )
    image += 0.5 * ((yy - h / 3) ** 2 + (xx - w / 3) ** 2 < (0.12 * min(h, w)) ** 2)
    rng = np.random.default_rng(seed)
    image += 0.05 * rng.standard_normal(shape)
    return (image * np.exp(1j * 0.3 * xx / w)).astype(np.complex64)


def problem(shape: tuple[int, int] = (24, 20), slices: int = 2) -> tuple[np.ndarray, np.ndarray]:
    images = np.stack([phantom(shape, s) for s in range(slices)])
    mask = np.zeros(shape[1], dtype=bool)
    mask[::3] = True
    mask[shape[1] // 2 - 2 : shape[1] // 2 + 2] = True
    return (fft2c(images) * mask).astype(np.complex64), mask


def test_uncentred_data_term_equals_the_centred_one_at_odd_sizes() -> None:
    rng = np.random.default_rng(0)
    for shape in [(7, 5), (8, 6), (9, 10)]:
        x = (rng.standard_normal((2, *shape)) + 1j * rng.standard_normal((2, *shape))).astype(
            np.complex64
        )
        mask = rng.random(shape[1]) < 0.5
        y = (fft2c(rng.standard_normal((2, *shape))) * mask).astype(np.complex64)
        data = least_squares(Cartesian(mask), y)
        reference = 0.5 * np.sum(np.abs(fft2c(x) * mask - y) ** 2, axis=(-2, -1))
        np.testing.assert_allclose(data.value(data.forward(x)), reference, rtol=1e-5)
        np.testing.assert_allclose(data.zero_filled(), ifft2c(y), atol=1e-5)


@pytest.mark.parametrize(
    ("reg", "fista_kwargs"),
    [("tv", {"tv_iter": 50}), ("tv-aniso", {"tv_iter": 50}), ("wavelet", {})],
)
def test_fista_and_admm_reach_the_same_objective(reg: str, fista_kwargs: dict) -> None:
    kspace, mask = problem((16, 16))
    common = {"reg": reg, "lam": 0.02, "wavelet": "db2", "levels": 2, "cycle_spin": False}
    fista = reconstruct(kspace, mask, solver="fista", max_iter=150, **common, **fista_kwargs)
    admm = reconstruct(kspace, mask, solver="admm", max_iter=400, **common)
    for hf, ha in zip(fista.history, admm.history, strict=True):
        assert abs(hf.objective[-1] - ha.objective[-1]) <= 1e-4 * abs(ha.objective[-1])
    assert admm.history[0].primal_residual and admm.history[0].dual_residual


@pytest.mark.parametrize(("reg", "slack"), [("wavelet", 1e-6), ("tv", 1e-5)])
def test_ista_objective_never_increases(reg: str, slack: float) -> None:
    kspace, mask = problem((16, 16), slices=1)
    result = reconstruct(
        kspace, mask, reg=reg, lam=0.05, solver="ista", max_iter=40, tv_iter=100, cycle_spin=False
    )
    objective = np.array(result.history[0].objective)
    assert np.all(np.diff(objective) <= slack * objective[:-1])


@pytest.mark.parametrize("solver", ["fista", "ista", "admm"])
@pytest.mark.parametrize("reg", ["tv", "wavelet"])
def test_lambda_zero_with_full_sampling_returns_the_input(solver: str, reg: str) -> None:
    images = np.stack([phantom((15, 13))])
    mask = np.ones(13, dtype=bool)
    result = reconstruct(fft2c(images), mask, reg=reg, lam=0.0, solver=solver, max_iter=3)
    np.testing.assert_allclose(result.images, images, atol=1e-5)


@pytest.mark.parametrize(("reg", "solver"), [("tv", "fista"), ("tv", "admm"), ("wavelet", "fista")])
def test_reconstruction_is_invariant_to_data_scale(reg: str, solver: str) -> None:
    kspace, mask = problem(slices=1)
    base = reconstruct(kspace, mask, reg=reg, lam=0.02, solver=solver, max_iter=30)
    for factor in (1e-12, 1e12):
        scaled = reconstruct(
            kspace * np.float32(factor), mask, reg=reg, lam=0.02, solver=solver, max_iter=30
        )
        np.testing.assert_allclose(scaled.scale / base.scale, factor, rtol=1e-5)
        np.testing.assert_allclose(
            scaled.images / np.float32(factor), base.images, atol=1e-4 * np.abs(base.images).max()
        )


def test_chunking_and_streaming_give_the_same_slices() -> None:
    kspace, mask = problem(slices=3)
    whole = reconstruct(
        kspace, mask, reg="wavelet", lam=0.02, max_iter=10, cycle_spin=True, chunk=3
    )
    parts = list(
        reconstruct_iter(
            kspace, mask, reg="wavelet", lam=0.02, max_iter=10, cycle_spin=True, chunk=1
        )
    )
    assert [p.index for p in parts] == [0, 1, 2]
    np.testing.assert_allclose(np.stack([p.image for p in parts]), whole.images, atol=1e-5)
    single = reconstruct(
        kspace[1], mask, reg="wavelet", lam=0.02, max_iter=10, cycle_spin=True, seed=0
    )
    assert single.images.shape == (1, *kspace.shape[1:]) and single.images.dtype == np.complex64


def test_tolerance_stops_early_and_records_history() -> None:
    kspace, mask = problem(slices=2)
    calls = []
    result = reconstruct(
        kspace,
        mask,
        reg="tv",
        lam=0.02,
        solver="admm",
        max_iter=500,
        tol=1e-4,
        callback=lambda it, idx, obj, images: calls.append((it, tuple(idx))),
    )
    assert all(1 < n < 500 for n in result.iterations)
    assert all(h.converged for h in result.history)
    h = result.history[0]
    assert len(h.objective) == len(h.time) == len(h.relative_change) == len(h.rho) == h.iterations
    assert calls[0] == (1, (0, 1))


def test_invalid_options_raise_usage_errors() -> None:
    kspace, mask = problem(slices=1)
    bad = [
        {"lam": -1.0},
        {"lam": float("nan")},
        {"max_iter": 0},
        {"reg": "l2"},
        {"solver": "cg"},
        {"reg": "wavelet", "wavelet": "nope"},
        {"tol": -1.0},
        {"chunk": 0},
    ]
    for options in bad:
        with pytest.raises(UsageError):
            reconstruct(kspace, mask, **options)
    with pytest.raises(UsageError, match="fista, ista, admm"):
        reconstruct(kspace, mask, solver="cg")


def test_unusable_arrays_raise_input_errors() -> None:
    kspace, mask = problem(slices=1)
    with pytest.raises(InputError):
        reconstruct(kspace, mask[:-1])
    with pytest.raises(InputError):
        reconstruct(kspace, np.zeros_like(mask))
    broken = kspace.copy()
    broken[0, 0, 0] = np.nan
    with pytest.raises(InputError):
        reconstruct(broken, mask)


class _Exploding(Regularizer):
    """A prox that returns NaN from the third call on."""

    name = "exploding"

    def __init__(self) -> None:
        self.calls = 0

    def value(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(x.shape[0])

    def prox(self, v: np.ndarray, mu: float) -> tuple[np.ndarray, None]:
        self.calls += 1
        return (v * np.nan if self.calls >= 3 else v), None


def test_non_finite_iterate_raises_solver_error_naming_the_iteration() -> None:
    kspace, mask = problem(slices=1)
    data = least_squares(Cartesian(mask), kspace)
    with pytest.raises(SolverError, match="iteration 3"):
        proximal_gradient(data, _Exploding(), 0.1, max_iter=10)


def test_fista_beats_zero_filling_on_an_undersampled_phantom() -> None:
    images = np.stack([phantom((32, 32))])
    kspace, mask = fft2c(images), np.zeros(32, dtype=bool)
    mask[::2] = True
    mask[14:18] = True
    zero_filled = ifft2c(kspace * mask)
    result = reconstruct(kspace * mask, mask, reg="tv", lam=0.01, max_iter=100)
    assert np.linalg.norm(result.images - images) < 0.7 * np.linalg.norm(zero_filled - images)


def test_regularizer_state_follows_batch_compaction() -> None:
    reg = make_regularizer("tv", (8, 8))
    v = np.ones((3, 8, 8), dtype=np.complex64)
    reg.prox(v, 0.1)
    reg.keep(np.array([0, 2]))
    x, _ = reg.prox(v[[0, 2]], 0.1)
    assert x.shape == (2, 8, 8)


@pytest.mark.parametrize("solver", ["fista", "admm"])
def test_callback_sees_iterates_in_input_units_ending_at_the_result(solver: str) -> None:
    kspace, mask = problem(slices=2)
    kspace = kspace * 1e3
    last: dict = {}

    def record(it, idx, obj, images):
        last.update(it=it, idx=tuple(idx), images=images.copy())

    result = reconstruct(
        kspace, mask, reg="tv", lam=0.01, solver=solver, max_iter=8, callback=record
    )
    assert last["it"] == 8 and last["idx"] == (0, 1)
    np.testing.assert_allclose(last["images"], result.images, rtol=1e-4, atol=1e-3)


def test_input_and_usage_errors_are_value_errors_for_library_callers() -> None:
    kspace, mask = problem(slices=1)
    with pytest.raises(ValueError, match="lambda"):
        reconstruct(kspace, mask, lam=-1.0)
    with pytest.raises(ValueError, match="mask samples nothing"):
        reconstruct(kspace, np.zeros_like(mask))
    with pytest.raises(ValueError, match="not orthogonal"):
        reconstruct(kspace, mask, reg="wavelet", wavelet="bior2.2")
