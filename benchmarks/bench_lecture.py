"""The lecture's claims, measured: optimisers and normalisation layers, with seeds.

Run (the full run took 38.9 min on 2 cores shared with other jobs, load ~20)::

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/bench_lecture.py --data MNI152.nii.gz --workers 2
    python benchmarks/bench_lecture.py --data MNI152.nii.gz --quick --out /tmp/lecture  # < 1 min
    python benchmarks/bench_lecture.py --report-only        # Markdown again from the JSON
    # larger optimiser study (RESULTS_lecture_optimisers_p64; 14.5 min on the same machine):
    python benchmarks/bench_lecture.py --data MNI152.nii.gz --workers 2 --studies optimisers \
        --patch 64 --samples 512 --out benchmarks/RESULTS_lecture_optimisers_p64

Training data: NIfTI volumes of subjects other than Colin27 (the MNI152 2009a template
that ``scripts/train_shipped_model.sh`` extracts from the nilearn wheel). A few of their
slices form the tuning split (learning-rate choice). Validation: the embedded Colin27
sample (12 axial slices), a different subject that no model here trains on.

Every run trains the project's :class:`learned.models.unet.NormUnet` on the same pre-simulated
pool of training patches (R=4 random masks, smooth phase, noise), shuffled by the run's
seed, which also seeds the initialisation; the validation PSNR is measured at fixed
points of the run. Studies:

* ``optimisers``: SGD+momentum, RMSprop, Adam, each over a learning-rate sweep;
* ``norms``: batch, group with 8/16/32 channels per group, instance, layer, none, each at
  batch sizes 1, 4 and 16 with the same number of training examples.

Output: ``OUT.json`` (settings, every run's curve) and ``OUT.md`` (tables and verdicts
from :func:`learned.training.lecture.summarise`).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from csmri.io.atomic import atomic_path
from csmri.io.images import load_sample
from csmri.metrics import psnr
from csmri.mri.fft import ifft2c
from learned.data.dataset import (
    SimulationConfig,
    is_colin27,
    load_slices,
    parse_source,
    training_batch,
    validation_items,
)
from learned.evaluate import predict
from learned.models.unet import NormUnet, UNetConfig
from learned.training.lecture import markdown, summarise
from learned.training.train import TrainConfig, compute_loss, make_optimizer

FULL = {
    "chans": 8, "depth": 3, "patch": 32, "samples": 768, "evaluations": 6, "seeds": 3,
    "tuning_slices": 6, "validation_slices": 6,
    "rates": {"sgd": [0.01, 0.03, 0.1], "rmsprop": [0.0001, 0.0003, 0.001],
              "adam": [0.0003, 0.001, 0.003]},
    "optimiser_norm": "group", "optimiser_batch_size": 4,
    "norms": [["batch", 0], ["group", 8], ["group", 16], ["group", 32], ["instance", 0],
              ["layer", 0], ["none", 0]],
    "batch_sizes": [1, 4, 16], "norm_lr": 0.001,
}
QUICK = FULL | {
    "chans": 4, "patch": 32, "samples": 16, "evaluations": 2, "seeds": 3, "tuning_slices": 2,
    "validation_slices": 3,
    "rates": {"sgd": [0.01, 0.03], "rmsprop": [0.0003, 0.001], "adam": [0.001, 0.003]},
    "norms": [["batch", 0], ["group", 32], ["none", 0]], "batch_sizes": [1, 4],
}
SIMULATION = SimulationConfig((4.0,), (0.08,), noise=0.005, phase=True)
DATA_SEED = 2024

_SHARED: dict = {}


def runs_of(settings: dict) -> list[dict]:
    """Every training run of the benchmark (study, optimiser, rate, norm, batch, seed).

    Parameters
    ----------
    settings : dict
        ``FULL`` or ``QUICK`` (possibly with overrides).

    Returns
    -------
    list of dict
        Run specifications.
    """
    specs = []
    studies = settings.get("studies", ["optimisers", "norms"])
    for seed in range(settings["seeds"]):
        for optimizer, rates in settings["rates"].items() if "optimisers" in studies else ():
            specs += [{"study": "optimisers", "optimizer": optimizer, "lr": lr,
                       "norm": settings["optimiser_norm"], "group_size": 0,
                       "batch_size": settings["optimiser_batch_size"], "seed": seed}
                      for lr in rates]
        for norm, group_size in settings["norms"] if "norms" in studies else ():
            specs += [{"study": "norms", "optimizer": "adam", "lr": settings["norm_lr"],
                       "norm": norm, "group_size": group_size, "batch_size": b, "seed": seed}
                      for b in settings["batch_sizes"]]
    return specs


def prepare(data: list[str], settings: dict) -> dict:
    """Training pool, tuning items and validation items shared by every run.

    Parameters
    ----------
    data : list of str
        Training NIfTI volumes (never Colin27).
    settings : dict
        Benchmark settings.

    Returns
    -------
    dict
        ``inputs``/``targets`` (pool), ``tuning``/``validation`` (items), ``info``.
    """
    for item in data:
        if is_colin27(parse_source(item).path):
            raise SystemExit(f"{item}: Colin27 is the validation subject; train on others")
    slices = load_slices(data, exclude_sample=False)
    n = len(slices.images)
    tune_idx = np.unique(np.linspace(0, n - 1, settings["tuning_slices"] + 2).round()[1:-1])
    tune_idx = tune_idx.astype(int)
    train_idx = np.setdiff1d(np.arange(n), tune_idx)
    rng = np.random.default_rng(DATA_SEED)
    picks = rng.choice(train_idx, settings["samples"], replace=len(train_idx) < settings["samples"])
    inputs, targets = [], []
    for step, start in enumerate(range(0, len(picks), 16)):
        x, y = training_batch(slices.images, picks[start:start + 16], SIMULATION,
                              settings["patch"], DATA_SEED, 0, step)
        inputs.append(x)
        targets.append(y)
    sample = load_sample()
    keep = np.linspace(0, len(sample) - 1, settings["validation_slices"]).round().astype(int)
    sample = sample[keep]
    validation = validation_items(list(sample), SIMULATION, 0)
    tuning = validation_items([slices.images[i] for i in tune_idx], SIMULATION, 1)
    zero_filled = [psnr(it.target, np.abs(ifft2c(it.kspace))) for it in validation]
    return {
        "inputs": np.concatenate(inputs), "targets": np.concatenate(targets),
        "tuning": tuning, "validation": validation,
        "info": {"train_slices": len(train_idx), "tuning_slices": len(tune_idx),
                 "zero_filled_psnr": float(np.mean(zero_filled)),
                 "fingerprint_sha256": slices.fingerprint},
    }


def mean_psnr(model: NormUnet, items: list) -> float:
    """Mean PSNR (network output, no data consistency) over same-size items.

    Parameters
    ----------
    model : NormUnet
        Network (put in eval mode here and back afterwards).
    items : list of learned.data.dataset.ValidationItem
        Examples.

    Returns
    -------
    float
        Mean PSNR in dB.
    """
    was_training = model.training
    model.eval()
    scores = []
    for shape in {it.target.shape for it in items}:
        group = [it for it in items if it.target.shape == shape]
        out = predict(model, np.stack([it.kspace for it in group]),
                      np.stack([it.mask for it in group]))["none"]
        scores += [psnr(it.target, o) for it, o in zip(group, out, strict=True)]
    model.train(was_training)
    return float(np.mean(scores))


def train_run(spec: dict, settings: dict, shared: dict | None = None) -> dict:
    """One training run; its validation curve.

    Parameters
    ----------
    spec : dict
        From :func:`runs_of`.
    settings : dict
        Benchmark settings.
    shared : dict or None
        :func:`prepare` output (None: the worker's copy).

    Returns
    -------
    dict
        ``spec`` plus ``curve`` (samples, steps, seconds, psnr, loss) and ``tuning_psnr``.
    """
    shared = shared or _SHARED
    torch.manual_seed(spec["seed"])
    config = UNetConfig(settings["chans"], settings["depth"], spec["norm"],
                        group_size=spec["group_size"])
    model = NormUnet(config)
    optimizer = make_optimizer(TrainConfig(optimizer=spec["optimizer"], lr=spec["lr"]),
                               model.parameters())
    inputs, targets = shared["inputs"], shared["targets"]
    batch = spec["batch_size"]
    order = np.random.default_rng([spec["seed"], 1]).permutation(len(inputs))
    steps = len(order) // batch
    checkpoints = set(np.linspace(0, steps, settings["evaluations"] + 1).round().astype(int))
    curve: dict[str, list] = {"samples": [], "steps": [], "seconds": [], "psnr": [], "loss": []}
    seconds, losses = 0.0, []
    for step in range(steps + 1):
        if step in checkpoints:
            curve["samples"].append(step * batch)
            curve["steps"].append(step)
            curve["seconds"].append(round(seconds, 3))
            curve["psnr"].append(mean_psnr(model, shared["validation"]))
            curve["loss"].append(float(np.mean(losses)) if losses else None)
            losses = []
        if step == steps:
            break
        start = time.perf_counter()
        pick = order[step * batch:(step + 1) * batch]
        loss = compute_loss(model, torch.from_numpy(inputs[pick]),
                            torch.from_numpy(targets[pick]), "l1")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        seconds += time.perf_counter() - start
    finite = bool(np.all(np.isfinite(curve["psnr"])))
    tuning = mean_psnr(model, shared["tuning"]) if spec["study"] == "optimisers" else None
    return spec | {"curve": curve, "tuning_psnr": tuning, "finite": finite}


def _init_worker(shared: dict) -> None:
    torch.set_num_threads(1)
    _SHARED.update(shared)


def _worker(args: tuple[dict, dict]) -> dict:
    return train_run(*args)


def cpu_name() -> str:
    """CPU model name (for the report)."""
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_report(results: dict, out: Path) -> str:
    """Write ``out.json`` and ``out.md`` atomically; return the Markdown.

    Parameters
    ----------
    results : dict
        Benchmark results.
    out : Path
        Output prefix.

    Returns
    -------
    str
        The Markdown report.
    """
    text = markdown(results, summarise(results))
    with atomic_path(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(results, indent=1) + "\n")
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text(text + "\n")
    return text


def _key(spec: dict) -> tuple:
    return tuple(spec[k] for k in ("study", "optimizer", "lr", "norm", "group_size",
                                   "batch_size", "seed"))


def benchmark(
    data: list[str], settings: dict, workers: int, command: str,
    partial: Path | None = None, done: list[dict] | None = None,
) -> dict:
    """Run every training run; the results dictionary.

    Parameters
    ----------
    data : list of str
        Training volumes.
    settings : dict
        Benchmark settings.
    workers : int
        Parallel processes (1 thread each).
    command : str
        Command line, recorded.
    partial : Path or None
        Rewrite this JSON after every run (``"complete": false``) so an interrupted
        benchmark can be resumed or reported.
    done : list of dict or None
        Runs of an earlier, interrupted benchmark with the same settings (skipped).

    Returns
    -------
    dict
        Settings, machine, zero-filled PSNR, runs.
    """
    start = time.perf_counter()
    torch.set_num_threads(1)
    shared = prepare(data, settings)
    runs = list(done or [])
    finished = {_key(run) for run in runs}
    specs = [spec for spec in runs_of(settings) if _key(spec) not in finished]
    names = [Path(parse_source(d).path).name for d in data]

    def results(complete: bool) -> dict:
        return _results(command, start, workers, settings, names, shared, runs, complete)

    def record(run: dict) -> None:
        runs.append(run)
        print(f"[{len(runs)}/{len(finished) + len(specs)}] "
              f"{_describe(run)}", flush=True)
        if partial is not None:
            with atomic_path(partial) as tmp:
                tmp.write_text(json.dumps(results(False), indent=1) + "\n")

    if workers > 1:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, _init_worker, (shared,)) as pool:
            for run in pool.imap(_worker, [(s, settings) for s in specs]):
                record(run)
    else:
        for spec in specs:
            record(train_run(spec, settings, shared))
    return results(True)


def _results(command: str, start: float, workers: int, settings: dict, names: list[str],
             shared: dict, runs: list[dict], complete: bool) -> dict:
    return {
        "command": command,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, {workers} worker(s) x 1 thread, "
                   f"torch {torch.__version__}",
        "elapsed_s": round(time.perf_counter() - start, 1),
        "settings": settings | {
            "acceleration": SIMULATION.accelerations[0],
            "center_fraction": SIMULATION.center_fractions[0], "noise": SIMULATION.noise,
            "train_data": f"{', '.join(names)} ({shared['info']['train_slices']} slices; "
                          f"{shared['info']['tuning_slices']} more for tuning)",
            "validation": f"embedded Colin27 sample, {len(shared['validation'])} axial slices",
        },
        "data": shared["info"],
        "zero_filled_psnr": shared["info"]["zero_filled_psnr"],
        "complete": complete,
        "runs": runs,
    }


def _describe(run: dict) -> str:
    what = f"{run['study']}: {run['optimizer']} lr={run['lr']:g} {run['norm']}"
    if run["group_size"]:
        what += f"/{run['group_size']}"
    return (f"{what} batch={run['batch_size']} seed={run['seed']}: final PSNR "
            f"{run['curve']['psnr'][-1]:.2f} dB, {run['curve']['seconds'][-1]:.1f} s")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", action="append", default=[],
                        help="training NIfTI volume (repeatable; not Colin27)")
    parser.add_argument("--quick", action="store_true", help="tiny settings (< 1 min)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=None, help="override (>= 3 advised)")
    parser.add_argument("--samples", type=int, default=None, help="training examples per run")
    parser.add_argument("--patch", type=int, default=None, help="training patch side")
    parser.add_argument("--studies", default=None,
                        help="comma-separated subset of optimisers,norms (default: both)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/RESULTS_lecture"),
                        help="output prefix (.json and .md are written)")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite OUT.md from an existing OUT.json")
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs of an interrupted OUT.json with the same settings")
    args = parser.parse_args(argv)
    out = args.out.with_suffix("") if args.out.suffix in (".json", ".md") else args.out
    if args.report_only:
        results = json.loads(out.with_suffix(".json").read_text())
        print(write_report(results, out))
        return
    if not args.data:
        parser.error("give the training data with --data (e.g. the MNI152 template)")
    settings = dict(QUICK if args.quick else FULL)
    if args.seeds is not None:
        settings["seeds"] = args.seeds
    for name in ("samples", "patch"):
        if getattr(args, name) is not None:
            settings[name] = getattr(args, name)
    if args.studies is not None:
        settings["studies"] = [part.strip() for part in args.studies.split(",") if part.strip()]
    command = " ".join(["python", "benchmarks/bench_lecture.py", *(argv or sys.argv[1:])])
    done = None
    if args.resume and out.with_suffix(".json").exists():
        earlier = json.loads(out.with_suffix(".json").read_text())
        if earlier["settings"] | settings != earlier["settings"]:
            parser.error(f"{out.with_suffix('.json')}: settings differ; cannot resume")
        done = earlier["runs"]
    results = benchmark(args.data, settings, args.workers, command, out.with_suffix(".json"), done)
    print(write_report(results, out))


if __name__ == "__main__":
    main()
