"""Learned versus CS reconstruction on a subject no shipped model trained on (Colin27).

Run: ``OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_learned.py [--out FILE]``

* inputs: the embedded sample (12 axial Colin27 T1 slices; the shipped models trained only
  on MNI152 and brains synthesised from it, which the leak check confirms) simulated as
  ``csmri compare`` does: smooth phase, noise 0.005, one fastMRI random mask per stack
  (4x cf 0.08, 8x cf 0.04), per seed;
* every CS method (TV, anisotropic TV, wavelets, their sum, TGV, reweighted TV and TGV; FISTA
  and ADMM; 100 iterations) at
  the lambda with the best PSNR on 3 tuning slices (``csmri compare --lam auto``); the
  other 9 slices are scored, the same slices and k-space for every method;
* the U-Net (its stored data-consistency default) and the unrolled network;
* speed: ms per 320x320 slice (batch 4, 2 torch threads, median), U-Net and unrolled
  measured alternately in one process (the machine may be shared).

Real scans (``--real``, on by default; the more real domain, which the README's verdict
follows): the shared in-vivo 16-coil brain (``../shared/data``, never trained or tuned on)
as 16 coils and as its single-coil (coil-combined) view, and the real 2-coil phantom scan
of twixtools (``tests/data/twixtools_gre.dat``), each masked retrospectively as
``bench_real.py`` does (4x cf 0.08, 8x cf 0.08; seeds 0..N-1), CS lambda tuned on another
mask of the same scan.  Speed adds the 16-coil 320 x 320 case with ESPIRiT maps included.

``--cs-cache FILE`` keeps the CS rows (keyed by the k-space hashes) so that a rerun for
new weights does not repeat the CS tuning.  Writes a Markdown report.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from csmri.app.methods import CompressedSensing, ZeroFilled
from csmri.app.reconstruct import DEFAULT_LAMBDA
from csmri.io.images import load_sample
from learned.comparison import cases_from_images, run_comparison
from learned.comparison.report import summarise
from learned.method import UnetMethod, UnrolledMethod

SETTINGS = ((4.0, 0.08), (8.0, 0.04))
REAL_SETTINGS = ((4.0, 0.08), (8.0, 0.08))
REAL_CS = ("tv-admm", "wavelet-fista", "tgv-admm", "tgv-reweighted-admm")
PHANTOM = Path(__file__).resolve().parents[1] / "tests" / "data" / "twixtools_gre.dat"
CS_METHODS = ("tv-admm", "wavelet-fista", "tv-fista", "wavelet-admm", "tv-aniso-admm",
              "tv+wavelet-admm", "tgv-admm", "tv-reweighted-admm", "tgv-reweighted-admm")
TUNING_SLICES = 3


def _cs(name: str) -> CompressedSensing:
    reg, _, solver = name.rpartition("-")
    return CompressedSensing(reg=reg, solver=solver, lam=DEFAULT_LAMBDA[reg], max_iter=100)


def _cached_rows(cached: dict, cache: Path | None, key: str, cases: list, method, say,
                 message: str, **options) -> list[dict]:
    """One CS method's rows on ``cases`` (lambda tuned), from the cache or run and stored."""
    if key not in cached:
        say(message)
        result = run_comparison(cases, [method], True, lambda m, c: DEFAULT_LAMBDA[m.reg], say,
                                **options)
        cached[key] = result.rows
        if cache:  # after every method: an interrupted run loses little
            cache.write_text(json.dumps(cached))
    return cached[key]


def run_quality(seeds: list[int], cache: Path | None, say, cs_only: bool = False,
                cs_methods: tuple[str, ...] = CS_METHODS) -> tuple[list[dict], list, dict]:
    """Rows of every method on the held-out cases, the cases, and the leak check."""
    images = load_sample()
    rows, all_cases = [], []
    cached = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    learned = [] if cs_only else [UnetMethod.load(None, "cpu"), UnrolledMethod.load(None, "cpu")]
    leaks = {m.name: m.leaks(images) for m in learned}
    for seed in seeds:
        cases = cases_from_images("colin27", images, [a for a, _ in SETTINGS],
                                  [c for _, c in SETTINGS], "random", seed, 0.005,
                                  TUNING_SLICES)
        all_cases += cases
        inputs = "|".join(case.fingerprint(case.scored + case.tuning) for case in cases)
        for method in [ZeroFilled(), *map(_cs, cs_methods)]:
            found = _cached_rows(cached, cache, f"{method.name}|{inputs}", cases, method, say,
                                 f"seed {seed}: {method.name} (lambda tuned on slices "
                                 f"{cases[0].tuning})", tuning_workers=1)
            rows += [row | {"seed": seed} for row in found]
        if cs_only:
            continue
        say(f"seed {seed}: learned methods")
        result = run_comparison(cases, learned, False, lambda m, c: 0.0, say)
        rows += [row | {"seed": seed} for row in result.rows]
    return rows, all_cases, leaks


