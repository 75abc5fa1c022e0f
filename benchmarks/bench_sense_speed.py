"""SENSE speed on the real 8-coil 230 x 180 slice: csmri against BART in the same run.

Usage::

    OMP_NUM_THREADS=1 CSMRI_FFT_WORKERS=1 python benchmarks/bench_sense_speed.py [--rounds 3]

Each round times, alternately, csmri (ESPIRiT maps + 100 iterations of SENSE-TV and of
SENSE-wavelet, lambda 0.003) and BART (``ecalib -m1`` + ``pics -R T:3:0:0.003`` /
``-R W:3:0:0.003``, ``-i 100``; process start and file I/O included).  Both wall seconds
and CPU seconds (this process for csmri, the children for BART) are reported, minimum
over rounds: on a shared machine the CPU time is the steadier measure.  Run it with one
thread for both tools (the environment above), as the numbers in the report were.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_multicoil import REAL, bart_maps, bart_sense  # noqa: E402

from csmri.app.sense import sense_reconstruct  # noqa: E402
from csmri.io import read_acquisition  # noqa: E402
from csmri.mri.espirit import espirit  # noqa: E402


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(function) -> tuple[float, float]:
    """Wall and CPU seconds (this process and its children) of ``function()``."""
    wall, cpu, child = time.perf_counter(), time.process_time(), _children_cpu()
    function()
    return (time.perf_counter() - wall,
            time.process_time() - cpu + _children_cpu() - child)


def main() -> None:
    """Run the rounds and print a table."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    acq = read_acquisition(REAL, coil_axis=0)
    kspace, mask, _ = acq.solver_inputs()
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        espirit(kspace, mask)  # warm-up: imports, Numba compilation
        sense_reconstruct(kspace, mask, espirit(kspace, mask).numpy(),
                          max_iter=2)
        holder: dict = {}
        for _ in range(args.rounds):
            results.setdefault("csmri maps", []).append(
                timed(lambda: holder.update(maps=espirit(kspace, mask).numpy())))
            for reg in ("tv", "wavelet"):
                results.setdefault(f"csmri {reg}", []).append(timed(
                    lambda reg=reg: sense_reconstruct(
                        kspace, mask, holder["maps"], reg=reg, lam=0.003,
                        max_iter=100)))
            results.setdefault("bart maps", []).append(
                timed(lambda: bart_maps(folder, kspace[0])))
            for reg in ("tv", "wavelet"):
                results.setdefault(f"bart {reg}", []).append(
                    timed(lambda reg=reg: bart_sense(folder, reg, 0.003, None)))
    best = {k: (min(w for w, _ in v), min(c for _, c in v)) for k, v in results.items()}
    print("| step | wall s (min) | CPU s (min) |\n|---|---|---|")
    for key, (wall, cpu) in best.items():
        print(f"| {key} | {wall:.2f} | {cpu:.2f} |")
    for reg in ("tv", "wavelet"):
        ours = [best["csmri maps"][i] + best[f"csmri {reg}"][i] for i in (0, 1)]
        theirs = [best["bart maps"][i] + best[f"bart {reg}"][i] for i in (0, 1)]
        print(f"maps + {reg}: csmri/BART wall {ours[0] / theirs[0]:.2f}, "
              f"CPU {ours[1] / theirs[1]:.2f}")
    print("raw:", {k: [(round(w, 2), round(c, 2)) for w, c in v] for k, v in results.items()})


if __name__ == "__main__":
    main()
