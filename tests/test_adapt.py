"""Test-time adaptation (learned.adapt): what the loss may see, that it helps, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.main import csmri
from csmri.errors import InputError, UsageError
from csmri.io.images import load_sample, shepp_logan
from csmri.mri.fft import fft2c
from csmri.mri.masks import random_mask
from csmri.mri.simulate import simulate
from learned.adapt import (
    MAX_STEPS,
    AdaptConfig,
    ScanModel,
    adapt_model,
    centre_units,
    holdout_set,
)
from learned.data.manifest import build_manifest
from learned.infer import reconstruct, reconstruct_unrolled, shipped_weights_path
from learned.method import UnetMethod
from learned.models.checkpoint import load_model, save_model
from learned.models.unet import NormUnet, UNetConfig
from learned.models.unrolled import UnrolledConfig, UnrolledNet

SIZE = 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny() -> NormUnet:
    torch.manual_seed(0)
    return NormUnet(UNetConfig(chans=4, depth=2))


def tiny_unrolled() -> UnrolledNet:
    torch.manual_seed(0)
    return UnrolledNet(UnrolledConfig(cascades=2, chans=4, depth=2))


def phantom_kspace(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fully sampled k-space of a small phantom with smooth phase, and a 2x column mask."""
    image = shepp_logan(SIZE).astype(np.complex64)
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
    image *= np.exp(1j * (0.8 * xx - 0.5 * yy))
    mask = random_mask(SIZE, 0.15, 2, seed=seed).mask
    return fft2c(image).astype(np.complex64), mask, np.abs(image)


def weights(model: torch.nn.Module) -> list[np.ndarray]:
    return [p.detach().cpu().numpy().copy() for p in model.parameters()]


FAST = AdaptConfig(steps=6, lr=1e-3, check_every=1, patience=100, seed=3)


def test_centre_and_holdout_sets_are_disjoint_measured_units() -> None:
    _, mask, _ = phantom_kspace()
    centre, holdout = holdout_set(mask, 0.3, np.random.default_rng(0))
    assert centre.any() and holdout.any()
    assert not (centre & holdout).any() and not (holdout & ~mask).any()
    assert centre[SIZE // 2] and (centre <= mask).all()
    square = np.zeros((9, 9), bool)
    square[2:7, 2:7] = True  # fully sampled 5x5 around (4, 4)
    square[0, 0] = square[4, 8] = True  # sampled, but not in the centred square
    expected = np.zeros_like(square)
    expected[2:7, 2:7] = True
    np.testing.assert_array_equal(centre_units(square), expected)


def test_loss_ignores_the_target_and_the_held_out_samples() -> None:
    """Perturbing unmeasured k-space (the target) and the held-out samples leaves every
    training loss unchanged; only the early-stopping checks see the held-out change."""
    kspace, mask, _ = phantom_kspace()
    _, holdout = holdout_set(mask, FAST.holdout_fraction, np.random.default_rng(FAST.seed))
    rng = np.random.default_rng(7)
    noise = (rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape)) * 5
    changed = kspace + (noise * (~mask | holdout)).astype(np.complex64)
    base = adapt_model(tiny(), kspace, mask, FAST)
    other = adapt_model(tiny(), changed, mask, FAST)
    assert base.losses == other.losses and len(base.losses) == FAST.steps
    assert [c[1] for c in base.checks] != [c[1] for c in other.checks]
    # only the unmeasured part changed: the checks are identical too (nothing off-mask is read)
    off_mask = adapt_model(tiny(), kspace + (noise * ~mask).astype(np.complex64), mask, FAST)
    assert off_mask.losses == base.losses and off_mask.checks == base.checks


def test_loss_gradients_come_only_from_input_and_loss_samples() -> None:
    kspace, mask, _ = phantom_kspace()
    centre, holdout = holdout_set(mask, 0.3, np.random.default_rng(0))
    loss_set = mask & ~centre & ~holdout
    loss_set[np.flatnonzero(loss_set)[::2]] = False
    inputs = mask & ~holdout & ~loss_set

    def gradients(k: np.ndarray) -> tuple[float, list[np.ndarray]]:
        net = tiny()
        scan = ScanModel(net, torch.as_tensor(k), torch.as_tensor(centre))
        loss = scan.error(torch.as_tensor(inputs), torch.as_tensor(loss_set))
        loss.backward()
        return float(loss.detach()), [p.grad.numpy().copy() for p in net.parameters()]

    loss, grads = gradients(kspace)
    elsewhere = kspace.copy()
    elsewhere[:, ~(inputs | loss_set)] *= -3  # target-only and held-out columns
    loss2, grads2 = gradients(elsewhere)
    assert loss == loss2
    for a, b in zip(grads, grads2):
        np.testing.assert_array_equal(a, b)
    on_loss = kspace.copy()
    on_loss[:, loss_set] *= 1.5  # the loss does read its own samples
    assert gradients(on_loss)[0] != loss


