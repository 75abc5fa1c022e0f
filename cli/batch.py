"""Options and output of ``csmri solve`` over many inputs (the work is :mod:`csmri.app.cluster`)."""

from __future__ import annotations

from pathlib import Path

import click

from csmri.app.batch import expand_inputs, plan_jobs
from csmri.app.batch import is_batch as is_batch
from csmri.app.methods import ReconMethod
from csmri.errors import UsageError
from csmri.io.images import parse_slices


def scheduler_options(default: str, what: str):
    """Add ``--scheduler`` and ``--workers`` (where the inputs or cases run)."""

    def decorate(command):
        command = click.option(
            "--workers",
            default=None,
            type=click.IntRange(min=1),
            help="Workers of the local cluster (default: one per CPU, one thread each).",
        )(command)
        return click.option(
            "--scheduler",
            default=default,
            show_default=True,
            help=f"Where {what} run: 'serial' (this process), 'local' (a Dask LocalCluster) "
            "or tcp://host:port (a running Dask scheduler).",
        )(command)

    return decorate


def batch_options(command):
    """Add ``--scheduler``, ``--workers``, ``--resume`` and ``--slices-per-task``."""
    options = [
        scheduler_options("local", "many inputs"),
        click.option(
            "--resume", is_flag=True, help="Skip inputs whose output is already complete."
        ),
        click.option(
            "--slices-per-task",
            default=0,
            type=click.IntRange(min=0),
            show_default=True,
            help="Split volumes with more slices into several tasks (0: a task per volume).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run_batch_command(
    inputs: tuple[str, ...],
    outdir: Path,
    method: ReconMethod,
    slices: str | None,
    png: bool,
    overwrite: bool,
    scheduler: str,
    workers: int | None,
    resume: bool,
    slices_per_task: int,
) -> None:
    """Reconstruct many inputs into ``outdir``; one line per failure, then a summary."""
    from csmri.app.cluster import run_batch

    if png:
        raise UsageError("--png is for a single input; many inputs write .h5 files only")
    jobs = plan_jobs(expand_inputs(inputs), outdir, overwrite, resume)
    report = run_batch(
        jobs, method, parse_slices(slices), scheduler, workers, resume, slices_per_task
    )
    for outcome in report.failed:
        click.echo(f"csmri: failed: {outcome.message}", err=True)
    click.echo(report.summary())
    report.raise_for_failures()
