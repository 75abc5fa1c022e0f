"""The lecture's claims judged from benchmark runs (``benchmarks/bench_lecture.py``).

The benchmark writes one record per training run (study, optimiser, learning rate,
normalisation, batch size, seed, validation curve). This module turns those records into
tables (mean +- std over seeds) and verdict sentences with :mod:`csmri.app.verdict`; the
notebook and the benchmark's Markdown both come from :func:`summarise`.

Conventions
-----------
* Each optimiser is compared at its own best learning rate, chosen by the mean over seeds
  of the final PSNR on held-out *training-subject* slices (the tuning split), never on
  the Colin27 validation slices that the verdicts are about.
* The time to reach the target PSNR is read off the validation curve by linear
  interpolation between evaluations, in training examples seen (deterministic) and in
  training seconds (noisy on a shared machine). A run that never reaches the target
  counts as its full budget in the verdict (censored; the table says how many did not).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from csmri.app.verdict import Verdict, best_of, claim_verdict
from learned.models.unet import make_norm

OPTIMIZER_NAMES = {"sgd": "SGD+momentum", "rmsprop": "RMSprop", "adam": "Adam"}
TARGET_FRACTION = 0.5
"""Default target: zero-filled PSNR + this fraction of the best setting's gain (final mean
PSNR minus zero-filled), i.e. half of the best improvement over zero filling."""


def norm_label(norm: str, group_size: int) -> str:
    """Display name of a normalisation setting.

    Parameters
    ----------
    norm : str
        ``learned.models.unet`` norm kind.
    group_size : int
        Channels per group for ``group`` (0: the default rule).

    Returns
    -------
    str
        E.g. ``"group/16"`` (16 channels per group), ``"batch"``.
    """
    return f"group/{group_size}" if norm == "group" and group_size else norm


def time_to_target(curve: dict, target: float, key: str = "samples") -> float | None:
    """First crossing of ``target`` by the validation PSNR curve, interpolated.

    Parameters
    ----------
    curve : dict
        ``{"samples": [...], "seconds": [...], "psnr": [...]}`` at each evaluation.
    target : float
        PSNR in dB.
    key : {"samples", "steps", "seconds"}
        Unit of the returned time.

    Returns
    -------
    float or None
        Time at the crossing; None when the curve never reaches ``target``.
    """
    psnr, time = np.asarray(curve["psnr"], float), np.asarray(curve[key], float)
    above = np.flatnonzero(psnr >= target)
    if above.size == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(time[0])
    fraction = (target - psnr[i - 1]) / (psnr[i] - psnr[i - 1])
    return float(time[i - 1] + fraction * (time[i] - time[i - 1]))


def _group(runs: list[dict], *keys: str) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        groups[tuple(run[k] for k in keys)].append(run)
    return dict(groups)


def _mean_std(values: list[float]) -> tuple[float, float]:
    x = np.asarray(values, float)
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0


def best_rates(runs: list[dict]) -> dict[str, dict]:
    """Best learning rate per optimiser by mean tuning-split PSNR.

    Parameters
    ----------
    runs : list of dict
        Records of the ``optimisers`` study.

    Returns
    -------
    dict
        ``{optimizer: {"lr": best, "rates": {lr: mean tuning PSNR}, "at_edge": bool,
        "validation_lr": rate with the best mean final validation PSNR}}``; ``at_edge``
        flags a best rate at either end of the sweep (widen the sweep).
    """
    out = {}
    for (optimizer,), group in _group(runs, "optimizer").items():
        rates = {lr: float(np.mean([r["tuning_psnr"] for r in rs]))
                 for (lr,), rs in sorted(_group(group, "lr").items())}
        best = max(rates, key=rates.get)
        ordered = sorted(rates)
        on_validation = {lr: float(np.mean([r["curve"]["psnr"][-1] for r in rs]))
                         for (lr,), rs in _group(group, "lr").items()}
        out[optimizer] = {"lr": best, "rates": rates,
                          "at_edge": len(ordered) > 1 and best in (ordered[0], ordered[-1]),
                          "validation_lr": max(on_validation, key=on_validation.get)}
    return out


def _target(groups: dict[str, list[dict]], zero_filled: float, given: float | None) -> float:
    if given is not None:
        return float(given)
    best = max(np.mean([r["curve"]["psnr"][-1] for r in rs]) for rs in groups.values())
    return float(zero_filled + TARGET_FRACTION * (best - zero_filled))


def _row(label: str, runs: list[dict], target: float) -> dict:
    final = [r["curve"]["psnr"][-1] for r in runs]
    budget = runs[0]["curve"]["samples"][-1]
    reach = [time_to_target(r["curve"], target) for r in runs]
    reach_s = [time_to_target(r["curve"], target, "seconds") for r in runs]
    reached = [t for t in reach if t is not None]
    return {
        "label": label,
        "seeds": len(runs),
        "final_psnr": _mean_std(final),
        "final_values": final,
        "samples_to_target": _mean_std(reached) if reached else None,
        "seconds_to_target": _mean_std([t for t in reach_s if t is not None]) if reached else None,
        "reached": len(reached),
        "censored_samples": [budget if t is None else t for t in reach],
        "train_seconds": _mean_std([r["curve"]["seconds"][-1] for r in runs]),
    }


def _optimiser_study(runs: list[dict], zero_filled: float, given: float | None) -> dict:
    rates = best_rates(runs)
    chosen = {OPTIMIZER_NAMES.get(o, o): [r for r in runs if r["optimizer"] == o
                                          and r["lr"] == info["lr"]]
              for o, info in rates.items()}
    target = _target(chosen, zero_filled, given)
    rows = [_row(name, rs, target) | {"lr": rates[rs[0]["optimizer"]]["lr"]}
            for name, rs in chosen.items()]
    by_name = {row["label"]: row for row in rows}
    verdicts: list[Verdict] = []
    adaptive = [n for n in ("RMSprop", "Adam") if n in by_name]
    if "SGD+momentum" in by_name and adaptive:
        verdicts.append(claim_verdict(
            "Adaptive optimisers (RMSprop, Adam) train faster than SGD with momentum",
            {n: row["censored_samples"] for n, row in by_name.items()}, adaptive,
            ["SGD+momentum"], f"training examples to reach {target:.2f} dB validation PSNR, "
            "each optimiser at its best rate; a run that never reaches it counts as its full "
            "budget", digits=0, higher_is_better=False))
    if len(by_name) > 1:
        verdicts.append(best_of({n: row["final_values"] for n, row in by_name.items()},
                                "final validation PSNR, each optimiser at its best rate",
                                " dB"))
    return {"target_psnr": target, "rates": rates, "rows": rows,
            "sweep": [_row(f"{OPTIMIZER_NAMES.get(o, o)} lr={lr:g}", rs, target) | {"lr": lr}
                      for (o, lr), rs in sorted(_group(runs, "optimizer", "lr").items())],
            "verdicts": verdicts}


def _norm_study(runs: list[dict], zero_filled: float, given: float | None) -> dict:
    by_setting = {(norm_label(n, g), b): rs
                  for (n, g, b), rs in _group(runs, "norm", "group_size", "batch_size").items()}
    target = _target({f"{k}": v for k, v in by_setting.items()}, zero_filled, given)
    rows = [_row(label, rs, target) | {"batch_size": b}
            for (label, b), rs in sorted(by_setting.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    verdicts: list[Verdict] = []
    batch_sizes = sorted({b for _, b in by_setting})
    for b in batch_sizes:
        finals = {label: [r["curve"]["psnr"][-1] for r in rs]
                  for (label, bb), rs in by_setting.items() if bb == b}
        layers = [name for name in finals if name != "none"]
        if "none" in finals and layers:
            verdicts.append(claim_verdict(
                f"Every normalisation layer beats no normalisation at batch size {b}",
                finals, layers, ["none"], "final validation PSNR", " dB"))
        if "group/32" in finals and len(finals) > 1:
            verdicts.append(claim_verdict(
                f"GroupNorm with 32 channels per group beats every other choice at batch "
                f"size {b}", finals, ["group/32"],
                [n for n in finals if n != "group/32"], "final validation PSNR", " dB"))
    if len(batch_sizes) > 1 and ("batch", batch_sizes[0]) in by_setting:
        small, large = batch_sizes[0], batch_sizes[-1]
        finals = {f"batch@{b}": [r["curve"]["psnr"][-1] for r in by_setting[("batch", b)]]
                  for b in (small, large) if ("batch", b) in by_setting}
        if len(finals) == 2:
            verdicts.append(claim_verdict(
                f"BatchNorm suffers at small batch sizes (batch size {small} worse than "
                f"{large})", finals, [f"batch@{large}"], [f"batch@{small}"],
                "final validation PSNR at an equal number of training examples", " dB"))
        others = {label: [r["curve"]["psnr"][-1] for r in rs]
                  for (label, b), rs in by_setting.items()
                  if b == small and label in ("group/32", "batch")}
        if len(others) == 2:
            verdicts.append(claim_verdict(
                f"At batch size {small} BatchNorm is worse than GroupNorm (32 channels per "
                "group)", others, ["group/32"], ["batch"], "final validation PSNR", " dB"))
    return {"target_psnr": target, "rows": rows, "verdicts": verdicts}


def summarise(results: dict, target_psnr: float | None = None) -> dict:
    """Tables and verdicts of a benchmark result.

    Parameters
    ----------
    results : dict
        The benchmark JSON (``runs``, ``zero_filled_psnr``, ``settings``).
    target_psnr : float or None
        Target validation PSNR for the time-to-target columns (None: the default rule,
        see :data:`TARGET_FRACTION`).

    Returns
    -------
    dict
        ``{"optimisers": {...}, "norms": {...}}``, each with ``rows``, ``target_psnr``
        and ``verdicts`` (list of :class:`csmri.app.verdict.Verdict`).
    """
    zero_filled = float(results["zero_filled_psnr"])
    out = {}
    studies = _group(results["runs"], "study")
    if ("optimisers",) in studies:
        out["optimisers"] = _optimiser_study(studies[("optimisers",)], zero_filled, target_psnr)
    if ("norms",) in studies:
        out["norms"] = _norm_study(studies[("norms",)], zero_filled, target_psnr)
    return out


def _pm(value: tuple[float, float] | None, digits: int) -> str:
    return "—" if value is None else f"{value[0]:.{digits}f} ± {value[1]:.{digits}f}"


def _table(rows: list[dict], first: list[str], target: float) -> list[str]:
    head = [*first, "final PSNR (dB)", f"examples to {target:.2f} dB",
            f"seconds to {target:.2f} dB", "reached", "train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row[k]) if k != "lr" else f"{row[k]:g}" for k in first]
        cells += [_pm(row["final_psnr"], 2), _pm(row["samples_to_target"], 0),
                  _pm(row["seconds_to_target"], 1), f"{row['reached']}/{row['seeds']}",
                  _pm(row["train_seconds"], 1)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def group_counts(chans: int, depth: int, group_size: int) -> list[int]:
    """Groups of ``group/<group_size>`` at each U-Net width (``chans * 2**level``).

    Parameters
    ----------
    chans, depth : int
        U-Net width and depth.
    group_size : int
        Channels per group.

    Returns
    -------
    list of int
        Number of groups at widths ``chans, 2 chans, ..., 2**depth chans``.
    """
    return [make_norm("group", chans * 2**k, group_size).num_groups for k in range(depth + 1)]


def markdown(results: dict, summary: dict) -> str:
    """The Markdown report (tables and verdict sentences).

    Parameters
    ----------
    results : dict
        The benchmark JSON.
    summary : dict
        :func:`summarise` output.

    Returns
    -------
    str
        Markdown text.
    """
    s = results["settings"]
    lines = [
        "# The lecture's claims, measured (benchmarks/bench_lecture.py)",
        "",
        f"Command: `{results['command']}`  ",
        f"Created {results['created']} on {results['machine']}; total "
        f"{results['elapsed_s'] / 60:.1f} min.",
        "",
        *([] if results.get("complete", True) else
          ["**Incomplete run**: the benchmark was interrupted; the tables hold the runs that "
           "finished.", ""]),
        f"U-Net chans={s['chans']} depth={s['depth']}, {s['patch']}x{s['patch']} training "
        f"patches, {s['samples']} training examples per run (a pre-simulated pool, shuffled "
        f"per seed), L1 loss, constant learning rate, R={s['acceleration']:g} random masks. "
        f"Training: {s['train_data']}. Validation: {s['validation']} "
        f"(zero-filled PSNR {results['zero_filled_psnr']:.2f} dB). Seeds: {s['seeds']}. "
        "Numbers are mean ± std over seeds.",
        "",
        "Verdict rule (csmri.app.verdict): a claim is supported when every claimed pair's margin "
        "exceeds the spread (sum of the two stds over seeds), not supported when some pair is "
        "decided against it, inconclusive at this scale otherwise.",
        "",
    ]
    if "optimisers" in summary:
        opt = summary["optimisers"]
        lines += ["## Optimisers (each at its best learning rate)", "",
                  f"Norm `{s['optimiser_norm']}`, batch size {s['optimiser_batch_size']}. "
                  "Best rate chosen on a tuning split of training-subject slices.", ""]
        lines += _table(opt["rows"], ["label", "lr"], opt["target_psnr"])
        edges = [OPTIMIZER_NAMES.get(o, o) for o, info in opt["rates"].items() if info["at_edge"]]
        if edges:
            lines += ["", f"Note: the best rate lies at the edge of the sweep for "
                      f"{', '.join(edges)}; a wider sweep could change the comparison."]
        differ = [f"{OPTIMIZER_NAMES.get(o, o)} {info['validation_lr']:g} (tuning chose "
                  f"{info['lr']:g})" for o, info in opt["rates"].items()
                  if info["validation_lr"] != info["lr"]]
        if differ:
            lines += ["", "Note: on the validation slices themselves the best rates would be "
                      f"{'; '.join(differ)}; the verdicts use the tuning choice (see the sweep "
                      "table for the others)."]
        lines += ["", "Learning-rate sweep:", ""]
        lines += _table(opt["sweep"], ["label"], opt["target_psnr"])
        lines += ["", "Verdicts:", ""] + [f"- {v.sentence}" for v in opt["verdicts"]] + [""]
    if "norms" in summary:
        norms = summary["norms"]
        lines += ["## Normalisation layers and batch size", "",
                  f"Adam lr={s['norm_lr']:g}; the same number of training examples at every "
                  "batch size (so batch size 1 takes 16x the steps of batch size 16). "
                  "`group/N`: N channels per group (a layer with fewer channels is one group).",
                  ""]
        widths = "/".join(str(s["chans"] * 2**k) for k in range(s["depth"] + 1))
        sizes = sorted({r["group_size"] for r in results["runs"]
                        if r["study"] == "norms" and r["norm"] == "group" and r["group_size"]})
        if sizes:
            counts = "; ".join(
                f"group/{g}: {'/'.join(map(str, group_counts(s['chans'], s['depth'], g)))}"
                for g in sizes)
            lines += [f"Groups per layer at widths {widths} channels: {counts} (layer norm is "
                      "1 group everywhere). Wu & He's GroupNorm default is 32 *groups*; the "
                      "lecture's claim, tested here, is about groups of 32 *channels*.", ""]
        lines += _table(norms["rows"], ["label", "batch_size"], norms["target_psnr"])
        lines += ["", "Verdicts:", ""] + [f"- {v.sentence}" for v in norms["verdicts"]] + [""]
    return "\n".join(lines)
