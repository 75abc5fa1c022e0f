"""The unrolled network: shapes, gradients, data consistency, files and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.main import csmri
from csmri.errors import InputError
from csmri.linop import Cartesian, Sense
from csmri.mri.masks import make_mask
from learned.data.manifest import build_manifest
from learned.infer import reconstruct_unrolled
from learned.models.checkpoint import load_model, save_model
from learned.models.unet import NORMS, NormUnet, UNetConfig
from learned.models.unrolled import UnrolledConfig, UnrolledNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(norm: str = "group", cascades: int = 2) -> UnrolledNet:
    torch.manual_seed(0)
    return UnrolledNet(UnrolledConfig(cascades=cascades, chans=4, depth=2, norm=norm))


def _complex(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(*shape, generator=g), torch.randn(*shape, generator=g))


def _mask(width: int = 20) -> np.ndarray:
    return make_mask("random", width, 0.16, 3.0, 1).mask


def _multicoil(coils: int = 3, h: int = 18, w: int = 20):
    maps = _complex(2, coils, h, w, seed=1)
    maps = maps / maps.abs().square().sum(1, keepdim=True).sqrt()
    op = Sense(maps, _mask(w))
    return op, op.forward(_complex(2, h, w, seed=2))


@pytest.mark.parametrize("norm", NORMS)
def test_single_coil_forward_and_backward(norm: str) -> None:
    model = tiny(norm)
    op = Cartesian(_mask())
    kspace = op.forward(_complex(3, 18, 20))  # 18 x 20: padded to a multiple of 4 inside
    out = model(kspace, op)
    assert out.shape == (3, 18, 20) and not out.is_complex()
    out.square().mean().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    assert model.eta.grad.abs().sum() > 0


def test_multi_coil_forward_and_backward() -> None:
    model = tiny()
    op, kspace = _multicoil()
    out = model(kspace, op)
    assert out.shape == (2, 18, 20)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_untrained_network_is_data_consistent_zero_filling() -> None:
    # U-Net outputs start near zero and eta = 1: each cascade is x - A^H (A x - y), which
    # for single-coil Cartesian data keeps A^H y (already consistent).
    model = tiny().eval()
    op = Cartesian(_mask())
    kspace = op.forward(_complex(2, 16, 20))
    with torch.no_grad():
        torch.testing.assert_close(model(kspace, op), op.adjoint(kspace).abs(),
                                   atol=2e-2, rtol=2e-2)


@pytest.mark.parametrize("coils", [0, 4])
def test_data_consistency_step_reduces_the_kspace_residual(coils: int) -> None:
    model = tiny()
    if coils:
        op, kspace = _multicoil(coils)
    else:
        op = Cartesian(_mask())
        kspace = op.forward(_complex(2, 18, 20, seed=3))
    x = _complex(2, 18, 20, seed=4)
    with torch.no_grad():
        for eta in (0.3, 1.0, 1.7):
            model.eta.fill_(eta)
            before = (op.forward(x) - kspace).abs().norm()
            after = (op.forward(model.data_consistency(x, kspace, op, 0)) - kspace).abs().norm()
            assert after < before * (1 - 0.2 * min(eta, 2 - eta))


def test_config_validation() -> None:
    for bad in (dict(cascades=0), dict(norm="fancy"), dict(depth=9), dict(eta=float("nan"))):
        with pytest.raises(ValueError):
            UnrolledConfig(**bad).validate()


def _metadata() -> dict:
    source = {"subject": "s", "file": "s.nii", "sha256": "c" * 64,
              "train_slices": {}, "val_slices": {}}
    return {"manifest": build_manifest([source], {}, [], "test")}


def test_file_round_trip_and_kind_refusal(tmp_path) -> None:
    model = tiny()
    path = save_model(tmp_path / "r.safetensors", model, model.config, _metadata())
    loaded, config, _ = load_model(path, kind="unrolled")
    assert config == model.config
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    with pytest.raises(InputError, match="unrolled network weights, not U-Net") as error:
        load_model(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    unet = NormUnet(UNetConfig(chans=4, depth=2))
    unet_path = save_model(tmp_path / "u.safetensors", unet, unet.config, _metadata())
    with pytest.raises(InputError, match="U-Net weights, not unrolled"):
        load_model(unet_path, kind="unrolled")


def test_reconstruct_refuses_bad_input() -> None:
    model = tiny()
    kspace = np.zeros((2, 16, 20), np.complex64)
    with pytest.raises(InputError, match="columns"):
        reconstruct_unrolled(kspace, np.ones(19, bool), model)
    bad = kspace.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        reconstruct_unrolled(bad, np.ones(20, bool), model)
    with pytest.raises(InputError, match="coil maps"):
        reconstruct_unrolled(np.zeros((2, 3, 16, 20), np.complex64), np.ones(20, bool), model,
                             maps=np.ones((2, 2, 16, 20), np.complex64))


def test_reconstruct_multicoil_matches_the_module() -> None:
    model = tiny().eval()
    op, kspace = _multicoil()
    with torch.no_grad():
        expected = model(kspace, op).numpy()
    got = reconstruct_unrolled(kspace.numpy(), op.mask, model, maps=op.maps.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_cli_train_solve_and_refusals_end_to_end(tmp_path) -> None:
    runner = CliRunner()
    rng = np.random.default_rng(0)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        image = np.zeros((32, 32), np.float32)
        image[6:26, 8:24] = 1 + rng.random((20, 16))
        np.save(folder / f"sub{i}_slice.npy", image)
    model = tmp_path / "unrolled.safetensors"
    result = runner.invoke(csmri, [
        "train", "--model", "unrolled", "--data", str(folder), "-o", str(model),
        "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2", "--patch", "32",
        "--chans", "4", "--depth", "2", "--cascades", "2", "--optimizer", "rmsprop",
        "--val-fraction", "0.34",
    ])
    assert result.exit_code == 0, result.output
    kspace = tmp_path / "k.h5"
    result = runner.invoke(csmri, ["simulate", "-o", str(kspace), "--slices", "5:6",
                                   "--seed", "1"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "r.h5"
    result = runner.invoke(csmri, ["solve", str(kspace), "-o", str(out), "--method", "unrolled",
                                   "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert "unrolled: 1 slices" in result.output and "PSNR" in result.output
    import h5py

    with h5py.File(out) as f:
        assert f["reconstruction"].shape == (1, 217, 181)
        assert np.isfinite(f["reconstruction"][()]).all()
    wrong = tmp_path / "w.h5"
    result = runner.invoke(csmri, ["solve", str(kspace), "-o", str(wrong), "--method", "unet",
                                   "--model", str(model)])
    assert result.exit_code != 0 and "use it with --method unrolled" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not wrong.exists()


def test_phase_reference_makes_the_network_blind_to_a_global_phase() -> None:
    """With the phase reference, a constant phase on the data turns the output image by
    that phase and leaves the magnitude unchanged (without it, it does not)."""
    op = Cartesian(_mask())
    image = _complex(2, 18, 20, seed=3)
    kspace = op.forward(image)
    turn = torch.polar(torch.tensor(1.0), torch.tensor(1.1)).to(torch.complex64)
    model = tiny(cascades=2)
    with torch.no_grad():
        for p in model.parameters():  # the untrained net's updates are near zero: enlarge
            p.mul_(3.0)
        base, turned = model.image(kspace, op), model.image(kspace * turn, op)
        np.testing.assert_allclose(turned.numpy(), (base * turn).numpy(), atol=1e-4)
        model.config.phase_ref = False
        plain, plain_turned = model(kspace, op), model(kspace * turn, op)
    assert (plain - plain_turned).abs().max() > 1e-3


def test_old_unrolled_files_load_without_the_phase_reference(tmp_path) -> None:
    from learned.models.checkpoint import load_tensors, save_tensors

    model = tiny()
    path = tmp_path / "old.safetensors"
    save_model(path, model, model.config, {})
    tensors, header = load_tensors(path)
    del header["config"]["phase_ref"]  # as written before the field existed
    save_tensors(path, tensors, header)
    _, config, _ = load_model(path, kind="unrolled", require_manifest=False)
    assert config.phase_ref is False
