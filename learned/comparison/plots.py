"""Figures of a comparison: reconstruction grid, quality versus runtime, convergence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.metrics import psnr, ssim
from learned.comparison.runner import ComparisonResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def reconstruction_grid(result: ComparisonResult, path: str | Path) -> None:
    """Target and every method per acceleration, with error maps and PSNR/SSIM in each panel.

    Parameters
    ----------
    result : ComparisonResult
        Holds one example slice per acceleration.
    path : str or Path
        Destination PNG.
    """
    plt = _pyplot()
    accelerations = list(result.examples)
    methods = [name for name in result.examples[accelerations[0]] if name != "target"]
    cols = 1 + len(methods)
    rows = 2 * len(accelerations)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.1 * rows), squeeze=False)
    for a, acceleration in enumerate(accelerations):
        panels = result.examples[acceleration]
        target = panels["target"]
        vmax = float(np.percentile(target, 99.5)) or 1.0
        image_row, error_row = axes[2 * a], axes[2 * a + 1]
        image_row[0].imshow(target, cmap="gray", vmin=0, vmax=vmax)
        image_row[0].set_title(f"target ({acceleration:g}x)", fontsize=7)
        error_row[0].axis("off")
        for m, name in enumerate(methods, start=1):
            image = panels[name]
            image_row[m].imshow(image, cmap="gray", vmin=0, vmax=vmax)
            image_row[m].set_title(
                f"{name}\n{psnr(target, image):.2f} dB, SSIM {ssim(target, image):.3f}", fontsize=7
            )
            error_row[m].imshow(np.abs(image - target), cmap="inferno", vmin=0, vmax=0.2 * vmax)
            error_row[m].set_title("|error| (x5)", fontsize=6)
        for ax in (*image_row, *error_row):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def quality_vs_runtime(summary: list[dict], path: str | Path) -> None:
    """PSNR against seconds per slice, one point per method and acceleration (log time axis).

    Parameters
    ----------
    summary : list of dict
        From :func:`learned.comparison.report.summarise`.
    path : str or Path
        Destination PNG.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = dict(zip(sorted({e["acceleration"] for e in summary}), "osD^v", strict=False))
    methods = list(dict.fromkeys(e["method"] for e in summary))
    colours = dict(zip(methods, plt.cm.tab10.colors, strict=False))
    for entry in summary:
        ax.errorbar(
            max(entry["seconds_mean"], 1e-5),
            entry["psnr_mean"],
            yerr=entry["psnr_std"],
            marker=markers[entry["acceleration"]],
            color=colours[entry["method"]],
            label=f"{entry['method']} {entry['acceleration']:g}x",
            linestyle="none",
            capsize=2,
        )
    ax.set_xscale("log")
    ax.set_xlabel("seconds per slice (log scale)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("Quality versus runtime")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def convergence(result: ComparisonResult, path: str | Path) -> None:
    """Objective and PSNR of the CS solvers against iteration and against time.

    Parameters
    ----------
    result : ComparisonResult
        Holds per-iteration traces of one slice per method and acceleration.
    path : str or Path
        Destination PNG.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(9, 6))
    traces = result.convergence
    if not traces:
        for ax in axes.ravel():
            ax.text(0.5, 0.5, "no iterative method compared", ha="center", va="center")
    for (acceleration, method), trace in traces.items():
        iterations = np.arange(1, len(trace["objective"]) + 1)
        label = f"{method} {acceleration:g}x"
        objective = np.asarray(trace["objective"])
        relative = objective / objective[0]
        axes[0, 0].semilogy(iterations, relative, label=label)
        axes[0, 1].semilogy(trace["seconds"], relative, label=label)
        axes[1, 0].plot(iterations, trace["psnr"], label=label)
        axes[1, 1].plot(trace["seconds"], trace["psnr"], label=label)
    axes[0, 0].set_ylabel("objective / first objective")
    axes[1, 0].set_ylabel("PSNR (dB)")
    for ax in axes[1]:
        ax.set_xlabel("")
    axes[1, 0].set_xlabel("iteration")
    axes[1, 1].set_xlabel("seconds")
    axes[0, 0].set_xlabel("iteration")
    axes[0, 1].set_xlabel("seconds")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    if traces:
        axes[0, 0].legend(fontsize=6)
    fig.suptitle("Convergence of the CS solvers (one slice)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