def real_views() -> dict:
    """The real scans: in-vivo brain as 16 coils and single-coil view, and the phantom."""
    import sys

    from csmri.io import read_acquisition

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_real import SCAN, views

    scan = views(np.load(SCAN).astype(np.complex64))
    return {"in-vivo brain, 16 coils": scan["16 coils"],
            "in-vivo brain, single-coil view": scan["single-coil (combined)"],
            "phantom, 2 coils (twixtools gre)": read_acquisition(PHANTOM)}


def run_real(seeds: int, cache: Path | None, say, cs_only: bool = False) -> list[dict]:
    """Rows of zero-filled, the real-scan CS methods and both networks on every real view."""
    from learned.comparison import cases_from_acquisition

    cached = json.loads(cache.read_text()) if cache and cache.is_file() else {}
    learned = [] if cs_only else [UnetMethod.load(None, "cpu"), UnrolledMethod.load(None, "cpu")]
    rows = []
    for view, acq in real_views().items():
        cases = []
        for seed in range(seeds):
            cases += cases_from_acquisition(f"{view} seed {seed}", acq,
                                            [a for a, _ in REAL_SETTINGS],
                                            [c for _, c in REAL_SETTINGS], "random", seed,
                                            num_tuning=1)
        inputs = "|".join(case.fingerprint(case.scored + case.tuning) for case in cases)
        for method in [ZeroFilled(), *map(_cs, REAL_CS)]:
            found = _cached_rows(cached, cache, f"real|{method.name}|{inputs}", cases, method,
                                 say, f"{view}: {method.name}")
            rows += [row | {"view": view} for row in found]
        if cs_only:
            continue
        say(f"{view}: learned methods")
        result = run_comparison(cases, learned, False, lambda m, c: 0.0, say)
        rows += [row | {"view": view} for row in result.rows]
    return rows


def real_report(rows: list[dict]) -> list[str]:
    """Markdown lines: one table per real view and the unrolled network's margins."""
    lines = ["", "## Real scans (the verdict follows these)", ""]
    for view in dict.fromkeys(row["view"] for row in rows):
        summary = summarise(_as_result([r for r in rows if r["view"] == view]))
        methods = list(dict.fromkeys(e["method"] for e in summary))
        by = {(e["method"], e["acceleration"]): e for e in summary}
        cs = [m for m in methods if m not in ("zero-filled", "unet", "unrolled")]
        lines += [f"### {view}", "", "| method | 4x PSNR | 4x SSIM | 8x PSNR | 8x SSIM |",
                  "|---|---|---|---|---|"]
        for m in methods:
            cells = []
            for a, _ in REAL_SETTINGS:
                e = by[(m, a)]
                cells += [f"{e['psnr_mean']:.2f} ± {e['psnr_std']:.2f}", f"{e['ssim_mean']:.4f}"]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        margins = []
        for a, _ in REAL_SETTINGS:
            best = max(cs, key=lambda m, a=a: by[(m, a)]["psnr_mean"])
            gap = by[("unrolled", a)]["psnr_mean"] - by[(best, a)]["psnr_mean"]
            margins.append(f"{a:g}x {gap:+.2f} dB (vs {best})")
        lines += ["", "Unrolled network over the best CS method: " + "; ".join(margins) + ".",
                  ""]
    return lines


