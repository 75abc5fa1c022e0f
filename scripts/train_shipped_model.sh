#!/usr/bin/env bash
# Reproduce the shipped U-Net learned/weights/unet_small.{safetensors,json}.
#
#   scripts/train_shipped_model.sh            # ~32 min on 2 CPU cores; minutes on a GPU
#
# Data (nothing else is installed):
#   * Colin27 T1 (ch2.nii.gz) from Debian's mricron-data (apt-get install if missing);
#     only AXIAL slices with z outside 56..116 are used (the evaluation sample is axial
#     z = 64..108; sagittal/coronal Colin27 slices would contain the sample's voxels).
#   * MNI152 2009a symmetric T1 template, taken from the nilearn 0.14.1 wheel, which is
#     fetched with `pip download` into a temporary folder (nilearn is not installed);
#     all three axes.
# Environment: PYTHON (default .venv/bin/python), RUN_DIR (checkpoints, resume state;
# default build/shipped_model), NILEARN_WHEEL (use a local wheel instead of downloading),
# RESUME=1 to continue an interrupted run.
# OMP_WAIT_POLICY=PASSIVE: on a shared 2-core machine, busy-waiting OpenMP threads made a
# training step 10x slower whenever another process ran; passive waiting avoids that.
# Measured: 31.7 min on 2 shared AMD EPYC cores (torch 2.13 CPU), best validation epoch 19/20.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
RUN_DIR=${RUN_DIR:-$ROOT/build/shipped_model}
COLIN27=/usr/share/mricron/templates/ch2.nii.gz
MNI_IN_WHEEL=nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz
WHEEL_SHA256=725206484e9fb3f6691f9c2d20204a068759d5072f12055324702ee0cb2bbe8a

if [ ! -f "$COLIN27" ]; then
    SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
    $SUDO apt-get install -y mricron-data
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
WHEEL=${NILEARN_WHEEL:-}
if [ -z "$WHEEL" ]; then
    "$PYTHON" -m pip download --quiet --no-deps nilearn==0.14.1 -d "$TMP"
    WHEEL="$TMP/nilearn-0.14.1-py3-none-any.whl"
fi
echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --quiet
"$PYTHON" -m zipfile -e "$WHEEL" "$TMP/wheel" >/dev/null
MNI="$TMP/mni_icbm152_t1_tal_nlin_sym_09a.nii.gz"
cp "$TMP/wheel/$MNI_IN_WHEEL" "$MNI"
rm -rf "$TMP/wheel"
mkdir -p "$RUN_DIR"
cd "$ROOT"

COLIN27="$COLIN27" MNI="$MNI" RUN_DIR="$RUN_DIR" RESUME="${RESUME:-0}" \
OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE "$PYTHON" - <<'PY'
import os
import shutil
from pathlib import Path

import torch

from learned.train import TrainConfig, train

torch.set_num_threads(2)
run = Path(os.environ["RUN_DIR"])
config = TrainConfig(
    data=[os.environ["COLIN27"], os.environ["MNI"]],  # Colin27: axial, z outside 56..116
    output=str(run / "unet_small.safetensors"),
    accelerations=(4.0, 8.0),
    center_fractions=(0.08, 0.04),
    epochs=20,
    steps_per_epoch=200,
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
    exclude_sample=True,
    data_consistency="auto",
    device="auto",
    threads=2,
    resume=os.environ["RESUME"] == "1",
    command="scripts/train_shipped_model.sh",
)
result = train(config)
weights = Path("learned/weights")
weights.mkdir(exist_ok=True)
for suffix in (".safetensors", ".json"):
    shutil.copyfile(run / f"unet_small{suffix}", weights / f"unet_small{suffix}")
print(f"best epoch {result.best_epoch}: {result.best_metrics.get('by_mode')}")
print(f"training time {result.elapsed_s / 60:.1f} min -> {weights}/unet_small.safetensors")
PY
