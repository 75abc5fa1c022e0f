"""Tests of the learned reconstruction (tiny models and data: a few seconds on 2 cores)."""

from __future__ import annotations

import json
import pickle

import nibabel as nib
import numpy as np
import pytest
import torch

from csmri.errors import InputError
from csmri.mri.fft import fft2c
from csmri.mri.simulate import simulate
from learned.data.dataset import (
    SimulationConfig,
    colin27_policy,
    load_slices,
    parse_source,
    training_batch,
)
from learned.data.manifest import build_manifest
from learned.infer import reconstruct
from learned.models.checkpoint import (
    load_model,
    load_optimizer,
    load_tensors,
    save_model,
    save_optimizer,
    save_tensors,
)
from learned.models.consistency import DC_MODES, centre_block, data_consistency, replace_columns
from learned.models.unet import NORMS, NormUnet, UNetConfig
from learned.training.train import TrainConfig, compute_loss, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def manifest_metadata(**extra) -> dict:
    """Minimal metadata with a well-formed training manifest."""
    source = {"subject": "s1", "file": "s1.nii.gz", "sha256": "0" * 64,
              "train_slices": {"2": [[0, 3]]}, "val_slices": {}}
    return {"manifest": build_manifest([source], {"flips": True}, ["0" * 16], "test"), **extra}


def tiny(norm: str = "group", input: str = "magnitude", dc: str = "none") -> NormUnet:
    torch.manual_seed(0)
    return NormUnet(UNetConfig(chans=4, depth=2, norm=norm, input=input, data_consistency=dc))


@pytest.mark.parametrize("input_kind", ["magnitude", "complex"])
@pytest.mark.parametrize("norm", NORMS)
def test_shapes_and_gradients(norm: str, input_kind: str) -> None:
    model = tiny(norm, input_kind)
    x = torch.randn(3, 2, 30, 22)  # not a multiple of 2**depth: padded and cropped back
    out = model(x)
    assert out.shape == (3, 30, 22)
    out.square().mean().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.isfinite(param.grad).all(), name
    assert model.unet.out.weight.grad.abs().sum() > 0


def test_output_in_input_units() -> None:
    model = tiny().eval()
    x = torch.randn(2, 2, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(5 * x), 5 * model(x), rtol=1e-4, atol=1e-5)


def _images(tmp_path, count: int = 6, size: int = 32):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size] / size
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(count):
        cy, cx = rng.uniform(0.35, 0.65, 2)
        r = rng.uniform(0.2, 0.3)
        image = ((yy - cy) ** 2 + (xx - cx) ** 2 < r**2).astype(np.float32)
        image += 0.5 * ((yy - cy) ** 2 + (xx - cx) ** 2 < (r / 2) ** 2)
        np.save(folder / f"im{i}.npy", image)
    return folder


def _config(tmp_path, **changes) -> TrainConfig:
    fields = dict(
        data=[str(_images(tmp_path))]
        if not (tmp_path / "images").exists()
        else [str(tmp_path / "images")],
        output=str(tmp_path / "model.safetensors"),
        epochs=3,
        steps_per_epoch=6,
        batch_size=4,
        chans=4,
        depth=2,
        patch=0,
        lr=1e-2,
        val_fraction=0.34,
        progress=False,
        seed=3,
    )
    fields.update(changes)
    return TrainConfig(**fields)


def _fixed_batch_loss(model: NormUnet, config: TrainConfig) -> float:
    slices = load_slices(config.data)
    inputs, targets = training_batch(
        slices.images,
        np.arange(len(slices.images)),
        SimulationConfig(),
        0,
        seed=99,
        epoch=0,
        step=0,
    )
    with torch.no_grad():
        return float(
            compute_loss(model.eval(), torch.from_numpy(inputs), torch.from_numpy(targets), "l1")
        )


