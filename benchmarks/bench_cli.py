"""Whole command lines against BART: `csmri solve` of 8 slices of 320 x 320 vs 8 `bart pics`.

The user's view of speed: one ``csmri solve`` process (Python start-up, imports, Numba
kernels from their cache, reading the ``.h5``, 100 iterations per slice, writing the
output) against the 8 ``bart pics`` processes that reconstruct the same 8 slices
(each reads its ``.cfl`` and writes its result).  The two are run alternately, round
after round, and the ratio is the median of the per-round ratios, because the
development machine is shared and its speed drifts by more than the differences.

Quality: each tool's best lambda on a small grid (BART with its own automatic scaling,
as a user runs it).  *Time to BART's quality*: the fewest iterations after which
csmri's volume PSNR reaches ``bart pics``'s best 100-iteration PSNR (from in-process
traces), at whichever lambda of csmri's grid gets there first, as a user who wants
BART's quality soonest would choose; then the whole ``csmri solve`` at that lambda
and that many iterations, timed alternately against BART's 100-iteration calls.

Run: ``nice python benchmarks/bench_cli.py [--rounds 5]``; prints a Markdown report.
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from csmri.acquisition import single_coil
from csmri.app.bart import bart_executable, bart_pics
from csmri.app.reconstruct import reconstruct
from csmri.io import write_acquisition
from csmri.io.images import load_sample
from csmri.metrics import evaluate, psnr
from csmri.mri.simulate import simulate

ITERS = 100
CSMRI_LAMS = {"tv": (0.003, 0.005, 0.01), "wavelet": (0.002, 0.003, 0.005)}
BART_LAMS = {"tv": (0.01, 0.03, 0.1), "wavelet": (0.002, 0.005, 0.01)}
ROOT = Path(__file__).resolve().parents[1]
WAVELET = inspect.signature(reconstruct).parameters["wavelet"].default
"""Wavelet of csmri's wavelet runs: csmri's default unless ``--wavelet`` is given."""


def volume(acceleration: int) -> object:
    """8 Colin27 slices zero-padded to 320 x 320, fastMRI random mask, noise 0.005."""
    images = np.zeros((8, 320, 320), dtype=np.float32)
    sample = load_sample()[2:10]
    top, left = (320 - sample.shape[1]) // 2, (320 - sample.shape[2]) // 2
    images[:, top : top + sample.shape[1], left : left + sample.shape[2]] = sample
    return simulate(images, acceleration, 0.32 / acceleration, "random", 0, 0.005, True)


def csmri_cli(path: Path, out: Path, reg: str, lam: float, iters: int) -> float:
    """Wall seconds of one whole ``csmri solve`` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "cli.main", "solve", str(path), "-o", str(out)]
    cmd += ["--reg", reg, "--lam", repr(lam), "--iters", str(iters), "--overwrite"]
    cmd += ["--wavelet", WAVELET] if reg == "wavelet" else []
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def best_csmri(sim, reg: str) -> tuple[float, float]:
    """csmri's best volume PSNR over its lambda grid, with that lambda."""
    scored = []
    for lam in CSMRI_LAMS[reg]:
        images = reconstruct(
            sim.kspace, sim.mask, reg=reg, lam=lam, max_iter=ITERS, wavelet=WAVELET
        ).images
        scored.append((evaluate(sim.target, images)["psnr"], lam))
    return max(scored)


def best_bart(sim, reg: str) -> tuple[float, float]:
    """BART's best volume PSNR over its lambda grid (its own scaling), with that lambda."""
    scored = []
    for lam in BART_LAMS[reg]:
        images = bart_pics(sim.kspace, reg=reg, lam=lam, iterations=ITERS).images
        scored.append((evaluate(sim.target, images)["psnr"], lam))
    return max(scored)


