"""``csmri train`` under ``torchrun``: 2 gloo processes match 1 process on the same batches."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from cli.main import csmri
from learned.models.checkpoint import load_model
from learned.training.distributed import Ranks

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp_images")
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:32, 0:32] / 32
    for i in range(8):
        cy, cx = rng.uniform(0.35, 0.65, 2)
        image = ((yy - cy) ** 2 + (xx - cx) ** 2 < rng.uniform(0.04, 0.09)).astype(np.float32)
        np.save(folder / f"im{i}.npy", image)
    return folder


def _args(images, output, epochs, *extra):
    return ["train", "--data", str(images), "-o", str(output), "--epochs", str(epochs),
            "--steps-per-epoch", "3", "--batch-size", "4", "--chans", "4", "--depth", "2",
            "--patch", "0", "--lr", "0.01", "--val-fraction", "0.25", "--seed", "3",
            "--device", "cpu", *extra]


def _single(*args):
    result = CliRunner().invoke(csmri, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _torchrun(*args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _assert_close(a_path, b_path):
    a, _, _ = load_model(a_path)
    b, _, _ = load_model(b_path)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=name)
    return a


def test_two_gloo_processes_give_the_weights_of_one(images, tmp_path):
    _single(*_args(images, tmp_path / "one.safetensors", 1))
    stdout = _torchrun("-m", "cli.main", *_args(images, tmp_path / "two.safetensors", 1))
    assert stdout.count("wrote ") == 1  # rank 0 alone reports
    _assert_close(tmp_path / "one.last.safetensors", tmp_path / "two.last.safetensors")
    _, _, metadata = load_model(tmp_path / "two.last.safetensors")
    assert metadata["processes"] == 2


RESUME_SCRIPT = """
import sys
from learned.training.train import TrainConfig, train
data, output, epochs, resume = sys.argv[1:]
train(TrainConfig(data=[data], output=output, epochs=int(epochs), steps_per_epoch=3,
                  batch_size=4, chans=4, depth=2, patch=0, lr=1e-2, val_fraction=0.25,
                  seed=3, device="cpu", lr_schedule="constant", progress=False,
                  resume=resume if resume != "-" else False))
"""


def test_a_two_process_run_resumes_in_one_process(images, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(RESUME_SCRIPT)

    def run(output, epochs, resume="-", launcher=()):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        command = [*launcher, str(script), str(images), str(output), str(epochs), resume]
        if not launcher:
            command.insert(0, sys.executable)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]

    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", "2"]
    run(tmp_path / "one.safetensors", 2)
    run(tmp_path / "two.safetensors", 1, launcher=torchrun)
    run(tmp_path / "two.safetensors", 2, resume=str(tmp_path / "two.safetensors"))
    _assert_close(tmp_path / "one.last.safetensors", tmp_path / "two.last.safetensors")


def test_shards_draw_the_examples_of_the_global_batch(images):
    from learned.data.dataset import SimulationConfig, load_slices, training_batch

    slices = load_slices([str(images)]).images
    batch, sim = np.array([5, 1, 6, 2]), SimulationConfig()
    whole = training_batch(slices, batch, sim, 0, 3, 1, 2)
    shards = [Ranks(r, 2).shard(batch) for r in range(2)]
    parts = [training_batch(slices, shard, sim, 0, 3, 1, 2, first=first)
             for shard, first in shards]
    for i in range(2):
        np.testing.assert_array_equal(np.concatenate([p[i] for p in parts]), whole[i])


def test_shards_cover_the_global_batch_in_order():
    batch = np.arange(12)
    shards = [Ranks(rank, 3).shard(batch) for rank in range(3)]
    assert np.array_equal(np.concatenate([s for s, _ in shards]), batch)
    assert [first for _, first in shards] == [0, 4, 8]


def test_a_batch_that_does_not_split_is_refused():
    from csmri.errors import UsageError

    with pytest.raises(UsageError, match="does not split over 3 processes"):
        Ranks(0, 3).check_batch(4)
