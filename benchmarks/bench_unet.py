"""Benchmark the shipped U-Net: inference speed on 2 threads and quality vs zero-filled and CS.

Run: ``OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_unet.py [--model PATH] [--out FILE]``

* speed: ms per 320x320 slice (batches of 4, 2 torch threads, warm-up excluded, median of
  repeats): the network alone and the full ``learned.reconstruct`` (FFTs + network + DC);
* quality: the embedded Colin27 sample (12 axial slices never trained on) simulated with
  smooth phase, noise 0.005 and fastMRI random masks (4x cf 0.08, 8x cf 0.04; one mask for
  the stack, seeds 0..2), and the Shepp-Logan phantom (256, seed 0): zero-filled, the
  U-Net under each data-consistency mode, and CS (TV and wavelet, FISTA, 100 iterations)
  at its best lambda on a grid refined around the best (an oracle choice, favouring CS).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from csmri.io.images import load_sample, shepp_logan
from csmri.metrics import psnr, ssim
from csmri.mri.fft import ifft2c
from csmri.mri.simulate import simulate
from learned.infer import load_shipped_model, reconstruct
from learned.models.checkpoint import load_model
from learned.models.consistency import DC_MODES

SETTINGS = ((4.0, 0.08), (8.0, 0.04))
LAMBDAS = (0.0005, 0.001, 0.002, 0.005, 0.01)
TUNE_SLICES = (2, 5, 8, 11)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def speed(model, lines: list[str]) -> None:
    torch.set_num_threads(2)
    images = np.zeros((8, 320, 320), np.float32)
    sample = load_sample()[:8]
    images[:, 51:268, 69:250] = sample
    sim = simulate(images, 4, 0.08, seed=0, noise=0.005)
    zf = ifft2c(sim.kspace)
    x = torch.from_numpy(np.stack([zf.real, zf.imag], 1).astype(np.float32))
    x = x.contiguous(memory_format=torch.channels_last)
    model = model.to(memory_format=torch.channels_last)  # as learned.reconstruct runs it

    def net() -> None:
        with torch.inference_mode():
            for start in range(0, 8, 4):
                model(x[start : start + 4])

    def full() -> None:
        reconstruct(sim.kspace, sim.mask, model=model, batch_size=4)

    for name, fn in (("network only", net), ("learned.reconstruct (FFTs + network + DC)", full)):
        fn()
        fn()
        times = []
        for _ in range(5):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) / 8 * 1e3)
        lines.append(f"| {name} | {np.median(times):.1f} | {min(times):.1f} |")


def best_cs(sim, reg: str) -> tuple[float, float, float]:
    """Lambda tuned (grid, then refined by sqrt 2) on a few slices, then run on all."""
    from csmri.app.reconstruct import reconstruct as cs

    tune = [i for i in TUNE_SLICES if i < sim.kspace.shape[0]] or [0]
    scores = {}

    def run(lam: float) -> None:
        if lam not in scores:
            image = np.abs(cs(sim.kspace[tune], sim.mask, reg=reg, lam=lam, max_iter=100).images)
            scores[lam] = psnr(sim.target[tune], image)

    for lam in LAMBDAS:
        run(lam)
    best = max(scores, key=scores.get)
    for lam in (best / np.sqrt(2), best * np.sqrt(2)):
        run(float(lam))
    best = max(scores, key=scores.get)
    image = np.abs(cs(sim.kspace, sim.mask, reg=reg, lam=best, max_iter=100).images)
    return best, psnr(sim.target, image), ssim(sim.target, image)


class CsCache:
    """CS results by (images, R, seed, reg) in an optional JSON file (CS ignores the model)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.data = {}
        if path and os.path.exists(path):
            with open(path) as stream:
                self.data = json.load(stream)

    def get(self, key: str, compute) -> list:
        if key not in self.data:
            self.data[key] = list(compute())
            if self.path:
                with open(self.path, "w") as stream:
                    json.dump(self.data, stream, indent=1)
        return self.data[key]


CACHE = CsCache(None)


