"""Benchmark test-time adaptation (learned.adapt): defaults, quality gain, time and memory.

Run: ``OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_adapt.py PART [--kind unet|unrolled]
[--model PATH] [--out FILE]``

PART is one of

* ``sweep``: on the tuning slices (2 and 8 of the embedded Colin27 sample, never scored
  below), adapt with each learning rate and loss fraction for up to ``--steps`` steps
  without early stopping, scoring every check.  Replaying the record gives, for each
  step cap and patience, the PSNR that early stopping would have returned.  This is how
  the defaults were chosen;
* ``quality``: the defaults on the 10 other sample slices, and on Colin27 with inverted
  contrast (a T2-like image no model saw) and the Shepp-Logan phantom, at 4x and 8x:
  PSNR of the plain network (a U-Net with its stored DC and with ``hard-lowres``; the
  unrolled network has its own soft DC) and of the adapted one;
* ``speed``: seconds per 320x320 slice (wall, and CPU time of the process: on a loaded
  machine the wall time mostly measures the other jobs) and the peak memory that
  adaptation adds, with 2 torch threads: at the default settings (early stopping as it
  happens) and with all steps forced (patience off).

Simulation as ``csmri simulate``: smooth random phase, noise 0.005, fastMRI random masks
(4x cf 0.08, 8x cf 0.04), seed 0.  One torch thread except in ``speed``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch

from csmri.io.images import load_sample, shepp_logan
from csmri.metrics import psnr
from csmri.mri.simulate import simulate
from learned.adapt import AdaptConfig, adapt_model
from learned.infer import reconstruct, reconstruct_unrolled, shipped_weights_path
from learned.models.checkpoint import load_model
from learned.models.unrolled import UnrolledNet

SETTINGS = ((4.0, 0.08), (8.0, 0.04))
TUNE_SLICES = (2, 8)
SCORED_SLICES = tuple(i for i in range(12) if i not in TUNE_SLICES)
ADAPTED_DC = "hard-lowres"


def load(path: str | None, kind: str):
    """The model and a line naming its weights (sha256) and training data."""
    path = shipped_weights_path(kind) if path is None else Path(path)
    # provenance is reported here, not enforced: the shipped U-Net predates manifests
    model, _, metadata = load_model(path, kind=kind, require_manifest=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    data = metadata.get("manifest") or metadata.get("data", {})
    files = sorted({Path(str(f)).name for f in data.get("fingerprint_sha256", {})} | {
        Path(str(s.get("file", ""))).name for s in data.get("sources", [])} - {""})
    return model, f"{kind} weights {path.name} (sha256 {digest}...), trained on {files}"


def recon(model, kspace: np.ndarray, mask: np.ndarray, mode: str | None) -> np.ndarray:
    """Plain reconstruction; ``mode`` is the U-Net's data consistency (None: stored)."""
    if isinstance(model, UnrolledNet):
        return reconstruct_unrolled(kspace, mask, model=model)
    return reconstruct(kspace, mask, model=model, data_consistency_mode=mode)


def trace(net, sim, index: int, config: AdaptConfig) -> dict:
    """Adapt to one slice; the PSNR of the weights at every check."""
    target, kspace = sim.target[index], sim.kspace[index : index + 1]
    scores: dict[int, float] = {}

    def score(step: int, error: float, model) -> None:
        scores[step] = psnr(target, recon(model, kspace, sim.mask, ADAPTED_DC)[0])

    result = adapt_model(net, kspace[0], sim.mask, config, on_check=score)
    return {"checks": result.checks, "psnr": scores, "seconds": result.seconds}


def replay(record: dict, cap: int, patience: int) -> tuple[int, float]:
    """The step early stopping would keep with this cap and patience, and its PSNR."""
    best_step, best_error, stale = 0, float("inf"), 0
    for step, error in record["checks"]:
        if step > cap:
            break
        if error < best_error:
            best_step, best_error, stale = step, error, 0
        elif step:
            stale += 1
            if stale >= patience:
                break
    return best_step, record["psnr"][best_step]


def sweep(net, args) -> list[str]:
    images = load_sample()[list(TUNE_SLICES)]
    lines = [
        "## Sweep (tuning slices 2 and 8; PSNR gain over the plain U-Net with hard-lowres DC)",
        "",
        "| R | lr | loss fraction | cap | patience | mean gain (dB) | min gain | steps kept |",
        "|---|---|---|---|---|---|---|---|",
    ]
    raw = {}
    for accel, cf in SETTINGS:
        sim = simulate(images, accel, cf, seed=0, noise=0.005)
        plain = recon(net, sim.kspace, sim.mask, ADAPTED_DC)
        base = [psnr(sim.target[i], plain[i]) for i in range(len(images))]
        for lr in args.lrs:
            for fraction in args.fractions:
                config = AdaptConfig(steps=args.steps, lr=lr, loss_fraction=fraction,
                                     holdout_fraction=args.holdout, patience=10**6, seed=0)
                records = [trace(net, sim, i, config) for i in range(len(images))]
                raw[f"{accel:g}x lr {lr:g} f {fraction:g}"] = records
                for cap in args.caps:
                    for patience in args.patiences:
                        kept = [replay(r, cap, patience) for r in records]
                        gains = [p - b for (_, p), b in zip(kept, base, strict=True)]
                        lines.append(
                            f"| {accel:g}x | {lr:g} | {fraction:g} | {cap} | {patience} | "
                            f"{np.mean(gains):+.2f} | {min(gains):+.2f} | "
                            f"{', '.join(str(s) for s, _ in kept)} |"
                        )
                print("\n".join(lines[-len(args.caps) * len(args.patiences):]), flush=True)
    if args.raw:
        with open(args.raw, "w") as stream:
            json.dump(raw, stream, default=float)
    return lines


