"""What each training-data ingredient adds, measured on the held-out subject (Colin27).

Trains one U-Net per variant of the shipped recipe (``scripts/train_shipped_model.sh``:
MNI152 only, 128 x 128 windows, batch 8, Adam, GroupNorm), each for the same short
budget and seed, then scores every model on the same Colin27 cases as
``bench_learned.py`` (4x cf 0.08 and 8x cf 0.04, noise 0.005, seed 0, 9 scored slices,
each model with the data consistency its validation chose).

Variants: ``mix`` (the shipped recipe: 40 % real MNI152 slices, 60 % synthetic brains,
random phase, random noise), ``real-only`` (no synthetic brains), ``synth-only`` (no real
slices), ``no-phase`` (real-valued training images), ``no-noise`` (noise-free k-space).

Run: ``python benchmarks/ablation_learned.py [--steps 800] [--jobs 2]``; writes
``benchmarks/RESULTS_ablation.md``.  Each job trains on one torch thread.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {
    "mix": {},
    "real-only": {"synth": 0.0},
    "synth-only": {"synth": 1.0},
    "no-phase": {"phase": False},
    "no-noise": {"noise": 0.0},
}
RECIPE = {
    "data": ["mni152"], "synth": 0.6, "accelerations": (4.0, 8.0),
    "center_fractions": (0.08, 0.04), "batch_size": 8, "patch": 128, "optimizer": "adam",
    "lr": 1.5e-3, "norm": "group", "chans": 8, "depth": 4, "noise": 0.005, "phase": True,
    "seed": 0, "val_fraction": 0.1, "max_val_slices": 32, "exclude_sample": True,
    "data_consistency": "auto", "device": "cpu", "threads": 1, "progress": False,
}
TRAIN = """
import json, sys, torch
from learned.training.train import TrainConfig, train
torch.set_num_threads(1)
options = json.loads(sys.argv[1])
print(train(TrainConfig(**options)).summary())
"""


def train_variant(name: str, steps: int, out: Path, reuse: bool = False) -> Path:
    """Train one variant in its own process (one thread); return the model path."""
    if reuse and (out / f"{name}.safetensors").is_file():
        return out / f"{name}.safetensors"
    epochs = max(1, steps // 100)
    options = RECIPE | VARIANTS[name] | {
        "epochs": epochs, "steps_per_epoch": steps // epochs,
        "output": str(out / f"{name}.safetensors"),
        "command": f"benchmarks/ablation_learned.py ({name})",
    }
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", TRAIN, json.dumps(options)], check=True, env=env,
                   cwd=ROOT)
    print(f"{name}: trained in {(time.perf_counter() - start) / 60:.1f} min", flush=True)
    return out / f"{name}.safetensors"


def score(models: dict[str, Path]) -> dict[tuple[str, float], list[float]]:
    """PSNR per (variant, acceleration) on the held-out Colin27 cases."""
    import torch

    from csmri.app.methods import ZeroFilled
    from csmri.io.images import load_sample
    from learned.comparison import cases_from_images, run_comparison
    from learned.method import UnetMethod

    torch.set_num_threads(2)
    cases = cases_from_images("colin27", load_sample(), [4.0, 8.0], [0.08, 0.04], "random",
                              0, 0.005, 3)
    methods = [ZeroFilled()]
    for name, path in models.items():
        method = UnetMethod.load(path, "cpu")
        method.label = name
        methods.append(method)
    result = run_comparison(cases, methods, False, lambda m, c: 0.0, lambda s: None)
    table: dict[tuple[str, float], list[float]] = defaultdict(list)
    for row in result.rows:
        table[(row["method"], row["acceleration"])].append(row["psnr"])
    return table


def report(table: dict, steps: int, variants: list[str]) -> str:
    """Markdown table: mean PSNR and the difference to the shipped recipe."""
    names = ["zero-filled", *variants]
    lines = [
        "# Training-data ablation on the held-out subject (Colin27)",
        "",
        f"`python benchmarks/ablation_learned.py --steps {steps}`: one U-Net per variant of the "
        f"shipped recipe, {steps} steps each (batch 8, same seed), scored on the 9 Colin27 "
        "slices of bench_learned.py (mean PSNR, dB). Differences are against `mix`, the "
        "shipped recipe, trained for the same short budget (the shipped model trains longer).",
        "",
        "| variant | 4x PSNR | vs mix | 8x PSNR | vs mix |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        cells = []
        for acceleration in (4.0, 8.0):
            value = float(np.mean(table[(name, acceleration)]))
            base = float(np.mean(table[("mix", acceleration)]))
            cells += [f"{value:.2f}", "-" if name in ("mix", "zero-filled") else
                      f"{value - base:+.2f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "ablation")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS_ablation.md")
    parser.add_argument("--reuse", action="store_true",
                        help="keep models already in --work (same steps) instead of retraining")
    parser.add_argument("--train-only", action="store_true", help="train, do not score")
    args = parser.parse_args()
    names = [n for n in args.variants.split(",") if n]
    unknown = set(names) - set(VARIANTS)
    if "mix" not in names:
        parser.error("the variants must include mix (the differences are against it)")
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {list(VARIANTS)}")
    args.work.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        paths = list(pool.map(lambda n: train_variant(n, args.steps, args.work, args.reuse),
                              names))
    if args.train_only:
        return
    text = report(score(dict(zip(names, paths, strict=True))), args.steps, names)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
