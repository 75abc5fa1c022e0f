"""Run batch reconstructions on a Dask cluster, or serially in this process.

``scheduler`` is ``"serial"`` (a loop here, no Dask), ``"local"`` (a
``distributed.LocalCluster`` of single-threaded process workers, one per CPU by
default) or the address of a running scheduler (``tcp://host:8786``, started by
``dask scheduler`` / ``dask worker`` or dask-jobqueue).  Dask does the queueing,
placement and retries: a task lost with a killed worker is rerun elsewhere (up to
``distributed.scheduler.allowed-failures`` times); a task that fails on its input
returns its one-line error instead of raising, so it is not retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from tqdm import tqdm

from csmri.app.batch import (
    Job,
    Outcome,
    count_slices,
    failure,
    is_complete,
    plan_parts,
    settings_of,
    solve_part,
    write_output,
)
from csmri.app.methods import ReconMethod
from csmri.errors import CsmriError, UsageError, one_line
from csmri.extras import require

CONNECT_TIMEOUT = 5.0  # seconds to reach a remote scheduler before giving up
WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""One thread per worker process: Numba kernels and FFTs must not oversubscribe the cores."""


class BatchError(CsmriError):
    """Some inputs of a batch failed (the others were written)."""


@dataclass
class BatchReport:
    """The fate of every input of a batch, in input order."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        """Inputs that failed."""
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> str:
        """``written, skipped, failed`` counts and slices, one line."""
        count = {s: sum(o.status == s for o in self.outcomes) for s in ("written", "skipped")}
        slices = sum(o.slices for o in self.outcomes if o.status == "written")
        return (
            f"{len(self.outcomes)} inputs: {count['written']} written ({slices} slices), "
            f"{count['skipped']} already complete, {len(self.failed)} failed"
        )

    def raise_for_failures(self) -> None:
        """Raise :class:`BatchError` naming the failed inputs, if any."""
        if self.failed:
            names = ", ".join(str(o.job.source) for o in self.failed[:10])
            more = "" if len(self.failed) <= 10 else f" and {len(self.failed) - 10} more"
            count = f"{len(self.failed)} of {len(self.outcomes)}"
            raise BatchError(f"{count} inputs failed: {names}{more}")


def run_batch(
    jobs: list[Job],
    method: ReconMethod,
    selection: slice | None = None,
    scheduler: str = "local",
    workers: int | None = None,
    resume: bool = False,
    slices_per_task: int = 0,
    progress: bool = True,
) -> BatchReport:
    """Reconstruct every job; outputs appear atomically as their volumes finish.

    Parameters
    ----------
    jobs : list of Job
        Inputs and outputs (:func:`csmri.app.batch.plan_jobs`).
    method : ReconMethod
        The reconstruction, the same for every input.
    selection : slice, optional
        Slices of each input to reconstruct.
    scheduler : str
        ``"serial"``, ``"local"`` or a scheduler address such as ``tcp://host:8786``.
    workers : int, optional
        Workers of a local cluster (default: one per CPU).
    resume : bool
        Skip inputs whose output is already complete (:func:`csmri.app.batch.is_complete`).
    slices_per_task : int
        Split volumes longer than this into several tasks (0: one task per volume).
    progress : bool
        Show a progress bar over slices.

    Returns
    -------
    BatchReport
        One outcome per job, in order; failures carry one-line messages.
    """
    settings = settings_of(method, selection)
    with contextlib.ExitStack() as stack:  # connect first: a bad address fails before any work
        client = None if scheduler == "serial" else stack.enter_context(connect(scheduler, workers))
        outcomes, todo = _plan(jobs, selection, settings, resume)
        total = sum(n for _, n in todo)
        bar = stack.enter_context(
            tqdm(total=total, unit="slice", desc="batch", disable=not progress, leave=False)
        )
        if client is None:
            for job, slices in todo:
                parts = [
                    solve_part(part, method, selection, settings)
                    for part in plan_parts(job, slices, slices_per_task)
                ]
                if len(parts) > 1:
                    parts = [write_output(job, method, settings, *parts)]
                outcomes[job] = parts[0]
                bar.update(slices)
        else:
            outcomes |= _run_dask(client, todo, method, selection, settings, slices_per_task, bar)
    return BatchReport([outcomes[job] for job in jobs])


def _plan(
    jobs: list[Job], selection: slice | None, settings: str, resume: bool
) -> tuple[dict[Job, Outcome], list[tuple[Job, int]]]:
    """Count each job's slices; a job that cannot be read fails, a complete one is skipped."""
    outcomes: dict[Job, Outcome] = {}
    todo: list[tuple[Job, int]] = []
    for job in jobs:
        try:
            slices = count_slices(job.source, selection)
        except Exception as error:
            outcomes[job] = failure(job, error)
            continue
        if resume and is_complete(job, slices, settings):
            outcomes[job] = Outcome(job, "skipped", slices)
        else:
            todo.append((job, slices))
    return outcomes, todo


