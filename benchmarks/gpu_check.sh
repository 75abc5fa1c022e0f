#!/usr/bin/env bash
# One call on the GPU machine: the CUDA tests, then ms/iteration of CS on the GPU for a batch
# of 16 slices of 320x320, single-coil and 16-coil, ADMM-TV and FISTA-wavelet (100 iterations).
#
#   bash benchmarks/gpu_check.sh                       # on a machine with a CUDA GPU
#   bash benchmarks/gpu_check.sh --device cpu --size 32 --batch 2 --coils 1,4 --iters 5
#                                                      # dry run of the same steps on torch-CPU
# Extra arguments go to benchmarks/bench_backends.py; the figures are printed as JSON lines.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python}"
device=cuda
for arg in "$@"; do
    if [[ "${prev:-}" == "--device" ]]; then device="$arg"; fi
    prev="$arg"
done
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
echo "== device: $device; torch $("$PY" -c 'import torch; print(torch.__version__, torch.cuda.is_available())')"
if [[ "$device" == cuda* ]]; then
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    "$PY" -m pytest -q -m cuda -p no:cacheprovider tests/
else
    echo "== dry run: pytest -m cuda (skips without a GPU)"
    "$PY" -m pytest -q -m cuda -p no:cacheprovider tests/ -rs | tail -3
fi
echo "== ms per iteration (median), batch of slices, 100 iterations unless --iters"
"$PY" benchmarks/bench_backends.py --device "$device" --size 320 --batch 16 --coils 1,16 "$@"
echo "== non-Cartesian: golden-angle radial 256x256, 8 coils, 4x, TV 30 iterations (torchkbnufft)"
"$PY" - "$device" <<'PYEOF'
import sys, time
import numpy as np
from csmri.io.images import shepp_logan
from csmri.app.noncartesian import reconstruct_noncartesian
from csmri.mri.noncartesian_sim import simulate_noncartesian
device = sys.argv[1]
acq = simulate_noncartesian(shepp_logan(256)[None], "golden", 4, seed=0, noise=0.005, coils=8)
kspace, sampling, maps = acq.solver_inputs()
for where in (None, device):
    start = time.perf_counter()
    reconstruct_noncartesian(kspace, sampling.coords, sampling.matrix, maps=maps, reg="tv",
                             lam=0.003, max_iter=30, device=where)
    print({"noncartesian_tv_seconds": round(time.perf_counter() - start, 2),
           "device": where or "numpy"}, flush=True)
PYEOF
