"""The operator-layer benchmark: no CPU regression, torch on the CPU, and the GPU figures.

Usage::

    # NumPy backend against an older source tree (e.g. ``git archive 3237c4d``), alternating
    # processes, plus torch on the CPU against NumPy (ms/iteration, ratio, PSNR):
    python benchmarks/bench_backends.py --old /tmp/oldcsmri [--rounds 5]
    # ms/iteration on one device for a batch of slices (what benchmarks/gpu_check.sh runs):
    python benchmarks/bench_backends.py --device cuda --size 320 --batch 16 --coils 1,16

Cases: the Colin27 sample slice of ``bench_cs.py`` (``load_sample()[5]``, zero-padded
to 320 x 320, smooth phase, noise 0.005, fastMRI random mask 4x with centre
fraction 0.08), the default lambda, 100 iterations.  Every timing is the median
of the per-iteration times a solver records.  The machine that wrote the
README's figures is shared and its speed drifts, so the old and new trees run
in alternating subprocesses and ratios are taken per round; the FFT pair (one
forward + one inverse uncentred ``scipy.fft`` of a 320 x 320 complex64 image) is
timed in the same process just before each solve.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

METHODS = (("tv", "admm"), ("wavelet", "fista"), ("tv", "fista"))
ROOT = Path(__file__).resolve().parents[1]


def make_case(size: int, slices: int = 1, coils: int = 1):
    """Simulated k-space ``(S, H, W)`` or ``(S, C, H, W)``, mask, maps (or None) and target."""
    from csmri.io.images import load_sample
    from csmri.mri.simulate import simulate

    image = load_sample()[5]
    if size >= max(image.shape):
        padded = np.zeros((size, size), dtype=np.float32)
        top, left = (size - image.shape[0]) // 2, (size - image.shape[1]) // 2
        padded[top : top + image.shape[0], left : left + image.shape[1]] = image
    else:
        padded = image[:size, :size]
    sim = simulate(padded, 4, 0.08, "random", seed=0, noise=0.005, phase=True)
    kspace = np.repeat(sim.kspace.astype(np.complex64), slices, axis=0)
    if coils == 1:
        return kspace, sim.mask, None, sim.target
    from csmri.mri.fft import fft2c, ifft2c

    yy, xx = np.mgrid[:size, :size] / size
    angles = np.linspace(0, 2 * np.pi, coils, endpoint=False)
    maps = np.stack(
        [
            np.exp(-((yy - 0.5 - 0.4 * np.cos(a)) ** 2 + (xx - 0.5 - 0.4 * np.sin(a)) ** 2))
            for a in angles
        ]
    ).astype(np.complex64)
    maps /= np.sqrt((np.abs(maps) ** 2).sum(0, keepdims=True))
    image = ifft2c(kspace)
    multi = (fft2c(maps * image[:, None]) * sim.mask).astype(np.complex64)
    return multi, sim.mask, maps, sim.target


def fft_pair_ms(size: int) -> float:
    """Best-of-5 ms of an uncentred ``scipy.fft`` pair (the NumPy solvers' FFT)."""
    import scipy.fft

    x = np.ones((size, size), np.complex64)
    best = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            scipy.fft.ifft2(scipy.fft.fft2(x, norm="ortho", workers=1), norm="ortho", workers=1)
        best.append((time.perf_counter() - start) / 10)
    return 1e3 * min(best)


def solve(kspace, mask, maps, reg: str, solver: str, iters: int, device: str | None):
    """One reconstruction; ``device`` None is NumPy, else torch on that device."""
    from csmri.app.reconstruct import reconstruct

    kwargs = {} if maps is None else {"maps": maps}
    data = kspace
    if device is not None:
        import torch

        data = torch.from_numpy(kspace).to(device)
    return reconstruct(
        data, mask, reg=reg, solver=solver, max_iter=iters, chunk=len(kspace), **kwargs
    )


def worker(args: argparse.Namespace) -> None:
    """Time the methods in this process and print one JSON line per method."""
    from csmri.metrics import psnr

    device = None if args.device == "numpy" else args.device
    if device is not None:
        import torch

        torch.set_num_threads(args.threads)
    for coils in [int(c) for c in args.coils.split(",")]:
        kspace, mask, maps, target = make_case(args.size, args.batch, coils)
        for reg, solver in METHODS if args.methods == "all" else METHODS[:2]:
            solve(kspace, mask, maps, reg, solver, 3, device)  # warm-up (Numba, CUDA kernels)
            fft = fft_pair_ms(args.size)
            result = solve(kspace, mask, maps, reg, solver, args.iters, device)
            ms = 1e3 * float(np.median(result.history[0].time))
            quality = (
                psnr(target[0], np.abs(result.images[0])) if args.size >= 217 else float("nan")
            )
            print(
                json.dumps(
                    {
                        "reg": reg,
                        "solver": solver,
                        "coils": coils,
                        "batch": args.batch,
                        "device": args.device,
                        "ms_per_iter": ms,
                        "fft_pair_ms": fft,
                        "psnr": quality,
                    }
                ),
                flush=True,
            )


def run_worker(tree: Path, device: str, extra: list[str]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "bench_backends.py"),
        "--worker",
        "--device",
        device,
        *extra,
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=tree)
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _ms(rec: dict) -> float:
    return rec["ms_per_iter"]


