"""Multi-coil comparison: every method on the same undersampled coil k-space, scored alike.

Cases come from multi-coil files:

* fully sampled data (no unsampled location): each acceleration draws a fastMRI
  column mask (seeded) and the reference is the RSS of the fully sampled coil
  images (fastMRI's ``reconstruction_rss``), centre-cropped to the file's
  ``reconstruction_rss`` size when it has one;
* undersampled data with a ``reconstruction_rss``: one case at the file's own mask.

ESPIRiT maps are computed once per case from the undersampled data and shared by
the SENSE methods (their time is reported separately); magnitudes are scored
against the reference after fastMRI's centre crop.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from csmri.app.sense import rss_zero_filled
from csmri.errors import InputError
from csmri.io.multicoil import MulticoilData, read_multicoil
from csmri.metrics import center_crop, evaluate
from csmri.mri.coils import MulticoilMethod, estimate_maps
from csmri.mri.masks import make_mask


@dataclass
class MulticoilCase:
    """One input at one acceleration."""

    name: str
    kspace: np.ndarray
    mask: np.ndarray
    target: np.ndarray
    acceleration: float


@dataclass
class MulticoilRow:
    """One method's scores on one case."""

    case: str
    acceleration: float
    method: str
    psnr: float
    ssim: float
    nmse: float
    seconds: float
    extra: dict = field(default_factory=dict)


def cases_from_file(
    path: Path,
    accelerations: list[float],
    fractions: list[float],
    mask_type: str = "random",
    seed: int = 0,
) -> list[MulticoilCase]:
    """Comparison cases from a multi-coil file (see the module docstring)."""
    data: MulticoilData = read_multicoil(path)
    if data.mask.all():
        reference = rss_zero_filled(data.kspace)
        if data.target is not None:
            reference = center_crop(reference, data.target.shape[-2:])
        cases = []
        for accel, fraction in zip(accelerations, fractions, strict=True):
            columns = make_mask(mask_type, data.kspace.shape[-1], fraction, accel, seed).mask
            mask = np.broadcast_to(columns, data.mask.shape).copy()
            cases.append(MulticoilCase(path.name, data.kspace * columns, mask, reference, accel))
        return cases
    if data.target is None:
        raise InputError(
            "undersampled multi-coil data without reconstruction_rss: compare needs a "
            "fully sampled file or a reference (use csmri solve to reconstruct it)",
            path,
        )
    accel = float(data.mask.size / data.mask.sum())
    return [MulticoilCase(path.name, data.kspace, data.mask, data.target, accel)]


def run_multicoil_comparison(
    cases: list[MulticoilCase],
    methods: list[MulticoilMethod],
    unet: Callable[[np.ndarray], object] | None = None,
    device: str = "cpu",
) -> list[MulticoilRow]:
    """Run every method on every case and score it.

    Parameters
    ----------
    cases : list of MulticoilCase
        Inputs.
    methods : list of MulticoilMethod
        Methods (SENSE ones share the case's ESPIRiT maps).
    unet : callable, optional
        ``unet(kspace) -> MethodResult`` (the U-Net on the RSS image), added as ``unet``.
    device : str
        Torch device for ESPIRiT.

    Returns
    -------
    list of MulticoilRow
        One row per case and method, plus one ``espirit-maps`` timing row per case.
    """
    rows = []
    for case in cases:
        start = time.perf_counter()
        maps = estimate_maps(case.kspace, case.mask, "espirit", device, case.name)
        rows.append(
            MulticoilRow(
                case.name,
                case.acceleration,
                "espirit-maps",
                *[float("nan")] * 3,
                time.perf_counter() - start,
            )
        )
        results = [(m.name, m.run(case.kspace, case.mask, maps)) for m in methods]
        if unet is not None:
            results.append(("unet", unet(case.kspace)))
        for name, result in results:
            scores = evaluate(case.target, result.images)
            rows.append(
                MulticoilRow(
                    case.name,
                    case.acceleration,
                    name,
                    float(scores["psnr"]),
                    float(scores["ssim"]),
                    float(scores["nmse"]),
                    float(result.seconds),
                )
            )
    return rows


def format_rows(rows: list[MulticoilRow], fmt: str = "table") -> str:
    """Rows as a text table, Markdown, CSV or JSON."""
    keys = ("case", "acceleration", "method", "psnr", "ssim", "nmse", "seconds")
    if fmt == "json":
        return json.dumps([{k: getattr(r, k) for k in keys} for r in rows], indent=1)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(keys)
        writer.writerows([[getattr(r, k) for k in keys] for r in rows])
        return out.getvalue()
    lines = [
        [
            r.case,
            f"{r.acceleration:.1f}x",
            r.method,
            f"{r.psnr:.2f}",
            f"{r.ssim:.4f}",
            f"{r.nmse:.4f}",
            f"{r.seconds:.2f}",
        ]
        for r in rows
    ]
    header = ["case", "accel", "method", "PSNR dB", "SSIM", "NMSE", "s"]
    if fmt == "md":
        table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(table + ["| " + " | ".join(line) + " |" for line in lines])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    return "\n".join(
        "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True))
        for line in [header, *lines]
    )


def parse_methods(spec: str, lam: float | None, iters: int) -> tuple[list[MulticoilMethod], bool]:
    """``zero-filled,sense-adjoint,tv-fista,wavelet-fista,tv+wavelet-admm,unet`` -> methods.

    Returns
    -------
    tuple
        The methods and whether ``unet`` was asked for.
    """
    from csmri.app.sense import SENSE_REGULARIZERS, SENSE_SOLVERS
    from csmri.errors import UsageError

    methods, unet = [], False
    for name in [part.strip() for part in spec.split(",") if part.strip()]:
        if name == "unet":
            unet = True
        elif name in ("zero-filled", "sense-adjoint"):
            methods.append(MulticoilMethod(name))
        else:
            reg, _, solver = name.rpartition("-")
            if reg not in SENSE_REGULARIZERS or solver not in SENSE_SOLVERS:
                raise UsageError(
                    f"unknown multi-coil method {name!r}: use zero-filled, sense-adjoint, unet "
                    f"or REG-SOLVER with REG in {'/'.join(SENSE_REGULARIZERS)} and SOLVER in "
                    f"{'/'.join(SENSE_SOLVERS)}"
                )
            method = MulticoilMethod("sense-cs", reg, lam, solver, iters)
            method.label = f"sense-{reg}-{solver}"
            methods.append(method)
    if not methods and not unet:
        raise UsageError("--methods lists no method")
    return methods, unet