def run_speed_multicoil(repeats: int = 3) -> dict:
    """Seconds per 320 x 320, 16-coil slice: ESPIRiT maps, then the unrolled network."""
    from csmri.acquisition import Acquisition
    from csmri.io.images import shepp_logan
    from csmri.mri.coil_sim import birdcage_maps
    from csmri.mri.coils import ensure_maps
    from csmri.mri.fft import fft2c
    from learned.infer import reconstruct_unrolled

    torch.set_num_threads(2)
    image = shepp_logan(320).astype(np.complex64)
    kspace = fft2c(birdcage_maps((320, 320), 16) * image)[None].astype(np.complex64)
    mask = np.zeros(320, bool)
    mask[::4] = True
    mask[147:173] = True
    kspace = kspace * mask
    model = UnrolledMethod.load(None, "cpu").model
    maps_s, net_s = [], []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        maps = ensure_maps(Acquisition(kspace, np.broadcast_to(mask, (320, 320)).copy()),
                           "espirit")
        middle = time.perf_counter()
        reconstruct_unrolled(kspace, mask, model=model, maps=maps)
        maps_s.append(middle - start)
        net_s.append(time.perf_counter() - middle)
    return {"maps_s": float(np.median(maps_s[1:])), "network_s": float(np.median(net_s[1:]))}


def _net_ms(fn, repeats: int) -> tuple[float, float]:
    """Median wall and CPU (all threads) milliseconds per slice of a 4-slice call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return float(np.median(wall)) * 1000 / 4, float(np.median(cpu)) * 1000 / 4


def run_speed(repeats: int = 3, rounds: int = 1) -> dict:
    """Median ms per 320x320 slice, U-Net and unrolled alternating, 2 threads."""
    from learned.infer import reconstruct, reconstruct_unrolled
    from learned.method import UnetMethod as U
    from learned.method import UnrolledMethod as R

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    kspace = (rng.standard_normal((4, 320, 320)) + 1j * rng.standard_normal((4, 320, 320)))
    kspace = kspace.astype(np.complex64)
    mask = np.zeros(320, bool)
    mask[::4] = True
    mask[150:170] = True
    unet, unrolled = U.load(None, "cpu").model, R.load(None, "cpu").model
    results: dict[str, list[tuple[float, float]]] = {"unet": [], "unrolled": []}
    for _ in range(rounds):
        results["unet"].append(_net_ms(lambda: reconstruct(kspace, mask, unet), repeats))
        results["unrolled"].append(
            _net_ms(lambda: reconstruct_unrolled(kspace, mask, unrolled), repeats))
    speed = {name: float(np.median([w for w, _ in v])) for name, v in results.items()}
    speed |= {f"{name}_cpu": float(np.median([c for _, c in v])) for name, v in results.items()}
    return speed


def report(rows: list[dict], leaks: dict, speed: dict, seeds: list[int], seconds: float,
           real_rows: list[dict] | None = None) -> str:
    """Markdown: the per-method table, best CS, margins, speed and the run's settings."""
    summary = summarise(_as_result(rows))
    methods = list(dict.fromkeys(entry["method"] for entry in summary))
    by = {(e["method"], e["acceleration"]): e for e in summary}
    cs = [m for m in methods if m not in ("zero-filled", "unet", "unrolled")]
    best_cs = {a: max(cs, key=lambda m: by[(m, a)]["psnr_mean"]) for a, _ in SETTINGS}
    lines = [
        "# Learned vs CS on a held-out subject (Colin27)",
        "",
        f"`python benchmarks/bench_learned.py`; seeds {seeds}; "
        f"{by[(methods[0], SETTINGS[0][0])]['slices']} scored slices per acceleration, "
        f"{TUNING_SLICES} other slices per seed tune each CS lambda (mean ± sd over slices).",
        "",
        "| method | 4x PSNR | 4x SSIM | 8x PSNR | 8x SSIM | lambda 4x / 8x |",
        "|---|---|---|---|---|---|",
    ]
    for m in methods:
        cells = []
        for a, _ in SETTINGS:
            e = by[(m, a)]
            mark = " **(best CS)**" if best_cs[a] == m else ""
            cells += [f"{e['psnr_mean']:.2f} ± {e['psnr_std']:.2f}{mark}",
                      f"{e['ssim_mean']:.4f}"]
        lams = " / ".join(_lam(rows, m, a) for a, _ in SETTINGS)
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {lams} |")
    lines += ["", "Margins over the best CS method (mean PSNR over the same slices):", ""]
    for m in ("unet", "unrolled"):
        parts = [f"{a:g}x {by[(m, a)]['psnr_mean'] - by[(best_cs[a], a)]['psnr_mean']:+.2f} dB "
                 f"(vs {best_cs[a]}), SSIM "
                 f"{by[(m, a)]['ssim_mean'] - by[(best_cs[a], a)]['ssim_mean']:+.4f}"
                 for a, _ in SETTINGS]
        lines.append(f"* {m}: " + "; ".join(parts))
    lines += [
        "",
        "Leak check (scored slices found in the models' training manifests, any flip or "
        "rotation): " + ", ".join(f"{m}: {len(v)}" for m, v in leaks.items()) + ".",
        "",
        f"Speed, ms per 320x320 slice (batch 4, 2 torch threads, median; U-Net and unrolled "
        f"alternated in one process): wall U-Net {speed['unet']:.0f} ms, unrolled "
        f"{speed['unrolled']:.0f} ms; CPU time summed over threads U-Net "
        f"{speed['unet_cpu']:.0f} ms, unrolled {speed['unrolled_cpu']:.0f} ms (on a shared, "
        "overloaded machine the wall time is inflated; the CPU time bounds the wall time on "
        "one idle core).",
        "",
        f"Multi-coil speed, one 320x320 slice with 16 coils (2 torch threads, median): "
        f"ESPIRiT maps {speed.get('maps_s', float('nan')):.2f} s + unrolled network "
        f"{speed.get('network_s', float('nan')):.2f} s (8 virtual coils inside) = "
        f"{speed.get('maps_s', float('nan')) + speed.get('network_s', float('nan')):.2f} s.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}; "
        f"benchmark wall time {seconds / 60:.1f} min.",
    ]
    if real_rows:
        lines += real_report(real_rows)
    return "\n".join(lines) + "\n"