def _pairs(rec: dict) -> float:
    return rec["ms_per_iter"] / rec["fft_pair_ms"]


def compare(args: argparse.Namespace) -> None:
    """Alternate old NumPy, new NumPy and new torch-CPU processes; print per-round ratios."""
    extra = ["--size", str(args.size), "--batch", "1", "--iters", str(args.iters)]
    extra += ["--methods", "all", "--threads", str(args.threads)]
    runs = [("old", Path(args.old), "numpy"), ("new", ROOT, "numpy"), ("torch", ROOT, "cpu")]
    rounds: list[dict] = []
    for r in range(args.rounds):
        row = {}
        for label, tree, device in runs:
            for rec in run_worker(tree, device, extra):
                row[(label, rec["reg"], rec["solver"])] = rec
        rounds.append(row)
        print(f"round {r + 1}:", flush=True)
        for reg, solver in METHODS:
            old, new, tch = (row[(k, reg, solver)] for k in ("old", "new", "torch"))
            print(
                f"  {reg}-{solver}: old {_ms(old):.2f} ms ({_pairs(old):.2f} FFT pairs), "
                f"new {_ms(new):.2f} ms ({_pairs(new):.2f} FFT pairs), "
                f"new/old {_ms(new) / _ms(old):.2f}; torch-CPU {_ms(tch):.2f} ms "
                f"(x{_ms(tch) / _ms(new):.2f} NumPy); PSNR old {old['psnr']:.3f} "
                f"new {new['psnr']:.3f} torch {tch['psnr']:.3f} dB",
                flush=True,
            )
    print("medians over rounds (worst PSNR gap):")
    for reg, solver in METHODS:
        old = [w[("old", reg, solver)] for w in rounds]
        new = [w[("new", reg, solver)] for w in rounds]
        tch = [w[("torch", reg, solver)] for w in rounds]
        ratio = np.median([_ms(n) / _ms(o) for n, o in zip(new, old, strict=True)])
        torch_ratio = np.median([_ms(t) / _ms(n) for t, n in zip(tch, new, strict=True)])
        gap = max(abs(n["psnr"] - o["psnr"]) for n, o in zip(new, old, strict=True))
        torch_gap = max(abs(t["psnr"] - n["psnr"]) for t, n in zip(tch, new, strict=True))
        pairs_old = np.median([_pairs(o) for o in old])
        pairs_new = np.median([_pairs(n) for n in new])
        print(
            f"  {reg}-{solver}: new/old {ratio:.2f}; FFT pairs/it old "
            f"{pairs_old:.2f} new {pairs_new:.2f}; "
            f"torch-CPU {np.median([_ms(t) for t in tch]):.2f} ms/it = {torch_ratio:.2f} x NumPy; "
            f"PSNR |new - old| {gap:.4f} dB, |torch - NumPy| {torch_gap:.4f} dB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", help="older source tree to compare the NumPy backend against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="numpy", help="numpy, cpu (torch) or cuda")
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--coils", default="1")
    parser.add_argument("--iters", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--methods",
        default="gpu",
        choices=["gpu", "all"],
        help="gpu: ADMM-TV and FISTA-wavelet; all: FISTA-TV too",
    )
    args = parser.parse_args()
    if args.old and not args.worker:
        compare(args)
    else:
        worker(args)


if __name__ == "__main__":
    main()