def test_training_lowers_the_loss_and_writes_a_model(tmp_path) -> None:
    config = _config(tmp_path, epochs=4, steps_per_epoch=8)
    torch.manual_seed(config.seed)
    before = _fixed_batch_loss(NormUnet(config.unet_config()), config)
    result = train(config)
    trained, _, _ = load_model(tmp_path / "model.last.safetensors")
    after = _fixed_batch_loss(trained, config)
    print(before, after)
    assert after < 0.9 * before
    assert result.model_path.is_file()
    _, config, metadata = load_model(result.model_path)
    assert config.chans == 4
    assert config.data_consistency in DC_MODES
    assert metadata["data"]["fingerprint_sha256"]
    assert "psnr" in result.best_metrics
    sidecar = json.loads(result.model_path.with_suffix(".json").read_text())
    assert sidecar["config"]["depth"] == 2
    assert "summary" in dir(result) and "best epoch" in result.summary()


def test_training_is_deterministic_and_resumable(tmp_path) -> None:
    # A constant learning rate, so that a 1-epoch run is the first half of a 2-epoch run.
    full = train(
        _config(tmp_path, epochs=2, output=str(tmp_path / "a.safetensors"), lr_schedule="constant")
    )
    train(
        _config(tmp_path, epochs=1, output=str(tmp_path / "b.safetensors"), lr_schedule="constant")
    )
    resumed = train(
        _config(
            tmp_path,
            epochs=2,
            output=str(tmp_path / "b.safetensors"),
            resume=str(tmp_path / "b.safetensors"),
            lr_schedule="constant",
        )
    )
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]
    a, _, _ = load_model(tmp_path / "a.last.safetensors")
    b, _, _ = load_model(tmp_path / "b.last.safetensors")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name


@pytest.mark.parametrize("optimizer", ["rmsprop", "sgd"])
def test_other_optimizers_and_ssim_loss_run(tmp_path, optimizer: str) -> None:
    result = train(
        _config(
            tmp_path,
            epochs=1,
            steps_per_epoch=2,
            optimizer=optimizer,
            loss="ssim",
            lr=1e-3,
            val_fraction=0.0,
        )
    )
    assert np.isfinite(result.history[0]["loss"])


def test_checkpoint_round_trip_is_exact(tmp_path) -> None:
    model = tiny("batch")
    model.train()
    model(torch.randn(2, 2, 16, 16))  # update batch-norm running statistics
    stored = manifest_metadata(note="x", n=[1, 2])
    path = save_model(tmp_path / "m.safetensors", model, model.config, stored)
    loaded, config, metadata = load_model(path)
    assert config == model.config
    assert metadata == stored
    for (name, x), y in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    x = torch.randn(1, 2, 24, 20)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded(x))


def test_optimizer_state_round_trip(tmp_path) -> None:
    model = tiny()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(1, 2, 16, 16)).mean().backward()
    optimizer.step()
    save_optimizer(tmp_path / "s.safetensors", optimizer, {"epoch": 4})
    fresh = torch.optim.Adam(model.parameters(), lr=1e-3)
    assert load_optimizer(tmp_path / "s.safetensors", fresh) == {"epoch": 4}
    state_a, state_b = optimizer.state_dict()["state"], fresh.state_dict()["state"]
    assert state_a.keys() == state_b.keys()
    for index, entry in state_a.items():
        for key, value in entry.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(state_b[index][key]))


