"""MoDL data consistency and the multi-coil training simulation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from csmri.linop import Cartesian, Sense
from csmri.mri.fft import fft2c, ifft2c
from csmri.mri.masks import make_mask
from learned.data.coil_arrays import (
    LAYOUTS,
    coil_noise,
    noise_covariance,
    random_array,
    transmit_field,
)
from learned.data.multicoil import place, simulate_coils
from learned.models.checkpoint import load_model, load_tensors, save_model, save_tensors
from learned.models.unrolled import UnrolledConfig, UnrolledNet, conjugate_gradient
from learned.training.losses import combined_loss, ssim_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _complex(*shape: int, seed: int = 0, dtype=torch.complex128) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(*shape, generator=g, dtype=torch.float64),
                         torch.randn(*shape, generator=g, dtype=torch.float64)).to(dtype)


def _sense(coils: int = 4, h: int = 16, w: int = 18) -> Sense:
    maps = torch.from_numpy(random_array((h, w), coils, np.random.default_rng(3)))
    mask = make_mask("random", w, 0.2, 3.0, 2).mask
    return Sense(maps[None].to(torch.complex128), mask)


def test_cg_solves_the_sense_normal_equations() -> None:
    op = _sense()
    rhs, mu = _complex(1, 16, 18), torch.tensor(0.05, dtype=torch.float64)
    x = conjugate_gradient(op, rhs, mu, torch.zeros_like(rhs), 60)
    # against the dense solve of (A^H A + mu I) x = rhs
    n = 16 * 18
    basis = torch.eye(n, dtype=torch.complex128).reshape(n, 16, 18)
    gram = torch.stack([op.normal(b[None])[0].flatten() for b in basis], dim=1)
    dense = torch.linalg.solve(gram + mu * torch.eye(n, dtype=torch.complex128), rhs.flatten())
    torch.testing.assert_close(x.flatten(), dense, atol=1e-10, rtol=1e-8)


def test_cg_is_exact_after_two_iterations_for_one_coil_and_stays_finite() -> None:
    mask = make_mask("random", 18, 0.2, 3.0, 2).mask
    op = Cartesian(mask, (16, 18))
    rhs, mu = _complex(2, 16, 18), torch.tensor(0.1, dtype=torch.float64)
    exact = op.adjoint(op.forward(rhs)) / (1 + mu) + (rhs - op.adjoint(op.forward(rhs))) / mu
    for iters in (2, 8):  # after convergence, the zero residual gives a zero step, no NaN
        x = conjugate_gradient(op, rhs, mu, torch.zeros_like(rhs), iters)
        torch.testing.assert_close(x, exact, atol=1e-10, rtol=1e-10)


def test_cg_gradients_match_finite_differences() -> None:
    op = _sense(coils=2, h=6, w=8)
    rhs = _complex(1, 6, 8).requires_grad_(True)
    mu = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)

    def solve(rhs, mu):
        return conjugate_gradient(op, rhs, mu, torch.zeros_like(rhs), 3).abs()

    assert torch.autograd.gradcheck(solve, (rhs, mu))


def test_modl_network_trains_and_its_output_is_nearly_data_consistent() -> None:
    torch.manual_seed(0)
    net = UnrolledNet(UnrolledConfig(cascades=2, chans=4, depth=1, dc="cg", cg_iters=8))
    assert net.config.eta == pytest.approx(0.1)
    op = _sense(coils=6)
    op = Sense(op.maps.to(torch.complex64), op.mask)
    kspace = op.forward(_complex(2, 16, 18, dtype=torch.complex64))
    image = net.image(kspace, op)
    net.image(kspace, op).abs().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    # with mu = 0.1 the last CG solve is pulled to the data: residual far below |y|
    residual = (op.forward(image.detach()) - kspace).abs().norm() / kspace.abs().norm()
    assert residual < 0.15
    # and the network is equivariant to the data's scale (it works in normalised units)
    with torch.no_grad():
        torch.testing.assert_close(net(kspace * 1e-5, op), net(kspace, op) * 1e-5,
                                   rtol=1e-3, atol=1e-9)


def test_config_refuses_unknown_dc_and_old_files_load_as_gradient(tmp_path) -> None:
    with pytest.raises(ValueError, match="dc"):
        UnrolledConfig(dc="exact").validate()
    with pytest.raises(ValueError, match="cg_iters"):
        UnrolledConfig(dc="cg", cg_iters=0).validate()
    model = UnrolledNet(UnrolledConfig(cascades=1, chans=4, depth=1))
    path = tmp_path / "old.safetensors"
    save_model(path, model, model.config, {})
    tensors, header = load_tensors(path)
    for name in ("dc", "cg_iters"):
        del header["config"][name]  # as written before the fields existed
    save_tensors(path, tensors, header)
    _, config, _ = load_model(path, kind="unrolled", require_manifest=False)
    assert config.dc == "gradient" and config.eta == 1.0


@pytest.mark.parametrize("coils", [1, 5, 12])
def test_random_arrays_are_rss_normalised_and_differ_between_draws(coils: int) -> None:
    shapes = set()
    for seed in range(6):
        maps = random_array((20, 24), coils, np.random.default_rng(seed))
        assert maps.shape == (coils, 20, 24) and maps.dtype == np.complex64
        np.testing.assert_allclose(np.sum(np.abs(maps) ** 2, axis=0), 1.0, rtol=1e-5)
        shapes.add(np.round(np.abs(maps[0, 10, ::6]), 3).tobytes())
    assert coils == 1 or len(shapes) == 6
    again = random_array((20, 24), coils, np.random.default_rng(5))
    np.testing.assert_array_equal(again, maps)
    assert len(LAYOUTS) == 4


def test_noise_covariance_is_positive_definite_and_noise_has_it() -> None:
    rng = np.random.default_rng(0)
    covariance = noise_covariance(6, rng)
    assert np.all(np.linalg.eigvalsh(covariance) > 0)
    assert np.mean(np.diag(covariance)) == pytest.approx(1.0)
    noise = coil_noise((6, 200, 200), covariance, 0.5, rng).reshape(6, -1)
    measured = noise @ noise.conj().T / noise.shape[1]
    np.testing.assert_allclose(measured.real, 0.25 * covariance, atol=0.01)
    bias = transmit_field((32, 32), rng)
    assert bias.min() > 0.3 and bias.max() < 3 and bias.std() > 0.01


def test_place_zooms_and_cuts_a_window() -> None:
    image = np.ones((60, 80), np.float32)
    for seed in range(5):
        window = place(image, 64, np.random.default_rng(seed))
        assert window.shape == (64, 64) and window.dtype == np.float32
        assert 0 < window.mean() <= 1
    complex_window = place(image * (1 + 1j), 32, np.random.default_rng(0))
    assert complex_window.dtype == np.complex64


def test_simulated_coil_kspace_is_the_masked_fft_of_maps_times_image() -> None:
    rng = np.random.default_rng(1)
    image = np.abs(rng.standard_normal((48, 48))).astype(np.float32)
    mask = make_mask("random", 32, 0.16, 4.0, 0).mask
    example = simulate_coils(image, 32, 4, mask, 0.0, rng)
    assert example.kspace.shape == example.maps.shape == (4, 32, 32)
    assert np.all(example.kspace[..., ~mask] == 0)
    # noise-free: the SENSE-combined full image has the target as its magnitude
    combined = np.sum(np.conj(example.maps) * ifft2c(fft2c(example.maps * example.target)), 0)
    np.testing.assert_allclose(np.abs(combined), example.target, atol=1e-4)
    noisy = simulate_coils(image, 32, 4, mask, 0.05, np.random.default_rng(1))
    assert not np.allclose(noisy.kspace, example.kspace)


def test_combined_loss_mixes_ssim_and_l1() -> None:
    g = torch.Generator().manual_seed(0)
    target = torch.rand(2, 16, 16, generator=g)
    estimate = target + 0.1 * torch.rand(2, 16, 16, generator=g)
    scale = torch.ones(2)
    l1 = combined_loss("l1", estimate, target, scale)
    both = combined_loss("ssim-l1", estimate, target, scale)
    assert both == pytest.approx(0.84 * float(ssim_loss(estimate, target)) + 0.16 * float(l1))
    assert float(combined_loss("l1", estimate, target, 2 * scale)) == pytest.approx(float(l1) / 2)


def test_scanner_phase_is_rougher_than_the_smooth_model_and_seeded() -> None:
    from csmri.mri.simulate import smooth_phase
    from learned.data.multicoil import scanner_phase
    from learned.models.unrolled import phase_reference

    magnitude = np.ones((64, 64), np.float32)
    magnitude[20:44, 20:44] = 3.0

    def roughness(phase: np.ndarray) -> float:
        image = torch.from_numpy((magnitude * np.exp(1j * phase)).astype(np.complex64))[None]
        low = phase_reference(image)[0].numpy()
        return float(np.sqrt(np.mean(np.angle(np.exp(1j * phase) * np.conj(low)) ** 2)))

    smooth = np.mean([roughness(smooth_phase((64, 64), np.random.default_rng(s)))
                      for s in range(8)])
    scanner = np.mean([roughness(scanner_phase(magnitude, np.random.default_rng(s)))
                       for s in range(8)])
    assert scanner > 2 * smooth
    np.testing.assert_array_equal(scanner_phase(magnitude, np.random.default_rng(3)),
                                  scanner_phase(magnitude, np.random.default_rng(3)))


@pytest.mark.parametrize("shape", [(16, 18), (15, 17)])
def test_column_mask_normal_equals_the_two_dimensional_one(shape) -> None:
    rng = np.random.default_rng(0)
    mask = rng.random(shape[1]) < 0.4
    x = (rng.standard_normal((2, *shape)) + 1j * rng.standard_normal((2, *shape)))
    op = Cartesian(mask, shape)
    expected = ifft2c(fft2c(x) * mask)
    np.testing.assert_allclose(op.normal(x), expected, atol=1e-12)
    torch.testing.assert_close(op.normal(torch.from_numpy(x)), torch.from_numpy(expected))
    maps = rng.standard_normal((3, *shape)) + 1j * rng.standard_normal((3, *shape))
    sense = Sense(maps, mask)
    np.testing.assert_allclose(sense.normal(x), sense.adjoint(sense.forward(x)), atol=1e-12)


def test_unrolled_inference_compresses_many_coils_without_changing_the_answer_much() -> None:
    from learned.infer import MAX_UNROLLED_COILS, reconstruct_unrolled

    rng = np.random.default_rng(0)
    h = w = 32
    image = np.zeros((h, w), np.complex64)
    image[8:24, 6:26] = 1
    maps = random_array((h, w), 12, rng)
    kspace = fft2c(maps * image)[None]
    mask = make_mask("random", w, 0.25, 2.0, 0).mask
    torch.manual_seed(0)
    net = UnrolledNet(UnrolledConfig(cascades=1, chans=4, depth=1, dc="cg", cg_iters=8))
    out = reconstruct_unrolled(kspace * mask, mask, model=net, maps=maps[None])
    assert MAX_UNROLLED_COILS < 12 and out.shape == (1, h, w)
    # noise-free data of a rank-limited array: 8 virtual coils keep the solution
    full = Sense(torch.from_numpy(maps[None]), mask)
    with torch.no_grad():
        reference = net(torch.from_numpy((kspace * mask).astype(np.complex64)), full).numpy()
    assert np.abs(out - reference).max() < 0.05 * np.abs(reference).max()
