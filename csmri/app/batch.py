"""Batch reconstruction: many k-space files in, one output per file, tasks for a cluster.

The functions here are what a Dask worker runs (see :mod:`csmri.app.cluster` for the
scheduling); each one is plain, picklable and independent of Dask, so the same
code runs serially in this process.  A *task* reconstructs one volume, or one
part of a long volume (:func:`plan_parts`); the task that finishes a volume writes
its output atomically (:mod:`csmri.io.atomic`), so an output is either complete or
absent, whatever happens to the worker.  :func:`is_complete` verifies an
existing output (readable, right shape, finite, same settings) for ``--resume``.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csmri.app.methods import ReconMethod, run_method
from csmri.errors import CsmriError, UsageError, one_line
from csmri.io import KSPACE_SUFFIXES, read_acquisition
from csmri.io.atomic import atomic_path, check_output_path
from csmri.io.images import select_slices
from csmri.io.reconstruction import write_reconstruction
from csmri.mri.coils import ensure_maps

CHUNK = 4
"""Slices per solver call, as the single-file ``csmri solve`` (equal chunks, equal bits)."""
OUTPUT_SUFFIX = ".h5"
_INPUT_SUFFIXES = tuple(s for s in KSPACE_SUFFIXES if s != ".hdr")  # a BART pair counts once


@dataclass(frozen=True)
class Job:
    """One input file and the output it gets."""

    source: Path
    output: Path


@dataclass(frozen=True)
class Part:
    """Slices ``start:stop`` (after ``--slices``) of one job: the unit of work of a task."""

    job: Job
    start: int
    stop: int
    last: bool  # the whole volume in one part: the task writes the output itself


@dataclass
class Outcome:
    """What became of one input: written, skipped (already complete) or failed."""

    job: Job
    status: str  # "written" | "skipped" | "failed"
    slices: int = 0
    message: str = ""


def expand_inputs(patterns: tuple[str | Path, ...]) -> list[Path]:
    """Files named directly, matched by a glob, or found in a folder (k-space suffixes).

    Parameters
    ----------
    patterns : tuple of str or Path
        Files, glob patterns (``data/*.h5``) or folders (their k-space files, not recursive).

    Returns
    -------
    list of Path
        Sorted within each pattern, duplicates removed, in the order given.

    Raises
    ------
    UsageError
        When a pattern matches nothing.
    """
    found: list[Path] = []
    for pattern in map(str, patterns):
        path = Path(pattern)
        if path.is_dir():
            matches = sorted(
                p
                for p in path.iterdir()
                if p.suffix.lower() in _INPUT_SUFFIXES and not p.name.startswith(".")
            )
            if not matches:
                kinds = ", ".join(_INPUT_SUFFIXES)
                raise UsageError(f"{path}: folder holds no k-space files ({kinds})")
        elif glob.has_magic(pattern):
            matches = sorted(Path(p) for p in glob.glob(pattern) if not Path(p).is_dir())
            if not matches:
                raise UsageError(f"{pattern}: no file matches this pattern")
        else:
            matches = [path]  # a missing file fails in its own task, with its own error
        found.extend(m for m in matches if m not in found)
    return found


def plan_jobs(inputs: list[Path], outdir: Path, overwrite: bool, resume: bool) -> list[Job]:
    """One output per input, ``OUTDIR/<input stem>.h5``; refuse clashes before any work.

    Parameters
    ----------
    inputs : list of Path
        Input files (from :func:`expand_inputs`).
    outdir : Path
        Output folder; created if missing (its parent must exist).
    overwrite : bool
        Replace existing outputs.
    resume : bool
        Existing outputs are checked by :func:`is_complete` later instead of refused here.

    Returns
    -------
    list of Job
    """
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"{outdir}: output folder is a file")
    if not outdir.parent.is_dir():
        raise UsageError(f"{outdir}: parent folder {outdir.parent} does not exist")
    outdir.mkdir(exist_ok=True)
    jobs, seen = [], {}
    for source in inputs:
        output = outdir / (source.stem + OUTPUT_SUFFIX)
        if output in seen:
            raise UsageError(f"{source}: same output name {output.name} as {seen[output]}")
        seen[output] = source
        check_output_path(output, overwrite or resume, (source,))
        # absolute: workers on other machines (or in another folder) see the same paths
        jobs.append(Job(source.absolute(), output.absolute()))
    if resume:
        for job in jobs:
            remove_stale_temporaries(job.output)
    return jobs


def remove_stale_temporaries(output: Path) -> None:
    """Delete the temporary files a killed writer of ``output`` left behind.

    :func:`csmri.io.atomic.atomic_path` names them ``.<stem>.<random><suffix>`` beside
    the output; a process killed with SIGKILL cannot remove its own.  Only for
    ``--resume``: a second run writing into the same folder at the same time would
    lose its temporary file (and report that input as failed).
    """
    for temp in output.parent.glob(f".{glob.escape(output.stem)}.*{output.suffix}"):
        temp.unlink(missing_ok=True)


def settings_of(method: ReconMethod, selection: slice | None) -> str:
    """A JSON fingerprint of the method and slice range, stored in every output."""
    fields = dataclasses.asdict(method) if dataclasses.is_dataclass(method) else {}
    plain = {k: v for k, v in fields.items() if isinstance(v, (str, int, float, bool, type(None)))}
    where = None if selection is None else [selection.start, selection.stop, selection.step]
    return json.dumps({"method": method.name, **plain, "slices": where}, sort_keys=True)


def count_slices(source: Path, selection: slice | None) -> int:
    """Slices a job reconstructs (a cheap header read for ``.h5``)."""
    total = None
    if source.suffix.lower() == ".h5":
        import h5py

        try:
            with h5py.File(source, "r") as file:
                shape = file["kspace"].shape
            total = shape[0] if len(shape) in (3, 4) else None
        except Exception:  # unreadable: read_acquisition below names the problem
            total = None
    if total is None:
        total = read_acquisition(source).num_slices
    return len(range(total)[selection or slice(None)])


def is_complete(job: Job, slices: int, settings: str) -> bool:
    """Whether ``job.output`` is a finished reconstruction made with these settings.

    Complete means: a readable HDF5 file whose ``reconstruction`` has ``slices``
    finite slices and whose stored settings equal ``settings``.
    """
    import h5py

    try:
        with h5py.File(job.output, "r") as file:
            images = file["reconstruction"][()]
            stored = file.attrs.get("settings")
    except Exception:  # missing, truncated or foreign: not complete
        return False
    return (
        images.ndim == 3
        and images.shape[0] == slices
        and bool(np.all(np.isfinite(images)))
        and stored == settings
    )


def plan_parts(job: Job, slices: int, slices_per_task: int) -> list[Part]:
    """Split a volume into tasks of at most ``slices_per_task`` slices (0: one task).

    Parts are whole multiples of :data:`CHUNK`, so the solver sees the same groups of
    slices as a serial run and the output is the same, bit for bit.
    """
    if slices_per_task <= 0 or slices <= slices_per_task:
        return [Part(job, 0, slices, True)]
    size = max(CHUNK, slices_per_task // CHUNK * CHUNK)
    count = math.ceil(slices / size)
    return [Part(job, i * size, min((i + 1) * size, slices), False) for i in range(count)]


def solve_part(
    part: Part, method: ReconMethod, selection: slice | None, settings: str
) -> tuple[np.ndarray, list[int]] | Outcome:
    """Reconstruct one part; write the output when the part is the whole volume.

    Errors in the input (or any other exception) come back as a failed
    :class:`Outcome` with a one-line message rather than being raised, so that a
    bad file is not retried and never stops the other inputs.
    """
    try:
        acq = read_acquisition(part.job.source)
        select_slices(acq.kspace, selection, part.job.source)  # checks the range
        indices = list(range(acq.num_slices))[selection or slice(None)][part.start : part.stop]
        acq = acq.select(indices)
        ensure_maps(acq)  # multi-coil: ESPIRiT maps of this part's slices
        kspace, mask, maps = acq.solver_inputs()
        images = np.empty((len(kspace), *kspace.shape[-2:]), dtype=np.float32)
        iterations: list[int] = []
        for first in range(0, kspace.shape[0], CHUNK):
            chunk = slice(first, min(first + CHUNK, kspace.shape[0]))
            result = run_method(method, kspace[chunk], mask, None if maps is None else maps[chunk])
            images[chunk] = result.images
            iterations.extend(result.iterations)
    except Exception as error:  # reported per input; the batch goes on
        return failure(part.job, error)
    if part.last:
        return write_output(part.job, method, settings, (images, iterations))
    return images, iterations


def write_output(
    job: Job, method: ReconMethod, settings: str, *parts: tuple[np.ndarray, list[int]] | Outcome
) -> Outcome:
    """Join a volume's parts in order and write them atomically (or pass on a failure)."""
    for part in parts:
        if isinstance(part, Outcome):
            return part
    images = np.concatenate([p[0] for p in parts])
    iterations = [n for p in parts for n in p[1]]
    attrs = {
        "method": method.name,
        "source": str(job.source),
        "lambda": float("nan") if method.lam is None else float(method.lam),
        "iterations": int(max(iterations, default=0)),
        "settings": settings,
    }
    try:
        with atomic_path(job.output) as temp:
            write_reconstruction(temp, images, attrs)
    except Exception as error:
        return failure(job, error)
    return Outcome(job, "written", len(images))


def failure(job: Job, error: BaseException) -> Outcome:
    """A failed outcome with a one-line message that names the input."""
    if isinstance(error, (CsmriError, ValueError)):
        message = one_line(error)
    elif isinstance(error, OSError):
        message = f"{error.filename or job.source}: {one_line(error.strerror or error)}"
    else:
        message = f"unexpected {type(error).__name__}: {one_line(error)}"
    if str(job.source) not in message:
        message = f"{job.source}: {message}"
    return Outcome(job, "failed", message=message)


def is_batch(inputs: tuple[str | Path, ...], output: Path) -> bool:
    """Whether a ``solve`` call is a batch: several inputs, a glob, or OUT a folder.

    OUT is a folder when it is one already or has no suffix; a single input with an
    output file name (``out.h5``, ``out.npy``, even ``out.txt``, which is then refused
    as a format) keeps the single-file behaviour.
    """
    if len(inputs) != 1:
        return True
    single = str(inputs[0])
    if glob.has_magic(single) and not Path(single).exists():
        return True
    return output.is_dir() or output.suffix == ""