def quality(model, images, name, seeds, lines, with_cs=True) -> None:
    for accel, cf in SETTINGS:
        rows: dict[str, list] = {}
        for seed in seeds:
            sim = simulate(images, accel, cf, seed=seed, noise=0.005, phase=True)
            if with_cs:
                for reg in ("tv", "wavelet"):
                    try:
                        lam, p, s = CACHE.get(
                            f"{name}|{accel:g}|{seed}|{reg}",
                            lambda sim=sim, reg=reg: best_cs(sim, reg),
                        )
                    except Exception as error:  # report a failing CS run, keep benchmarking
                        print(f"CS {reg} failed: {error!r}", flush=True)
                        lam, p, s = float("nan"), float("nan"), float("nan")
                    rows.setdefault(f"CS {reg} (best lambda)", []).append((p, s, lam))
            if model is None:
                continue
            zf = np.abs(ifft2c(sim.kspace))
            rows.setdefault("zero-filled", []).append((psnr(sim.target, zf), ssim(sim.target, zf)))
            for mode in DC_MODES:
                out = reconstruct(sim.kspace, sim.mask, model=model, data_consistency_mode=mode)
                rows.setdefault(f"U-Net, DC {mode}", []).append(
                    (psnr(sim.target, out), ssim(sim.target, out))
                )
        for label, values in rows.items():
            p = np.mean([v[0] for v in values])
            s = np.mean([v[1] for v in values])
            extra = ""
            if len(values[0]) == 3:
                extra = " (lambda " + ", ".join(f"{v[2]:.3g}" for v in values) + ")"
            lines.append(f"| {name} | {accel:g}x | {label}{extra} | {p:.2f} | {s:.4f} |")
        print("\n".join(lines[-len(rows) :]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model file (default: shipped)")
    parser.add_argument("--out", default=None, help="also write the markdown here")
    parser.add_argument("--seeds", type=int, default=1, help="mask/phase/noise seeds")
    parser.add_argument("--no-cs", action="store_true", help="skip the CS lambda sweep")
    parser.add_argument("--cs-cache", default=None, help="JSON file caching the CS results")
    parser.add_argument("--cs-only", action="store_true", help="only fill the CS cache")
    args = parser.parse_args()
    global CACHE
    CACHE = CsCache(args.cs_cache)
    if args.cs_only:
        quality(None, load_sample(), "Colin27 sample", range(args.seeds), [], True)
        quality(None, shepp_logan(256)[None], "Shepp-Logan", range(args.seeds), [], True)
        return
    torch.set_num_threads(2)
    model, config, _meta = load_model(args.model) if args.model else load_shipped_model()
    machine = (
        f"{cpu_name()}, {os.cpu_count()} CPU cores (shared with other jobs), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}"
    )
    lines = [
        "# U-Net benchmark",
        "",
        f"Machine: {machine}; {platform.platform()}. "
        f"Model: chans {config.chans}, depth {config.depth}, norm {config.norm}, "
        f"input {config.input}, stored DC default `{config.data_consistency}`, "
        f"{sum(p.numel() for p in model.parameters())} parameters.",
        "",
        "## Inference time per 320x320 slice (ms; batches of 4, warm-up excluded)",
        "",
        "| what | median | best |",
        "|---|---|---|",
    ]
    speed(model, lines)
    print("\n".join(lines), flush=True)
    lines += [
        "",
        "## Quality (noise 0.005, smooth phase, fastMRI random masks)",
        "",
        f"Sample: 12 unseen Colin27 axial slices; Shepp-Logan 256; mean over simulation "
        f"seeds 0..{args.seeds - 1} (mask, phase, noise). CS: FISTA, 100 iterations, lambda "
        "tuned on the ground truth (oracle; grid 5e-4..1e-2 refined by sqrt 2 on slices "
        "2, 5, 8, 11 of the sample), then run on all slices.",
        "",
        "| images | R | method | PSNR (dB) | SSIM |",
        "|---|---|---|---|---|",
    ]
    t = time.perf_counter()
    quality(model, load_sample(), "Colin27 sample", range(args.seeds), lines, not args.no_cs)
    quality(model, shepp_logan(256)[None], "Shepp-Logan", range(args.seeds), lines, not args.no_cs)
    lines += ["", f"(quality part: {time.perf_counter() - t:.0f} s)"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as stream:
            stream.write(text)


if __name__ == "__main__":
    main()
