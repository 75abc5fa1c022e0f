"""Run comparison cases as independent tasks on an executor (a Dask cluster's, say).

Each case (one input at one acceleration) is tuned and scored in one task, on
one worker, with all its methods in that worker's process, exactly as the serial
loop of :func:`learned.comparison.runner.run_comparison` does it; the partial results
come back in case order and are merged with the serial loop's rules, so every
metric, lambda and example equals a serial run's.  Only the timings differ: they
are measured on the workers, several cases at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor

from csmri.app.methods import ReconMethod
from learned.comparison.cases import Case
from learned.comparison.runner import ComparisonResult, Progress, _compare_case


def one_case(
    case: Case,
    methods: list[ReconMethod],
    auto_lambda: bool,
    default_lambda: Callable[[ReconMethod, Case], float],
) -> ComparisonResult:
    """Tune and score one case into a fresh result (lambda candidates run one by one)."""
    result = ComparisonResult()
    _compare_case(case, methods, auto_lambda, default_lambda, lambda message: None, None, result)
    return result


def merge(into: ComparisonResult, part: ComparisonResult) -> None:
    """Add one case's result the way the serial loop accumulates them.

    Rows are appended; lambdas, convergence traces and input hashes of a later case
    replace an earlier one's under the same key; an acceleration's example keeps the
    first case's target and the latest case's images, as the serial loop does.
    """
    into.rows.extend(part.rows)
    into.lambdas.update(part.lambdas)
    into.convergence.update(part.convergence)
    into.input_hashes.update(part.input_hashes)
    for acceleration, images in part.examples.items():
        examples = into.examples.setdefault(acceleration, {})
        for name, image in images.items():
            if name == "target":
                examples.setdefault(name, image)
            else:
                examples[name] = image


def run_cases(
    executor: Executor,
    cases: list[Case],
    methods: list[ReconMethod],
    auto_lambda: bool,
    default_lambda: Callable[[ReconMethod, Case], float],
    say: Progress,
) -> ComparisonResult:
    """Submit every case, then merge the results in case order.

    Parameters
    ----------
    executor : concurrent.futures.Executor
        Where cases run, e.g. ``distributed.Client.get_executor()``.
    cases, methods, auto_lambda, default_lambda
        As for :func:`learned.comparison.runner.run_comparison`.
    say : callable
        Receives a line as each case is merged.

    Returns
    -------
    ComparisonResult
        Equal to the serial run's, timings aside.
    """
    futures = [
        executor.submit(one_case, case, methods, auto_lambda, default_lambda) for case in cases
    ]
    result = ComparisonResult()
    for case, future in zip(cases, futures, strict=True):
        merge(result, future.result())
        say(f"{case.name} {case.acceleration:g}x: done")
    return result
