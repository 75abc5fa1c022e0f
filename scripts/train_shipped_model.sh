#!/usr/bin/env bash
# Reproduce the shipped U-Net learned/weights/unet_small.{safetensors,json}.
#
#   scripts/train_shipped_model.sh        # see the measured time in the model's JSON
#
# Data: ONLY the MNI152 2009a symmetric template (T1, GM and WM maps) that ships inside
# the nilearn 0.14.1 wheel (installed without dependencies if missing).  40 % of the
# training examples are real MNI152 T1 slices (all three axes), 60 % are brains
# synthesised from its tissue maps with SynthSeg-style domain randomisation
# (learned/data/synth.py).  No Colin27: Colin27 is the held-out test subject (the embedded
# sample).  The training manifest (sha256 of every volume, slice ranges, slice hashes,
# augmentations) is stored in the model's metadata.
# Environment: PYTHON (default .venv/bin/python), RUN_DIR (default build/shipped_unet),
# THREADS (torch threads, default 2), RESUME=1 to continue an interrupted run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
RUN_DIR=${RUN_DIR:-$ROOT/build/shipped_unet}
THREADS=${THREADS:-2}
if ! "$PYTHON" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('nilearn') is None)"; then
    "$PYTHON" -m pip install --quiet --no-deps nilearn==0.14.1
fi
mkdir -p "$RUN_DIR"
cd "$ROOT"
RUN_DIR="$RUN_DIR" RESUME="${RESUME:-0}" THREADS="$THREADS" \
OMP_NUM_THREADS="$THREADS" OMP_WAIT_POLICY=PASSIVE PYTHONPATH="$ROOT" "$PYTHON" - <<'PY'
import os
import shutil
from pathlib import Path

import torch

from learned.training.train import TrainConfig, train

threads = int(os.environ["THREADS"])
torch.set_num_threads(threads)
run = Path(os.environ["RUN_DIR"])
config = TrainConfig(
    data=["mni152"],
    synth=0.6,
    output=str(run / "unet_small.safetensors"),
    accelerations=(4.0, 8.0),
    center_fractions=(0.08, 0.04),
    epochs=24,
    steps_per_epoch=250,
    batch_size=8,
    patch=128,
    optimizer="adam",
    lr=1.5e-3,
    norm="group",
    chans=8,
    depth=4,
    noise=0.005,
    phase=True,
    seed=0,
    val_fraction=0.1,
    max_val_slices=32,
    exclude_sample=True,
    data_consistency="auto",
    device="cpu",
    threads=threads,
    progress=True,
    resume=os.environ["RESUME"] == "1",
    command="scripts/train_shipped_model.sh",
)
result = train(config)
weights = Path("learned/weights")
weights.mkdir(exist_ok=True)
for suffix in (".safetensors", ".json"):
    shutil.copyfile(run / f"unet_small{suffix}", weights / f"unet_small{suffix}")
print(result.summary())
print(f"training time {result.elapsed_s / 60:.1f} min -> {weights}/unet_small.safetensors")
PY