def quality_inputs(slices: list[int] | None, only: str | None) -> dict[str, np.ndarray]:
    sample = load_sample()
    scored = sample[slices or list(SCORED_SLICES)]
    brain = scored > 0.1 * scored.max()
    inverted = np.where(brain, scored.max() * 1.1 - scored, 0).astype(np.float32)
    inputs = {
        f"Colin27 sample ({len(scored)} slices)": scored,
        "Colin27, inverted contrast": inverted,
        "Shepp-Logan 256": shepp_logan(256)[None].astype(np.float32),
    }
    return {k: v for k, v in inputs.items() if only is None or k.startswith(only)}


def quality(net, args) -> list[str]:
    config = AdaptConfig(steps=args.adapt_steps)
    lines = [
        f"## Quality (defaults: {config})",
        "",
        "| images | R | U-Net (stored DC) | U-Net (hard-lowres) | adapted | gain vs stored "
        "(mean, min) | gain vs hard-lowres (mean, min) | steps run (mean) | s/slice |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, images in quality_inputs(args.slices, args.only).items():
        for accel, cf in SETTINGS:
            if accel not in args.accels:
                continue
            sim = simulate(images, accel, cf, seed=0, noise=0.005)
            plain = recon(net, sim.kspace, sim.mask, None)
            lowres = recon(net, sim.kspace, sim.mask, ADAPTED_DC)
            rows = []
            for i in range(len(images)):
                result = adapt_model(net, sim.kspace[i], sim.mask, config)
                image = recon(result.model, sim.kspace[i : i + 1], sim.mask, ADAPTED_DC)[0]
                rows.append((psnr(sim.target[i], plain[i]), psnr(sim.target[i], lowres[i]),
                             psnr(sim.target[i], image), result.steps_run, result.seconds))
            p, q, a, steps, secs = (np.array(c) for c in zip(*rows, strict=True))
            lines.append(
                f"| {name} | {accel:g}x | {p.mean():.2f} | {q.mean():.2f} | {a.mean():.2f} | "
                f"{(a - p).mean():+.2f}, {(a - p).min():+.2f} | "
                f"{(a - q).mean():+.2f}, {(a - q).min():+.2f} | {steps.mean():.0f} | "
                f"{secs.mean():.1f} |"
            )
            print(lines[-1], flush=True)
    return lines


def speed(net, args) -> list[str]:
    torch.set_num_threads(2)
    images = np.zeros((1, 320, 320), np.float32)
    images[:, 51:268, 69:250] = load_sample()[5]
    sim = simulate(images, 4, 0.08, seed=0, noise=0.005)
    recon(net, sim.kspace, sim.mask, None)  # warm-up; the plain-inference peak
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = ["## Speed and memory (one 320x320 slice, 4x, 2 torch threads)", "",
             "| run | steps run | wall s per slice (adapt + reconstruct) | CPU s (both threads) |",
             "|---|---|---|---|"]
    for label, patience in (("default early stopping", AdaptConfig().patience),
                            ("all steps (no early stop)", 10**6)):
        config = AdaptConfig(steps=args.adapt_steps, patience=patience)
        for _ in range(args.repeats):
            start, cpu = time.perf_counter(), time.process_time()
            result = adapt_model(net, sim.kspace[0], sim.mask, config)
            recon(result.model, sim.kspace, sim.mask, ADAPTED_DC)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            lines.append(f"| {label} | {result.steps_run} | {seconds:.1f} | {cpu:.1f} |")
            print(lines[-1], flush=True)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += ["", f"Peak resident memory: {before:.0f} MiB after plain inference, "
              f"{after:.0f} MiB after adaptation (+{after - before:.0f} MiB)."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["sweep", "quality", "speed"])
    parser.add_argument("--kind", default="unet", choices=["unet", "unrolled"])
    parser.add_argument("--model", default=None, help="weights (default: the shipped ones)")
    parser.add_argument("--out", default=None, help="append the markdown here")
    parser.add_argument("--steps", type=int, default=120, help="sweep: steps per run")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-4, 3e-4])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.2, 0.4])
    parser.add_argument("--holdout", type=float, default=AdaptConfig().holdout_fraction)
    parser.add_argument("--caps", type=int, nargs="+", default=[30, 60, 90, 120])
    parser.add_argument("--patiences", type=int, nargs="+", default=[2, 4, 1000])
    parser.add_argument("--raw", default=None, help="sweep: JSON of every trace")
    parser.add_argument("--adapt-steps", type=int, default=AdaptConfig().steps)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--slices", type=int, nargs="+", default=None,
                        help="quality: sample slices to score (default: all but 2 and 8)")
    parser.add_argument("--only", default=None, help="quality: inputs whose name starts so")
    parser.add_argument("--accels", type=float, nargs="+", default=[4.0, 8.0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    net, weights = load(args.model, args.kind)
    start = time.perf_counter()
    lines = [f"Model: {weights}.", ""]
    lines += {"sweep": sweep, "quality": quality, "speed": speed}[args.part](net, args)
    lines += ["", f"({args.part}: {time.perf_counter() - start:.0f} s, torch "
              f"{torch.__version__}, on a shared, loaded 2-core machine)", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as stream:
            stream.write(text + "\n")


if __name__ == "__main__":
    main()