class _Malicious:
    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_checkpoint_is_refused_without_running_it(tmp_path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": _Malicious(marker)}, protocol=protocol))
    with pytest.raises(InputError) as error:
        load_model(path)
    assert not marker.exists()
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_torch_save_file_is_refused(tmp_path) -> None:
    path = tmp_path / "model.safetensors"
    with open(path, "wb") as stream:
        stream.write(b"PK\x03\x04" + b"\0" * 60)
    with pytest.raises(InputError, match="pickle"):
        load_model(path)


def test_corrupt_and_truncated_files_are_refused(tmp_path) -> None:
    good = save_model(tmp_path / "m.safetensors", tiny(), tiny().config, {})
    truncated = tmp_path / "t.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    for path in (truncated, garbage):
        with pytest.raises(InputError) as error:
            load_model(path)
        assert str(path) in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(InputError, match="no such"):
        load_model(tmp_path / "missing.safetensors")


def test_weights_of_another_architecture_are_refused(tmp_path) -> None:
    path = save_model(tmp_path / "m.safetensors", tiny(), tiny().config, manifest_metadata())
    tensors, header = load_tensors(path)
    header["config"]["chans"] = 8
    save_tensors(path, tensors, header)
    with pytest.raises(InputError, match="do not match") as error:
        load_model(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)
    header["config"]["depth"] = 3
    header["config"]["chans"] = 4
    save_tensors(path, tensors, header)
    with pytest.raises(InputError, match="do not match"):
        load_model(path)


def _measurement(seed: int = 0):
    yy, xx = np.mgrid[:40, :36]
    image = ((yy - 20) ** 2 / 300 + (xx - 18) ** 2 / 200 < 1).astype(np.float32)
    image = np.stack([image, 0.7 * np.roll(image, 5, axis=1) + 0.2 * image])
    return simulate(image, 4, 0.08, seed=seed, noise=0.01)


def test_inference_is_deterministic_and_batch_independent() -> None:
    sim = _measurement()
    model = tiny()
    a = reconstruct(sim.kspace, sim.mask, model=model, batch_size=1)
    b = reconstruct(sim.kspace, sim.mask, model=model, batch_size=1)
    c = reconstruct(sim.kspace, sim.mask, model=model, batch_size=2)
    assert a.dtype == np.float32 and a.shape == sim.kspace.shape
    assert np.array_equal(a, b)
    np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-6)
    single = reconstruct(sim.kspace[0], sim.mask, model=model)
    assert single.shape == (1, *sim.kspace.shape[1:])


def test_inference_rejects_mismatched_mask() -> None:
    sim = _measurement()
    with pytest.raises(InputError, match="columns"):
        reconstruct(sim.kspace, sim.mask[:-1], model=tiny())


@pytest.mark.parametrize("mode", ["hard", "hard-lowres"])
def test_data_consistency_keeps_the_measured_samples(mode: str) -> None:
    sim = _measurement()
    kspace = torch.as_tensor(sim.kspace.astype(np.complex128))
    mask = torch.as_tensor(sim.mask)
    generator = torch.Generator().manual_seed(1)
    magnitude = torch.rand(kspace.shape, dtype=torch.float64, generator=generator)
    # Exactly: the combined k-space is the measurement on sampled columns, the estimate elsewhere.
    estimate = torch.randn(kspace.shape, dtype=torch.complex128)
    combined = replace_columns(estimate, kspace, mask)
    assert torch.equal(combined[..., sim.mask], kspace[..., sim.mask])
    assert torch.equal(combined[..., ~sim.mask], estimate[..., ~sim.mask])
    # And the returned complex image has exactly that k-space (up to float64 FFT rounding).
    out, image = data_consistency(magnitude, kspace, mask, mode)
    k = fft2c(image.numpy())
    np.testing.assert_allclose(k[..., sim.mask], sim.kspace[..., sim.mask], atol=1e-12, rtol=0)
    assert torch.equal(out, image.abs())


def test_data_consistency_with_exact_magnitude_and_noiseless_data_is_identity() -> None:
    sim = simulate(_measurement().target, 4, 0.08, seed=2, noise=0.0, phase=False)
    target = torch.as_tensor(sim.target.astype(np.float64))
    out, _ = data_consistency(
        target,
        torch.as_tensor(sim.kspace.astype(np.complex128)),
        torch.as_tensor(sim.mask),
        "hard-lowres",
    )
    np.testing.assert_allclose(out.numpy(), sim.target, atol=1e-6)


def test_centre_block() -> None:
    mask = torch.tensor([1, 0, 1, 1, 1, 1, 0, 1], dtype=torch.bool)
    assert centre_block(mask).tolist() == [0, 0, 1, 1, 1, 1, 0, 0]


