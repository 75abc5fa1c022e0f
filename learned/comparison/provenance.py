"""What a comparison records about how it ran: options, versions, machine, threads, notes."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from csmri.mri.fft import fft_workers
from learned.comparison.cases import Case


def _torch_threads() -> int | None:
    """Threads of torch, or None when no learned method loaded it (torch is not imported)."""
    torch = sys.modules.get("torch")
    return None if torch is None else torch.get_num_threads()


def run_config(params: dict, setup_seconds: dict, total_seconds: float) -> dict:
    """The options as run, with versions, machine and thread counts, for ``results.json``.

    Parameters
    ----------
    params : dict
        The options (paths become strings, tuples lists).
    setup_seconds : dict
        One-time set-up per method (model loading), not part of any per-slice time.
    total_seconds : float
        Wall time of the whole comparison.

    Returns
    -------
    dict
        JSON-ready configuration.
    """
    import numpy
    import scipy

    from csmri import __version__

    torch = sys.modules.get("torch")
    return {
        "options": {key: _plain(value) for key, value in params.items()},
        "seed": params.get("seed"),
        "setup_seconds": setup_seconds,
        "total_seconds": total_seconds,
        "versions": {
            "csmri": __version__,
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "torch": None if torch is None else torch.__version__,
            "python": platform.python_version(),
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "torch_threads": _torch_threads(),
            "fft_workers": fft_workers(),
        },
        "model": str(params.get("model") or "shipped"),
    }


def run_notes(cases: list[Case], setup_seconds: dict, skipped: dict | None = None) -> str:
    """Plain-text notes under the tables: identical inputs, how lambda was chosen, warnings.

    Parameters
    ----------
    cases : list of Case
        The compared cases (their ``lambda_note`` and ``warnings``).
    setup_seconds : dict
        One-time set-up per method.
    skipped : dict, optional
        ``{(case, acceleration, method): reason}`` of methods that could not run on a case.

    Returns
    -------
    str
        Lines separated by newlines.
    """
    counts = sorted({len(case.scored) for case in cases})
    lines = [
        "Every method received byte-identical masked k-space per slice and acceleration "
        f"(sha256 checked); {'/'.join(map(str, counts))} scored slices per case."
    ]
    lines += list(dict.fromkeys(f"{case.name}: {case.lambda_note}" for case in cases))
    lines += [f"WARNING {case.name}: {text}" for case in cases for text in case.warnings]
    lines += [f"Set-up, not in s/slice: {name} {sec:.2f} s." for name, sec in setup_seconds.items()]
    for case in cases:
        if case.maps is not None:
            lines.append(
                f"{case.name} {case.acceleration:g}x: {case.maps.shape[1]} coils, maps by "
                f"{case.attrs.get('maps_source', '?')} in {case.attrs.get('maps_seconds', 0):.2f}"
                " s from the undersampled data (once, shared by every method; not in s/slice)."
            )
    lines += [f"Skipped {method} on {name} {accel:g}x: {reason}"
              for (name, accel, method), reason in (skipped or {}).items()]
    threads = _torch_threads()
    lines.append(
        (f"Threads: torch {threads}, " if threads is not None else "Threads: ")
        + f"FFT workers {fft_workers() or 'auto (1 per image, up to 2 per batch)'}; "
        "warm-up run excluded."
    )
    return "\n".join(lines)


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value
