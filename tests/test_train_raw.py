"""``csmri train`` on raw multi-coil k-space: supervised and SSDU, end to end, and refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.main import csmri
from csmri.mri.masks import random_mask
from learned.models.checkpoint import load_model
from learned.training.raw import batch_loss, open_kspace_training
from learned.training.train import TrainConfig
from tests.test_kspace_slices import W, write_fastmri

QUICK = ["--model", "unrolled", "--unrolled-dc", "cg", "--cg-iters", "2", "--cascades", "1",
         "--chans", "4", "--depth", "1", "--epochs", "1", "--steps-per-epoch", "2",
         "--batch-size", "2", "--accel", "4", "--center-fraction", "0.16", "--device", "cpu",
         "--val-fraction", "0.4"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def full_scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("full")
    write_fastmri(folder / "sub-01_a.h5", slices=2, seed=0)
    write_fastmri(folder / "sub-02_b.h5", slices=2, seed=1)
    write_fastmri(folder / "sub-03_c.h5", slices=1, seed=2)
    return folder


@pytest.fixture(scope="module")
def undersampled_scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("under")
    for i in range(3):
        write_fastmri(folder / f"sub-0{i}_u.h5", slices=1, seed=i,
                      mask=random_mask(W, 0.32, 2.0, seed=i).mask)
    return folder


def _train(args: list[str]):
    return CliRunner().invoke(csmri, ["train", *QUICK, *args])


def test_supervised_training_on_multicoil_kspace(full_scans, tmp_path) -> None:
    out = tmp_path / "u.safetensors"
    result = _train(["--data", str(full_scans), "-o", str(out)])
    assert result.exit_code == 0, result.output
    _, config, meta = load_model(out, kind="unrolled")
    assert config.dc == "cg"
    manifest = meta["manifest"]
    assert manifest["augmentations"]["supervision"] == "full"
    assert "by subject" in manifest["split"]
    assert {s["subject"] for s in manifest["sources"]} == {"sub-01", "sub-02", "sub-03"}
    assert len(manifest["slice_hashes"]) == 5
    val = meta["history"][-1]["val"]
    assert np.isfinite(val["psnr"]) and "metric" not in val
    maps = sorted((tmp_path / "u.maps").glob("*.safetensors"))
    assert len(maps) == 5  # one ESPIRiT estimate per slice, cached beside the model


def test_ssdu_training_on_undersampled_kspace_uses_no_reference(undersampled_scans,
                                                                tmp_path) -> None:
    out = tmp_path / "s.safetensors"
    result = _train(["--data", str(undersampled_scans), "-o", str(out), "--ssdu-masks", "2",
                     "--maps-cache", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    _, _, meta = load_model(out, kind="unrolled")
    assert meta["manifest"]["augmentations"]["supervision"] == "ssdu"
    assert "held-out k-space" in meta["history"][-1]["val"]["metric"]


def test_ssdu_loss_is_deterministic_and_differentiable(undersampled_scans, tmp_path) -> None:
    from learned.models.unrolled import UnrolledConfig, UnrolledNet

    config = TrainConfig(data=[str(undersampled_scans)], model="unrolled",
                         output=str(tmp_path / "m.safetensors"), ssdu_masks=3)
    slices, config = open_kspace_training(config)
    assert config.supervision == "ssdu"
    torch.manual_seed(0)
    net = UnrolledNet(UnrolledConfig(cascades=1, chans=4, depth=1, dc="cg", cg_iters=2))
    first = batch_loss(net, slices, np.array([0, 1]), config, (0, 1, 0, 0), torch.device("cpu"))
    again = batch_loss(net, slices, np.array([0, 1]), config, (0, 1, 0, 0), torch.device("cpu"))
    other = batch_loss(net, slices, np.array([0, 1]), config, (0, 1, 1, 0), torch.device("cpu"))
    assert float(first.detach()) == float(again.detach()) != float(other.detach())
    first.backward()
    assert all(p.grad is not None for p in net.parameters())


def test_undersampled_data_in_supervised_mode_is_refused(undersampled_scans, tmp_path) -> None:
    out = tmp_path / "x.safetensors"
    result = _train(["--data", str(undersampled_scans), "-o", str(out), "--supervision", "full"])
    assert result.exit_code != 0
    assert "fully sampled" in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.filterwarnings("default::csmri.errors.DataWarning")
def test_ssdu_on_fully_sampled_data_is_allowed_with_a_warning(full_scans, tmp_path) -> None:
    out = tmp_path / "w.safetensors"
    result = _train(["--data", str(full_scans), "-o", str(out), "--supervision", "ssdu"])
    assert result.exit_code == 0, result.output
    assert "csmri: warning: SSDU on fully sampled data" in result.output
    _, _, meta = load_model(out, kind="unrolled")
    assert meta["manifest"]["augmentations"]["supervision"] == "ssdu"


def test_mixed_coil_counts_need_coils(tmp_path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_fastmri(folder / "sub-01_a.h5", slices=1, coils=4)
    write_fastmri(folder / "sub-02_b.h5", slices=1, coils=3, seed=1)
    write_fastmri(folder / "sub-03_c.h5", slices=1, coils=4, seed=2)
    out = tmp_path / "m.safetensors"
    result = _train(["--data", str(folder), "-o", str(out)])
    assert result.exit_code != 0 and "--coils" in result.output
    assert not out.exists()
    result = _train(["--data", str(folder), "-o", str(out), "--coils", "2"])
    assert result.exit_code == 0, result.output
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["metadata"]["training_config"]["coils"] == [2]


def test_a_maps_cache_of_other_data_is_refused(tmp_path) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(3):
        write_fastmri(folder / f"sub-0{i}_a.h5", slices=1, seed=i)
    cache = tmp_path / "cache"
    assert _train(["--data", str(folder), "-o", str(tmp_path / "a.safetensors"),
                   "--maps-cache", str(cache)]).exit_code == 0
    assert len(list(cache.glob("*.safetensors"))) == 3
    write_fastmri(folder / "sub-01_a.h5", slices=1, seed=9)  # the file now holds other data
    out = tmp_path / "b.safetensors"
    result = _train(["--data", str(folder), "-o", str(out), "--maps-cache", str(cache)])
    assert result.exit_code != 0 and "does not match" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.filterwarnings("default::csmri.errors.DataWarning")
@pytest.mark.parametrize("supervision", ["full", "ssdu"])
def test_two_gloo_processes_give_the_weights_of_one_on_raw_kspace(full_scans, tmp_path,
                                                                  supervision) -> None:
    from tests.test_distributed import _torchrun

    args = ["train", *QUICK, "--data", str(full_scans), "--supervision", supervision,
            "--maps-cache", str(tmp_path / "maps"), "--lr", "0.01", "--seed", "3"]
    one = CliRunner().invoke(csmri, [*args, "-o", str(tmp_path / "one.safetensors")])
    assert one.exit_code == 0, one.output
    _torchrun("-m", "cli.main", *args, "-o", str(tmp_path / "two.safetensors"))
    a, _, _ = load_model(tmp_path / "one.last.safetensors", kind="unrolled")
    b, _, meta = load_model(tmp_path / "two.last.safetensors", kind="unrolled")
    assert meta["processes"] == 2
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=name)