@pytest.mark.skipif(not shipped_weights_path().is_file(), reason="shipped weights not built")
def test_adaptation_lowers_the_held_out_error_and_leaves_the_model_alone() -> None:
    """The shipped U-Net on a 128x128 brain crop at 4x: the first steps lower the error on
    the held-out measured columns (the samples no loss ever saw)."""
    # whatever U-Net weights ship; their provenance does not matter here
    model = load_model(shipped_weights_path(), require_manifest=False)[0]
    before = weights(model)
    sim = simulate(load_sample()[8, 44:172, 26:154], 4, 0.08, seed=1, noise=0.005)
    config = AdaptConfig(steps=20, lr=1e-4, check_every=5, patience=100, seed=0)
    result = adapt_model(model, sim.kspace[0], sim.mask, config)
    start, best = result.checks[0][1], min(error for _, error in result.checks)
    assert result.best_step > 0 and best < 0.97 * start
    assert dict(result.checks)[result.best_step] == best
    for a, b in zip(before, weights(model)):
        np.testing.assert_array_equal(a, b)
    assert any((a != b).any() for a, b in zip(before, weights(result.model)))


def test_early_stopping_keeps_the_unadapted_model_when_fitting_only_hurts() -> None:
    kspace, mask, _ = phantom_kspace()
    model = tiny()
    # a huge learning rate wrecks the network at once: every check is worse than step 0
    config = AdaptConfig(steps=20, lr=10.0, check_every=1, patience=3, seed=0)
    result = adapt_model(model, kspace, mask, config)
    assert result.best_step == 0 and result.steps_run == 3
    for a, b in zip(weights(model), weights(result.model)):
        np.testing.assert_array_equal(a, b)


def test_same_seed_same_output_other_seed_other_output() -> None:
    kspace, mask, _ = phantom_kspace()
    stack = (kspace * mask)[None]
    run = [reconstruct(stack, mask, model=tiny(), adapt_steps=4, adapt_seed=s) for s in (1, 1, 2)]
    np.testing.assert_array_equal(run[0], run[1])
    assert not np.array_equal(run[0], run[2])
    plain = reconstruct(stack, mask, model=tiny())
    assert not np.array_equal(run[0], plain)


def test_unet_method_adapted_row_counts_steps() -> None:
    kspace, mask, _ = phantom_kspace()
    stack = np.stack([kspace, kspace]) * mask
    method = UnetMethod(model=tiny()).adapted(3, seed=0)
    result = method.run(stack, mask)
    assert method.name == "unet+adapt" and result.images.shape == stack.shape
    assert all(1 <= steps <= 3 for steps in result.iterations)


@pytest.mark.parametrize("steps", [-1, MAX_STEPS + 1, 2.5, True])
def test_bad_step_counts_are_refused(steps) -> None:
    kspace, mask, _ = phantom_kspace()
    with pytest.raises(UsageError, match="adaptation steps"):
        reconstruct((kspace * mask)[None], mask, model=tiny(), adapt_steps=steps)


def test_bad_inputs_are_refused() -> None:
    kspace, mask, _ = phantom_kspace()
    with pytest.raises(InputError, match="outside the fully sampled centre"):
        adapt_model(tiny(), kspace, centre_units(mask) | (np.arange(SIZE) == 0), FAST)
    with pytest.raises(InputError, match="does not match"):
        adapt_model(tiny(), kspace, mask[:-1], FAST)
    with pytest.raises(InputError, match="NaN"):
        adapt_model(tiny(), np.full_like(kspace, np.nan), mask, FAST)
    with pytest.raises(UsageError, match="strictly between"):
        AdaptConfig(loss_fraction=1.0).validate()


def test_unrolled_adapts_single_and_multi_coil_deterministically() -> None:
    kspace, mask, _ = phantom_kspace()
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((3, SIZE, SIZE)) + 1j * rng.standard_normal((3, SIZE, SIZE))
    maps = (maps / np.sqrt((np.abs(maps) ** 2).sum(0))).astype(np.complex64)
    coils = fft2c(maps * _image(kspace)) * mask
    model = tiny_unrolled()
    before = weights(model)
    single = [reconstruct_unrolled((kspace * mask)[None], mask, model, adapt_steps=3,
                                   adapt_seed=5) for _ in range(2)]
    multi = [reconstruct_unrolled(coils[None], mask, model, maps=maps, adapt_steps=3,
                                  adapt_seed=5) for _ in range(2)]
    plain = reconstruct_unrolled(coils[None], mask, model, maps=maps)
    np.testing.assert_array_equal(single[0], single[1])
    np.testing.assert_array_equal(multi[0], multi[1])
    assert multi[0].shape == plain.shape == (1, SIZE, SIZE)
    assert not np.array_equal(multi[0], plain)
    for a, b in zip(before, weights(model)):
        np.testing.assert_array_equal(a, b)