def test_data_sources_and_colin27_policy(tmp_path) -> None:
    source = parse_source("vol.nii.gz?axes=0,2&exclude=2:3-5")
    assert source.axes == (0, 2) and source.exclude == {2: (3, 5)}
    colin = colin27_policy(parse_source("ch2.nii.gz"))
    assert colin.axes == (2,) and colin.exclude[2] == (56, 116)
    with pytest.raises(InputError):
        parse_source("vol.nii?bogus=1")
    volume = np.zeros((12, 14, 10), dtype=np.float32)
    volume[2:10, 3:11, 1:9] = 1.0
    path = tmp_path / "vol.nii.gz"
    nib.save(nib.Nifti1Image(volume, np.eye(4)), path)
    slices = load_slices([f"{path}?axes=2&exclude=2:3-4"])
    indices = sorted(int(o.rsplit(":", 1)[1]) for o in slices.origins)
    assert indices == [1, 2, 5, 6, 7, 8]  # empty slices 0 and 9 skipped, 3-4 excluded
    assert all(s.shape == (14, 12) for s in slices.images)
    everything = load_slices([path])
    assert len(everything.images) == 8 + 8 + 8
    assert len(everything.fingerprint[str(path)]) == 64


def test_unet_method_protocol() -> None:
    from learned.method import UnetMethod

    sim = _measurement()
    result = UnetMethod(model=tiny()).run(sim.kspace, sim.mask)
    assert result.images.shape == sim.kspace.shape and result.iterations == [1, 1]


def test_fastmri_h5_targets_are_training_slices(tmp_path) -> None:
    import h5py

    image = np.zeros((2, 40, 40), np.float32)
    image[:, 8:32, 10:30] = 1.0
    path = tmp_path / "file1000.h5"
    with h5py.File(path, "w") as f:
        f["kspace"] = np.fft.fft2(image).astype(np.complex64)
        f["reconstruction_rss"] = image
    slices = load_slices([path])
    assert len(slices.images) == 2 and slices.images[0].shape == (40, 40)


def test_raw_kspace_files_give_complex_training_slices_with_their_measured_phase(tmp_path):
    """A fully sampled k-space file trains on the complex (coil-combined) image it measured,
    cropped to the recon matrix; undersampled k-space without a reference is refused."""
    from csmri.acquisition import Acquisition, Header
    from csmri.errors import InputError
    from csmri.io import write_acquisition
    from csmri.io.images import shepp_logan
    from csmri.mri.coil_sim import simulate_multicoil
    from learned.data.dataset import SimulationConfig, training_batch

    image = np.zeros((64, 32), np.float32)
    image[16:48] = shepp_logan(32)
    sim = simulate_multicoil(image, coils=4, acceleration=1, center_fraction=0.5, seed=0)
    acq = Acquisition(sim.kspace, sim.mask, header=Header((64, 32), (32, 32)))
    write_acquisition(tmp_path / "sub-01_mc.h5", acq)
    slices = load_slices([tmp_path / "sub-01_mc.h5"])
    (slice_,) = slices.images
    assert slice_.dtype == np.complex64 and slice_.shape == (32, 32)
    assert np.abs(slice_).max() == pytest.approx(1.0, rel=1e-5)
    phase = np.angle(slice_[np.abs(slice_) > 0.2])
    assert np.ptp(phase) > 0.5  # the simulated coil phase survives: not a magnitude
    full = SimulationConfig(accelerations=(1.0,), center_fractions=(0.5,), noise=0.0)
    inputs, targets = training_batch(slices.images, np.array([0]), full, 0, 0, 0, 0)
    assert inputs.shape == (1, 2, 32, 32) and targets.dtype == np.float32
    # fully sampled and noiseless, the input is the target's complex image (augmented)
    np.testing.assert_allclose(np.hypot(inputs[0, 0], inputs[0, 1]), targets[0], atol=1e-5)
    under = Acquisition(sim.kspace * (np.arange(32) % 2 == 0), np.arange(32) % 2 == 0)
    write_acquisition(tmp_path / "under.h5", under)
    with pytest.raises(InputError, match="supervised training needs fully sampled data"):
        load_slices([tmp_path / "under.h5"])