def iterations_to_reach(sim, reg: str, lam: float, goal: float) -> int | None:
    """Fewest iterations after which csmri's volume PSNR reaches ``goal`` (None: never)."""
    reached: list[int] = []

    def callback(iteration, slices, objective, images) -> None:
        if not reached and len(slices) == len(sim.target):
            value = psnr(sim.target, np.abs(images))
            if value >= goal:
                reached.append(iteration + 1)

    reconstruct(
        sim.kspace, sim.mask, reg=reg, lam=lam, max_iter=ITERS, wavelet=WAVELET, callback=callback
    )
    return reached[0] if reached else None


def fastest_route(sim, reg: str, goal: float) -> tuple[int, float] | None:
    """Fewest iterations to ``goal`` over csmri's lambda grid, with that lambda (None: never)."""
    routes = [(n, lam) for lam in CSMRI_LAMS[reg]
              if (n := iterations_to_reach(sim, reg, lam, goal)) is not None]
    return min(routes) if routes else None


def alternate(csmri_run, bart_run, rounds: int) -> tuple[list[float], list[float]]:
    """Wall seconds of both, alternating which goes first, ``rounds`` times."""
    ours, theirs = [], []
    for r in range(rounds):
        if r % 2:
            theirs.append(bart_run())
            ours.append(csmri_run())
        else:
            ours.append(csmri_run())
            theirs.append(bart_run())
    return ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--accel", type=int, default=4)
    parser.add_argument("--wavelet", default=None, help="csmri's wavelet (default: its default)")
    args = parser.parse_args()
    global WAVELET
    if args.wavelet:
        WAVELET = args.wavelet
    if bart_executable() is None:
        sys.exit("bench_cli needs BART ('bart' on PATH)")
    sim = volume(args.accel)
    lines = [
        f"# csmri solve vs bart pics, 8 slices of 320 x 320, {args.accel}x, {ITERS} iterations",
        "",
        f"Machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f} at start; "
        f"{args.rounds} alternating rounds, medians of per-round ratios; csmri wavelet "
        f"{WAVELET}, BART's wavelet db2 (its only one).",
        "",
        "| reg | csmri best PSNR (lam) | BART best PSNR (lam) | csmri solve s | 8 x bart s | "
        "BART / csmri | iters to BART's PSNR (lam) | csmri s at those iters | fraction of BART |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(prefix="csmri-bench-cli-") as tmp:
        path, out = Path(tmp) / "k.h5", Path(tmp) / "x.h5"
        write_acquisition(path, single_coil(sim.kspace, sim.mask, sim.target, attrs=sim.attrs))
        for reg in ("tv", "wavelet"):
            ours_psnr, ours_lam = best_csmri(sim, reg)
            bart_psnr, bart_lam = best_bart(sim, reg)
            csmri_cli(path, out, reg, ours_lam, ITERS)  # warm the page cache and Numba cache

            def bart_run(reg=reg, lam=bart_lam) -> float:
                return sum(bart_pics(sim.kspace, reg=reg, lam=lam, iterations=ITERS).wall)

            ours, theirs = alternate(
                lambda reg=reg, lam=ours_lam: csmri_cli(path, out, reg, lam, ITERS),
                bart_run,
                args.rounds,
            )
            ratio = statistics.median(t / o for o, t in zip(ours, theirs, strict=True))
            route = fastest_route(sim, reg, bart_psnr)
            if route is None:
                reach = "never in 100", "-", "-"
            else:
                needed, route_lam = route
                fast, slow = alternate(
                    lambda reg=reg, lam=route_lam, n=needed: csmri_cli(path, out, reg, lam, n),
                    bart_run,
                    args.rounds,
                )
                fraction = statistics.median(f / s for f, s in zip(fast, slow, strict=True))
                reach = (f"{needed} ({route_lam:g})", f"{statistics.median(fast):.2f}",
                         f"{fraction:.2f}")
            lines.append(
                f"| {reg} | {ours_psnr:.2f} ({ours_lam:g}) | {bart_psnr:.2f} ({bart_lam:g}) | "
                f"{statistics.median(ours):.2f} | {statistics.median(theirs):.2f} | "
                f"**{ratio:.1f}x** | {' | '.join(reach)} |"
            )
            print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