def test_multi_coil_loss_ignores_other_samples() -> None:
    kspace, mask, _ = phantom_kspace()
    maps = np.stack([np.ones((SIZE, SIZE)), np.linspace(0, 1, SIZE)[None].repeat(SIZE, 0)])
    maps = (maps / np.sqrt((np.abs(maps) ** 2).sum(0))).astype(np.complex64)
    coils = fft2c(maps * _image(kspace))
    result = adapt_model(tiny(), coils, mask, FAST, maps=maps)
    changed = coils + 3 * (~mask)  # only unmeasured samples differ
    again = adapt_model(tiny(), changed, mask, FAST, maps=maps)
    assert result.losses == again.losses and len(result.losses) == FAST.steps


def _image(kspace: np.ndarray) -> np.ndarray:
    from csmri.mri.fft import ifft2c

    return ifft2c(kspace).astype(np.complex64)


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adapt")
    kspace_path = folder / "k.h5"
    result = CliRunner().invoke(
        csmri,
        ["simulate", "-o", str(kspace_path), "--slices", "5:6", "--noise", "0.005", "--seed", "1"],
    )
    assert result.exit_code == 0, result.output
    model_path = folder / "tiny.safetensors"
    source = {"subject": "s", "file": "s.nii", "sha256": "c" * 64,
              "train_slices": {}, "val_slices": {}}
    metadata = {"manifest": build_manifest([source], {}, [], "test")}
    net = tiny()
    save_model(model_path, net, net.config, metadata)
    unrolled_path = folder / "tiny_unrolled.safetensors"
    unrolled = tiny_unrolled()
    save_model(unrolled_path, unrolled, unrolled.config, metadata)
    return kspace_path, model_path, unrolled_path


def _invoke(*args):
    return CliRunner().invoke(csmri, [*map(str, args)])


def test_solve_adapt_end_to_end(tmp_path, small_files) -> None:
    kspace_path, model_path, _unrolled_path = small_files
    out = tmp_path / "a.npy"
    result = _invoke(
        "solve", kspace_path, "-o", out, "--method", "unet", "--model", model_path, "--adapt", 3
    )
    assert result.exit_code == 0, result.output
    assert "unet+adapt: 1 slices" in result.stdout and "adaptation steps" in result.stdout
    plain = tmp_path / "p.npy"
    _invoke("solve", kspace_path, "-o", plain, "--method", "unet", "--model", model_path)
    assert np.load(out).shape == np.load(plain).shape
    assert not np.array_equal(np.load(out), np.load(plain))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--method", "cs", "--adapt", "5"], "--adapt works only with a learned --method"),
        (["--method", "zero-filled", "--adapt", "5"], "--adapt works only"),
        (["--method", "unet", "--adapt", "-3"], "-3 is not in the range x>=0"),
        (["--method", "unet", "--adapt", str(MAX_STEPS + 1)], "adaptation steps must lie in"),
    ],
)
def test_solve_refuses_bad_adapt_with_one_line(tmp_path, small_files, args, message) -> None:
    kspace_path, model_path, _unrolled_path = small_files
    out = tmp_path / "x.npy"
    result = _invoke("solve", kspace_path, "-o", out, "--model", model_path, *args)
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_solve_unrolled_adapt_end_to_end(tmp_path, small_files) -> None:
    kspace_path, _model_path, unrolled_path = small_files
    out = tmp_path / "u.npy"
    result = _invoke("solve", kspace_path, "-o", out, "--method", "unrolled", "--model",
                     unrolled_path, "--adapt", 2)
    assert result.exit_code == 0, result.output
    assert "unrolled+adapt: 1 slices" in result.stdout and np.isfinite(np.load(out)).all()


def test_compare_adds_adapted_rows_next_to_plain_ones(small_files) -> None:
    import json

    kspace_path, model_path, _unrolled_path = small_files
    result = _invoke(
        "compare", kspace_path, "--methods", "zero-filled,unet", "--model", model_path,
        "--adapt", 2, "--lam", "0.01", "--format", "json",
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert [row["method"] for row in rows] == ["zero-filled", "unet", "unet+adapt"]
    adapted = rows[2]
    assert 1 <= adapted["iterations"] <= 2 and adapted["seconds"] > 0
    refused = _invoke("compare", kspace_path, "--methods", "zero-filled", "--adapt", 2)
    assert refused.exit_code == 2 and "--adapt needs a learned method" in refused.output
