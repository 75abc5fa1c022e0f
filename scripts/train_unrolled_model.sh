#!/usr/bin/env bash
# Reproduce the shipped unrolled network learned/weights/unrolled_small.{safetensors,json}.
#
#   scripts/train_unrolled_model.sh      # the measured time is in the model's JSON
#
# Same data as scripts/train_shipped_model.sh: ONLY the MNI152 2009a template of the
# nilearn 0.14.1 wheel, 40 % real T1 slices and 60 % SynthSeg-style synthetic brains;
# no Colin27 (the held-out test subject).  Single-coil simulation, 128 x 128 windows
# simulated as whole fields of view, one random column mask per step (4x or 8x).
# Environment: PYTHON (default .venv/bin/python), RUN_DIR (default build/shipped_unrolled),
# THREADS (torch threads, default 2), RESUME=1 to continue an interrupted run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
RUN_DIR=${RUN_DIR:-$ROOT/build/shipped_unrolled}
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
    model="unrolled",
    cascades=5,
    chans=8,
    depth=3,
    norm="group",
    output=str(run / "unrolled_small.safetensors"),
    accelerations=(4.0, 8.0),
    center_fractions=(0.08, 0.04),
    epochs=40,
    steps_per_epoch=140,
    batch_size=4,
    patch=128,
    optimizer="adam",
    lr=1e-3,
    noise=0.005,
    phase=True,
    seed=0,
    val_fraction=0.1,
    max_val_slices=4,
    device="cpu",
    threads=threads,
    progress=True,
    resume=os.environ["RESUME"] == "1",
    command="scripts/train_unrolled_model.sh",
)
result = train(config)
weights = Path("learned/weights")
weights.mkdir(exist_ok=True)
for suffix in (".safetensors", ".json"):
    shutil.copyfile(run / f"unrolled_small{suffix}", weights / f"unrolled_small{suffix}")
print(result.summary())
print(f"training time {result.elapsed_s / 60:.1f} min -> {weights}/unrolled_small.safetensors")
PY
