"""Benchmark csmri's non-Cartesian CS against BART ``pics -t`` and SigPy on the same data.

Usage::

    python benchmarks/bench_noncartesian.py [--quick] [--out benchmarks/RESULTS_noncartesian.md]

Data: the embedded sample slice ``load_sample()[5]`` (217 x 181) zero-padded to
256 x 256 (``--quick``: 128 x 128, resized), 8 birdcage coils (``csmri.mri.coil_sim``;
quick: 4), sampled by csmri's NUFFT (finufft, BART's units) with complex Gaussian
noise of 0.2% of the largest sample:

* radial: uniform angles, readout 2N, ``ceil(pi/2 N / 4)`` spokes (4x below Nyquist);
* spiral: variable density (``alpha = 1.5``), 8 interleaves of ``N / 64`` turns each
  (4x fewer interleaves than the Archimedean Nyquist 32).

Every tool gets the same k-space and the same coil maps (csmri's ESPIRiT on the
gridded centre, :func:`csmri.mri.nufft_maps.nufft_maps`, timed separately), k-space
divided by csmri's data scale (BART with ``-w 1``), and runs 100 iterations
(quick: 30) of TV and of Haar-wavelet l1 over a lambda grid: csmri's
``reconstruct_noncartesian`` (defaults: ADMM with a 5-iteration CG x-update for TV,
FISTA for wavelets; Toeplitz ``A^H A`` in both), BART
``pics -t`` (ADMM for TV, FISTA with ``-e`` for wavelets) and SigPy's
``TotalVariationRecon`` (primal-dual) / ``L1WaveletRecon`` (FISTA).  PSNR is of
magnitudes, after the least-squares gain fit of each image to the reference (the
tools' output units differ), at each tool's best lambda.  Wall times are per solve
(BART: process start and cfl I/O included), the three tools alternating in a
rotating order per configuration (the machine is shared).  Threads follow the
environment (``OMP_NUM_THREADS`` reaches finufft, BART and SigPy's NumPy;
``CSMRI_FFT_WORKERS`` csmri's FFTs); the report records both.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from csmri.app.noncartesian import gridding_reconstruction, reconstruct_noncartesian
from csmri.app.scaling import robust_scale
from csmri.io.cfl import read_cfl, write_cfl
from csmri.io.images import load_sample
from csmri.linop.nufft import SenseNUFFT
from csmri.metrics import psnr
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.density import pipe_menon
from csmri.mri.nufft_maps import nufft_maps
from csmri.mri.trajectories import nyquist_spokes, radial, spiral

LAMBDAS = (0.003, 0.01, 0.03, 0.1)
QUICK_LAMBDAS = (0.01, 0.03, 0.1)
TOOLS = ("csmri", "bart", "sigpy")
BART_REG = {"tv": ["-R", "T:3:0:{lam}"], "wavelet": ["-e", "-R", "W:3:0:{lam}"]}


def phantom(n: int) -> np.ndarray:
    """The sample slice, padded (or, quick, resized) to ``n x n``, max 1."""
    from scipy.ndimage import zoom

    image = load_sample()[5].astype(np.float64)
    if n < max(image.shape):
        image = zoom(image, n / max(image.shape), order=1)
    out = np.zeros((n, n))
    h, w = image.shape
    out[(n - h) // 2 : (n - h) // 2 + h, (n - w) // 2 : (n - w) // 2 + w] = image
    return out / out.max()


def fitted_psnr(target: np.ndarray, image: np.ndarray) -> float:
    """PSNR of ``|image|`` after the least-squares gain ``a`` minimising ``||a |x| - t||``."""
    magnitude = np.abs(image)
    gain = float(np.vdot(magnitude, target).real / max(np.vdot(magnitude, magnitude).real, 1e-30))
    return psnr(target, gain * magnitude)


def run_csmri(ksp, traj, maps, reg, lam, iters, weights):
    return reconstruct_noncartesian(
        ksp, traj, maps=maps, reg=reg, lam=lam, max_iter=iters, weights=weights, scale=1.0
    ).images[0]


def run_bart(ksp, traj, maps, reg, lam, iters, weights, tmp: Path):
    write_cfl(tmp / "traj", traj.astype(np.complex64))
    write_cfl(tmp / "ksp", np.transpose(ksp, (1, 2, 0))[None])  # [1, R, spokes, C]
    write_cfl(tmp / "sens", np.transpose(maps, (1, 2, 0))[:, :, None, :])  # [H, W, 1, C]
    options = [o.format(lam=lam) for o in BART_REG[reg]]
    cmd = ["bart", "pics", "-w", "1", "-i", str(iters), "-t", str(tmp / "traj"), *options,
           str(tmp / "ksp"), str(tmp / "sens"), str(tmp / "out")]
    subprocess.run(cmd, check=True, capture_output=True)
    return read_cfl(tmp / "out")


def run_sigpy(ksp, traj, maps, reg, lam, iters, weights):
    import sigpy.mri.app as app

    coord = np.moveaxis(traj[:2], 0, -1)
    if reg == "tv":
        recon = app.TotalVariationRecon(ksp, maps, lam, coord=coord, max_iter=iters,
                                        show_pbar=False)
    else:
        recon = app.L1WaveletRecon(ksp, maps, lam, coord=coord, wave_name="haar",
                                   max_iter=iters, show_pbar=False)
    return np.asarray(recon.run())


def scan(kind: str, n: int, coils: int, seed: int = 0):
    """Trajectory, noisy scaled k-space, reference image and true maps."""
    traj = radial(n, nyquist_spokes(n) // 4) if kind == "radial" else spiral(
        n, 8, turns=n / 64, alpha=1.5)
    image = phantom(n)
    truth = birdcage_maps((n, n), coils)
    ksp = SenseNUFFT(truth, traj).forward(image.astype(np.complex128))
    rng = np.random.default_rng(seed)
    sigma = 0.002 * np.abs(ksp).max()
    ksp = ksp + sigma * (rng.standard_normal(ksp.shape) + 1j * rng.standard_normal(ksp.shape))
    return traj, ksp, image


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128x128, 4 coils, 30 iterations")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).with_name("RESULTS_noncartesian.md"))
    args = parser.parse_args(argv)
    n, coils, iters = (128, 4, 30) if args.quick else (256, 8, 100)
    lambdas = QUICK_LAMBDAS if args.quick else LAMBDAS
    rows, timing = [], []
    for kind in ("radial", "spiral"):
        traj, ksp, image = scan(kind, n, coils)
        start = time.perf_counter()
        weights = pipe_menon(traj, (n, n))
        maps = nufft_maps(ksp, traj, (n, n), weights=weights)[0]
        maps_time = time.perf_counter() - start
        scale = robust_scale(np.abs(gridding_reconstruction(ksp, traj, maps=maps,
                                                            weights=weights)[0]))
        ksp = (ksp / scale).astype(np.complex64)
        grid_psnr = fitted_psnr(image, gridding_reconstruction(ksp, traj, maps=maps,
                                                               weights=weights)[0])
        for reg in ("tv", "wavelet"):
            best = {t: (-np.inf, None, None) for t in TOOLS}
            for i, lam in enumerate(lambdas):
                order = TOOLS[i % 3:] + TOOLS[: i % 3]  # rotate who runs first
                for tool in order:
                    t0 = time.perf_counter()
                    with tempfile.TemporaryDirectory() as tmp:
                        if tool == "csmri":
                            out = run_csmri(ksp, traj, maps, reg, lam, iters, weights)
                        elif tool == "bart":
                            out = run_bart(ksp, traj, maps, reg, lam, iters, weights, Path(tmp))
                        else:
                            out = run_sigpy(ksp, traj, maps, reg, lam, iters, weights)
                    seconds = time.perf_counter() - t0
                    value = fitted_psnr(image, out)
                    timing.append((kind, reg, tool, lam, seconds))
                    print(f"{kind} {reg} {tool} lam={lam} psnr={value:.2f} {seconds:.1f}s",
                          flush=True)
                    if value > best[tool][0]:
                        best[tool] = (value, lam, seconds)
            rows.append((kind, reg, grid_psnr, best, maps_time))
    write_report(args, n, coils, iters, lambdas, rows, timing)


def write_report(args, n, coils, iters, lambdas, rows, timing) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Non-Cartesian benchmark: csmri versus BART pics -t and SigPy",
        "",
        f"Command: `python benchmarks/bench_noncartesian.py{' --quick' if args.quick else ''}`;"
        f" {stamp}; {n}x{n}, {coils} coils, {iters} iterations; lambda grid "
        f"{', '.join(map(str, lambdas))}; all tools on the same k-space (divided by csmri's "
        "data scale) and csmri's ESPIRiT maps. Threads: OMP_NUM_THREADS="
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}, CSMRI_FFT_WORKERS="
        f"{os.environ.get('CSMRI_FFT_WORKERS', 'unset')}. Machine: 2 shared cores, times are "
        "noisy. See the script's docstring for the set-up.",
        "",
        "| trajectory | reg | gridding PSNR | csmri PSNR (lam) | BART PSNR (lam) | "
        "SigPy PSNR (lam) | csmri s | BART s | SigPy s | csmri maps s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, reg, grid, best, maps_time in rows:
        cells = [f"{best[t][0]:.2f} ({best[t][1]})" for t in TOOLS]
        times = [f"{best[t][2]:.1f}" for t in TOOLS]
        lines.append(f"| {kind} | {reg} | {grid:.2f} | {' | '.join(cells)} | "
                     f"{' | '.join(times)} | {maps_time:.1f} |")
    lines += ["", "Solve wall seconds at the best lambda (csmri: solve only; its maps in the "
              "last column).", "", "## Every run", "", "| trajectory | reg | tool | lam | s |",
              "|---|---|---|---|---|"]
    lines += [f"| {k} | {r} | {t} | {lam} | {s:.1f} |" for k, r, t, lam, s in timing]
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
