#!/usr/bin/env bash
# Reproduce the shipped unrolled network learned/weights/unrolled_small.{safetensors,json}.
#
#   scripts/train_unrolled_model.sh      # the measured time is in the model's JSON
#
# Same data as scripts/train_shipped_model.sh: ONLY the MNI152 2009a template of the
# nilearn 0.14.1 wheel, 40 % real T1 slices and 60 % SynthSeg-style synthetic brains;
# no Colin27 (the held-out test subject), no real scan (the shared in-vivo scans are for
# validation only).  Multi-coil simulation (learned/data/multicoil.py): 1, 2, 4 or 8 coils
# per step from randomised arrays, random zoom and placement in a 128 x 128 field of view,
# smooth B1+ bias and phase, correlated unequal coil noise; one random column mask per
# step (4x or 8x).  MoDL data consistency (4 CG iterations per cascade), so the one model
# serves single-coil data (one coil) and SENSE data with any number of coils.
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
    unrolled_dc="cg",
    cg_iters=4,
    coils=(1, 2, 4, 8),
    loss="ssim-l1",
    cascades=5,
    chans=8,
    depth=3,
    norm="group",
    output=str(run / "unrolled_small.safetensors"),
    accelerations=(4.0, 8.0),
    center_fractions=(0.08, 0.04),
    epochs=int(os.environ.get("EPOCHS", "18")),
    steps_per_epoch=100,
    batch_size=4,
    patch=128,
    optimizer="adam",
    lr=1e-3,
    noise=0.008,
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