def _lam(rows: list[dict], method: str, acceleration: float) -> str:
    values = sorted({row["lambda"] for row in rows
                     if row["method"] == method and row["acceleration"] == acceleration
                     and row["lambda"] is not None})
    return ",".join(f"{v:.2g}" for v in values) if values else "-"


def _as_result(rows: list[dict]):
    from learned.comparison.runner import ComparisonResult

    return ComparisonResult(rows=rows)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/RESULTS_learned.md")
    parser.add_argument("--seeds", default="0", help="comma-separated simulation seeds")
    parser.add_argument("--cs-cache", default=None, help="JSON file caching the CS rows")
    parser.add_argument("--rows", default=None, help="also write every per-slice row (JSON)")
    parser.add_argument("--cs-methods", default=",".join(CS_METHODS),
                        help="comma-separated CS methods (default: all)")
    parser.add_argument("--cs-only", action="store_true",
                        help="only fill --cs-cache (no models needed); no report")
    parser.add_argument("--real-seeds", type=int, default=2,
                        help="masks per real scan and acceleration (0: no real scans)")
    parser.add_argument("--real-only", action="store_true",
                        help="only the real scans (and the speed); no Colin27 table")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    start = time.perf_counter()
    say = lambda message: print(f"  .. {message}", flush=True)  # noqa: E731
    cache = Path(args.cs_cache) if args.cs_cache else None
    cs_methods = tuple(m.strip() for m in args.cs_methods.split(",") if m.strip())
    real_rows = run_real(args.real_seeds, cache, say, args.cs_only) if args.real_seeds else []
    if args.real_only:
        say("speed")
        speed = run_speed_multicoil()
        text = "# Learned vs CS on real scans\n" + "\n".join(real_report(real_rows)) + (
            f"\nMulti-coil speed (320x320, 16 coils): ESPIRiT {speed['maps_s']:.2f} s + "
            f"unrolled {speed['network_s']:.2f} s.\n")
        Path(args.out).write_text(text)
        print(text)
        return
    rows, _, leaks = run_quality(seeds, cache, say, args.cs_only, cs_methods)
    if args.cs_only:
        return
    say("speed")
    speed = run_speed() | run_speed_multicoil()
    text = report(rows, leaks, speed, seeds, time.perf_counter() - start, real_rows)
    Path(args.out).write_text(text)
    if args.rows:
        Path(args.rows).write_text(json.dumps(rows, default=float))
    print(text)


if __name__ == "__main__":
    main()
