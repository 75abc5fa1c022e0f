"""Run BART's ``pics`` on our arrays: write ``.cfl`` files in a temporary folder, run, read back.

Layout: our ``(H, W)`` slice becomes BART's ``[x = H, y = W]`` (dims 0 and 1),
single coil, with a sensitivity map of ones; see :mod:`csmri.io.cfl`.  BART's
centred FFT uses ``fftmod`` phase ramps, which equal our ``fftshift``-based
``fft2c`` for *even* sizes; for odd sizes they differ by a known phase, so
compare on even sizes.

Used by the BART tests and the benchmark; also handy for users who want a
reference reconstruction::

    result = bart_pics(kspace, reg="tv", lam=0.005, iterations=100)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csmri.errors import UsageError
from csmri.io.cfl import read_cfl, write_cfl

BART_REGULARIZERS = {"tv": "T:3:0:{lam}", "wavelet": "W:3:0:{lam}"}
"""``-R`` templates: isotropic TV over x/y, l1 of (BART's Daubechies-2) wavelets."""


@dataclass
class BartResult:
    """Images from ``bart pics`` and its timings.

    Attributes
    ----------
    images : ndarray of complex64, shape (S, H, W)
        Reconstructions (in input units when ``rescale``).
    wall : list of float
        Wall seconds of each ``bart pics`` process (start, file I/O and solve).
    internal : list of float or None
        BART's own reported total time per slice when it prints one, else None.
    commands : list of list of str
        The command lines run.
    """

    images: np.ndarray
    wall: list[float]
    internal: list[float | None]
    commands: list[list[str]]


def bart_executable() -> str | None:
    """Path of the ``bart`` program, or None when it is not installed."""
    return shutil.which("bart")


def bart_pics(
    kspace: np.ndarray,
    reg: str = "tv",
    lam: float = 0.005,
    iterations: int = 100,
    scale: float | None = None,
    rescale: bool = True,
    extra: tuple[str, ...] = (),
    bart: str | None = None,
) -> BartResult:
    """Reconstruct single-coil Cartesian k-space slices with ``bart pics``.

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W) or (H, W)
        Centred, masked k-space (zeros where unsampled: BART infers the pattern).
    reg : {"tv", "wavelet"}
        ``-R T:3:0:lam`` (isotropic TV) or ``-R W:3:0:lam`` (wavelet l1).
    lam : float
        BART's lambda (in BART's normalised units).
    iterations : int
        ``-i``.
    scale : float, optional
        Pass ``-w scale`` (BART divides the data by it) instead of BART's automatic
        scaling; use our scale to compare at a matched lambda.
    rescale : bool
        ``-S``: multiply the result back to the input's units.
    extra : tuple of str
        More ``pics`` options (e.g. ``("-n",)`` to turn off cycle spinning).
    bart : str, optional
        The executable (found on ``PATH`` when omitted).

    Returns
    -------
    BartResult
        Images and timings.
    """
    exe = bart or bart_executable()
    if exe is None:
        raise UsageError("BART is not installed (no 'bart' on PATH)")
    if reg not in BART_REGULARIZERS:
        raise UsageError(f"unknown BART regulariser {reg!r}; choose one of tv, wavelet")
    stack = np.asarray(kspace, dtype=np.complex64)
    if stack.ndim == 2:
        stack = stack[np.newaxis]
    images, walls, internals, commands = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="csmri-bart-") as tmp:
        folder = Path(tmp)
        h, w = stack.shape[-2:]
        write_cfl(folder / "sens", np.ones((h, w, 1, 1), dtype=np.complex64))
        for i, slice_k in enumerate(stack):
            write_cfl(folder / f"k{i}", slice_k[:, :, np.newaxis, np.newaxis])
            cmd = [exe, "pics", "-d", "4", "-i", str(int(iterations))]
            cmd += ["-R", BART_REGULARIZERS[reg].format(lam=float(lam))]
            if scale is not None:
                cmd += ["-w", repr(float(scale))]
            if rescale:
                cmd.append("-S")
            cmd += [*extra, str(folder / f"k{i}"), str(folder / "sens"), str(folder / f"x{i}")]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - start)
            if proc.returncode != 0:
                raise RuntimeError(f"bart pics failed ({proc.returncode}): {proc.stderr.strip()}")
            internals.append(_internal_time(proc.stdout + proc.stderr))
            commands.append(cmd)
            images.append(np.asarray(read_cfl(folder / f"x{i}")).reshape(h, w))
    return BartResult(np.stack(images).astype(np.complex64), walls, internals, commands)


def _internal_time(log: str) -> float | None:
    """BART's ``Total Time: ...`` line (printed at debug level 4), if present."""
    match = re.search(r"Total Time:\s*([0-9.eE+-]+)", log)
    return float(match.group(1)) if match else None