def _run_dask(
    client,
    todo: list[tuple[Job, int]],
    method: ReconMethod,
    selection: slice | None,
    settings: str,
    slices_per_task: int,
    bar: tqdm,
) -> dict[Job, Outcome]:
    """Submit one task per part (plus a joining task for split volumes); collect outcomes."""
    as_completed = require("distributed", "dask", "a Dask cluster").as_completed

    # The method travels inside every task, not scattered: scattered data dies with its
    # worker and cannot be recomputed, which would cancel every task that needs it.
    sizes: dict[str, int] = {}  # part task -> its slices, for the progress bar
    finals: dict[str, Job] = {}  # the task whose result is a job's Outcome
    watched = []
    for job, slices in todo:
        parts = plan_parts(job, slices, slices_per_task)
        futures = [
            client.submit(solve_part, part, method, selection, settings, pure=False)
            for part in parts
        ]
        sizes |= {f.key: p.stop - p.start for f, p in zip(futures, parts, strict=True)}
        watched += futures
        final = futures[0]
        if len(parts) > 1:
            final = client.submit(write_output, job, method, settings, *futures, pure=False)
            watched.append(final)
        finals[final.key] = job
    done = as_completed(watched)
    del watched, futures  # results are released as soon as nothing needs them
    outcomes = {}
    for future in done:
        bar.update(sizes.get(future.key, 0))
        job = finals.get(future.key)
        if job is not None:
            try:
                outcomes[job] = future.result()
            except Exception as error:  # KilledWorker after repeated worker deaths, ...
                message = f"{job.source}: {type(error).__name__}: {one_line(error)}"
                outcomes[job] = Outcome(job, "failed", message=message)
    return outcomes


@contextlib.contextmanager
def connect(scheduler: str, workers: int | None = None) -> Iterator:
    """A Dask client on a new local cluster (``"local"``) or on a running scheduler.

    Raises
    ------
    UsageError
        For an address that is not ``local`` or ``scheme://host:port``, or a
        scheduler that cannot be reached within :data:`CONNECT_TIMEOUT` seconds.
    """
    distributed = require("distributed", "dask", "a Dask cluster (--scheduler)")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    if scheduler == "local":
        count = workers or os.cpu_count() or 1
        with (
            LocalCluster(
                n_workers=count,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            # the scheduler's HTTP server (health, metrics) still starts: on a free port,
            # not 8787 (taken by any other cluster on the machine, with a UserWarning)
            scheduler_kwargs={"dashboard_address": ":0"},
                silence_logs=logging.ERROR,
                env=WORKER_ENV,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    if "://" not in scheduler:
        raise UsageError(
            f"{scheduler}: scheduler must be 'serial', 'local' or an address like tcp://host:8786"
        )
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as error:
        problem = f"cannot reach the Dask scheduler ({one_line(error)})"
        raise UsageError(f"{scheduler}: {problem}") from None
    with client:
        yield client


@contextlib.contextmanager
def case_executor(scheduler: str, workers: int | None = None) -> Iterator:
    """A ``concurrent.futures`` executor on the cluster, or None for ``"serial"``.

    Used by ``csmri compare`` to run its cases as tasks
    (:mod:`learned.comparison.runner`).
    """
    if scheduler == "serial":
        yield None
        return
    with connect(scheduler, workers) as client:
        yield client.get_executor(pure=False)
