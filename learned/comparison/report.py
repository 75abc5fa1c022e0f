"""Summaries and tables of a comparison: terminal, Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict

import numpy as np

from learned.comparison.runner import ComparisonResult

COLUMNS = ("nmse", "psnr", "ssim", "seconds")
HIGHER_IS_BETTER = {"nmse": False, "psnr": True, "ssim": True, "seconds": False}


def summarise(result: ComparisonResult) -> list[dict]:
    """Mean and standard deviation over scored slices, per acceleration and method.

    Parameters
    ----------
    result : ComparisonResult
        Per-slice rows.

    Returns
    -------
    list of dict
        One dict per (acceleration, method), in first-seen order, with
        ``<metric>_mean``/``<metric>_std``, ``iterations``, ``lambda``, ``slices``
        and ``best`` (the metrics on which this method is the best at its acceleration).
    """
    groups: dict[tuple[float, str], list[dict]] = defaultdict(list)
    for row in result.rows:
        groups[(row["acceleration"], row["method"])].append(row)
    summary = []
    for (acceleration, method), rows in groups.items():
        entry: dict = {"acceleration": acceleration, "method": method, "slices": len(rows)}
        for column in COLUMNS:
            values = np.array([row[column] for row in rows], dtype=float)
            entry[f"{column}_mean"] = float(values.mean())
            entry[f"{column}_std"] = float(values.std())
        entry["iterations"] = float(np.mean([row["iterations"] for row in rows]))
        entry["lambda"] = rows[0]["lambda"]
        summary.append(entry)
    for acceleration in {entry["acceleration"] for entry in summary}:
        peers = [entry for entry in summary if entry["acceleration"] == acceleration]
        for column in COLUMNS:
            pick = max if HIGHER_IS_BETTER[column] else min
            best = pick(peers, key=lambda entry: entry[f"{column}_mean"])
            best.setdefault("best", []).append(column)
    for entry in summary:
        entry.setdefault("best", [])
    return summary


def _cell(entry: dict, column: str, digits: int) -> str:
    text = f"{entry[f'{column}_mean']:.{digits}f} ± {entry[f'{column}_std']:.{digits}f}"
    return text + (" *" if column in entry["best"] else "")


def _lam_text(value: float | None) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3g}"
    )


def table_rows(summary: list[dict], acceleration: float) -> list[list[str]]:
    """Formatted cells (header first) of the table for one acceleration."""
    header = ["method", "NMSE", "PSNR (dB)", "SSIM", "s/slice", "iters", "lambda"]
    rows = [header]
    for entry in summary:
        if entry["acceleration"] != acceleration:
            continue
        rows.append(
            [
                entry["method"],
                _cell(entry, "nmse", 4),
                _cell(entry, "psnr", 2),
                _cell(entry, "ssim", 4),
                _cell(entry, "seconds", 3),
                f"{entry['iterations']:.0f}",
                _lam_text(entry["lambda"]),
            ]
        )
    return rows


def format_text(summary: list[dict]) -> str:
    """Aligned plain-text tables, one per acceleration; ``*`` marks the best in each column."""
    blocks = []
    for acceleration in dict.fromkeys(entry["acceleration"] for entry in summary):
        rows = table_rows(summary, acceleration)
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        slices = next(e["slices"] for e in summary if e["acceleration"] == acceleration)
        lines = [f"Acceleration {acceleration:g}x ({slices} scored slices)"]
        for k, row in enumerate(rows):
            lines.append(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            )
            if k == 0:
                lines.append("  ".join("-" * width for width in widths))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n(* best in column; mean ± std over scored slices)\n"


def format_markdown(summary: list[dict]) -> str:
    """GitHub-flavoured Markdown tables, one per acceleration."""
    blocks = []
    for acceleration in dict.fromkeys(entry["acceleration"] for entry in summary):
        rows = table_rows(summary, acceleration)
        lines = [f"### Acceleration {acceleration:g}x", ""]
        lines.append("| " + " | ".join(rows[0]) + " |")
        lines.append("|" + "---|" * len(rows[0]))
        lines.extend(
            "| " + " | ".join(cell.replace(" *", " **(best)**") for cell in row) + " |"
            for row in rows[1:]
        )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def format_csv(rows: list[dict]) -> str:
    """Per-slice rows as CSV with a header."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def to_json(result: ComparisonResult, summary: list[dict], config: dict) -> str:
    """Rows, summary, chosen lambdas, input hashes and the configuration as JSON."""
    document = {
        "config": config,
        "summary": summary,
        "rows": result.rows,
        "lambdas": [
            {
                "acceleration": acc,
                "method": method,
                "lambda": info["lam"],
                "tried": [
                    {"lambda": lam, "tuning_psnr": score} for lam, score in info["tried"].items()
                ],
            }
            for (acc, method), info in result.lambdas.items()
        ],
        "inputs": [
            {"input": name, "acceleration": acc, "kspace_sha256": digest}
            for (name, acc), digest in result.input_hashes.items()
        ],
    }
    return json.dumps(document, indent=2, default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
