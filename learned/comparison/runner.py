"""Run every method on every case's scored slices and collect per-slice rows.

Fairness rules: every method gets the same k-space arrays (checked by hashing
what each method received), runs in the same process with the same thread
count, is warmed up once before timing, and is timed slice by slice; one-time
set-up (model loading, coil maps) is reported separately.  Multi-coil cases hand
every method the same coil maps (estimated once per case).  A method that cannot
run on a case (a single-coil-only prior on SENSE data, say) is skipped on it with a
note, instead of ending the comparison.

With a ``case_executor`` (a Dask cluster's), each case runs as one task and the
results are merged in case order: equal to the serial run's, timings aside.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from csmri.acquisition import Trajectory
from csmri.app.methods import ReconMethod, run_method
from csmri.errors import UsageError
from csmri.metrics import center_crop, nmse, psnr, ssim
from learned.comparison.cases import Case, kspace_digest
from learned.comparison.tuning import tune_lambda

Progress = Callable[[str], None]


@dataclass
class ComparisonResult:
    """Everything a report or figure needs.

    Attributes
    ----------
    rows : list of dict
        One row per case, method and scored slice: metrics, seconds, iterations, lambda.
    lambdas : dict
        ``{(acceleration, method): {"lam": value, "tried": {lam: psnr}}}``.
    examples : dict
        ``{acceleration: {"target": image, method: image, ...}}`` for one scored slice of
        the first case at each acceleration (:attr:`example_cases` names it).
    convergence : dict
        ``{(acceleration, method): {"objective": [...], "seconds": [...], "psnr": [...]}}``.
    input_hashes : dict
        ``{(case, acceleration): sha256}`` of the k-space every method received.
    skipped : dict
        ``{(case, acceleration, method): reason}`` for methods that cannot run on a case.
    """

    rows: list[dict] = field(default_factory=list)
    lambdas: dict = field(default_factory=dict)
    examples: dict = field(default_factory=dict)
    example_cases: dict = field(default_factory=dict)
    convergence: dict = field(default_factory=dict)
    input_hashes: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)


class _RecordingMethod:
    """Wraps a method and hashes every k-space it is given, to prove inputs are identical."""

    def __init__(self, method: ReconMethod) -> None:
        self.method = method
        self.hashes: list[str] = []

    def run(self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None):
        self.hashes.append(kspace_digest(kspace, mask))
        return run_method(self.method, kspace, mask, maps)


def run_comparison(
    cases: list[Case],
    methods: list[ReconMethod],
    auto_lambda: bool,
    default_lambda: Callable[[ReconMethod, Case], float],
    progress: Progress | None = None,
    tuning_workers: int = 1,
    case_executor: Executor | None = None,
) -> ComparisonResult:
    """Score each method on each case's scored slices, tuning lambda first when asked.

    Parameters
    ----------
    cases : list of Case
        Inputs (one per input and acceleration).
    methods : list of ReconMethod
        Methods; those with ``lam is not None`` are regularised and can be tuned.
    auto_lambda : bool
        Tune lambda per method and case on the case's tuning data; a case without any
        (one slice of measured k-space) takes ``default_lambda`` untuned.
    default_lambda : callable
        ``default_lambda(method, case)``: centre of the tuning grid, and the lambda used
        when the case cannot be tuned.
    progress : callable, optional
        Receives one-line status messages.
    tuning_workers : int
        Processes that evaluate lambda candidates in parallel (tuning is not timed;
        scoring always runs one method at a time in this process).
    case_executor : concurrent.futures.Executor, optional
        Run each case as one task there instead (a Dask cluster's executor); the
        results equal the serial run's, timings aside (see the module docstring).

    Returns
    -------
    ComparisonResult
        Per-slice rows and everything needed for reports and figures.
    """
    say = progress or (lambda message: None)
    if case_executor is not None:
        return _run_cases(case_executor, cases, methods, auto_lambda, default_lambda, say)
    result = ComparisonResult()
    with _executor(tuning_workers if auto_lambda else 1) as executor:
        for case in cases:
            _compare_case(case, methods, auto_lambda, default_lambda, say, executor, result)
    return result


@contextlib.contextmanager
def _executor(workers: int) -> Iterator[Executor | None]:
    if workers <= 1:
        yield None
        return
    # spawn, not fork: the parent may hold torch's OpenMP runtime, which forked children
    # must not inherit; workers only import numpy/scipy/pywt.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as executor:
        yield executor


def _compare_case(
    case: Case,
    methods: list[ReconMethod],
    auto_lambda: bool,
    default_lambda: Callable[[ReconMethod, Case], float],
    say: Progress,
    executor: Executor | None,
    out: ComparisonResult,
) -> None:
    received: dict[str, list[str]] = {}
    for method in methods:
        try:
            _warm_up(method, case)
        except UsageError as error:  # cannot run on this kind of data: say so, go on
            out.skipped[(case.name, case.acceleration, method.name)] = str(error)
            say(f"{case.name} {case.acceleration:g}x: {method.name} skipped ({error})")
            continue
        chosen = method
        if auto_lambda and method.lam is not None and case.can_tune:
            say(f"{case.name} {case.acceleration:g}x: tuning lambda for {method.name}")
            lam, tried = tune_lambda(method, case, default_lambda(method, case), executor)
            chosen = dataclasses.replace(method, lam=lam)
            out.lambdas[(case.acceleration, method.name)] = {"lam": lam, "tried": tried}
        elif auto_lambda and method.lam is not None:
            chosen = dataclasses.replace(method, lam=default_lambda(method, case))
            out.lambdas[(case.acceleration, method.name)] = {"lam": chosen.lam, "tried": {}}
        elif method.lam is not None:
            out.lambdas[(case.acceleration, method.name)] = {"lam": method.lam, "tried": {}}
        say(f"{case.name} {case.acceleration:g}x: {method.name}")
        recorder = _RecordingMethod(chosen)
        if chosen is not method:
            _warm_up(chosen, case)
        _score(recorder, chosen, case, out)
        received[method.name] = recorder.hashes
    _check_identical_inputs(case, received)
    out.input_hashes[(case.name, case.acceleration)] = case.fingerprint(case.scored)


def _warm_up(method: ReconMethod, case: Case) -> None:
    """One short untimed run so FFT plans, caches and lazy imports are not per-slice time."""
    first = case.tuning[:1] or case.scored[:1]
    if dataclasses.is_dataclass(method) and hasattr(method, "max_iter"):
        method = dataclasses.replace(method, max_iter=2)
    run_method(method, case.kspace[first], case.mask, case.maps_of(first))


def _score(
    recorder: _RecordingMethod, method: ReconMethod, case: Case, out: ComparisonResult
) -> None:
    example_slice = case.scored[len(case.scored) // 2]
    if isinstance(case.mask, Trajectory):
        realised = float(case.attrs.get("realised_acceleration", case.acceleration))
    else:
        realised = float(case.mask.size / case.mask.sum())
    examples = out.examples.setdefault(case.acceleration, {})
    owner = out.example_cases.setdefault(case.acceleration, case.name) == case.name
    for index in case.scored:
        run = recorder.run(case.kspace[index : index + 1], case.mask, case.maps_of([index]))
        target = case.target[index]
        image = center_crop(run.images[0], target.shape)
        out.rows.append(
            {
                "input": case.name,
                "acceleration": case.acceleration,
                "realised_acceleration": realised,
                "method": method.name,
                "slice": index,
                "nmse": nmse(target, image),
                "psnr": psnr(target, image),
                "ssim": ssim(target, image),
                "seconds": run.seconds,
                "iterations": run.iterations[0] if run.iterations else 1,
                "lambda": method.lam,
            }
        )
        if index == example_slice and owner:
            examples.setdefault("target", target)
            examples[method.name] = image
            trace = getattr(method, "trace", None)  # iterative methods: a traced re-run
            if trace is not None:
                out.convergence[(case.acceleration, method.name)] = trace(
                    case.kspace[index : index + 1], case.mask, target, case.maps_of([index])
                )


def _check_identical_inputs(case: Case, received: dict[str, list[str]]) -> None:
    """Every method must have been given byte-identical k-space, slice by slice."""
    sequences = {tuple(hashes) for hashes in received.values()}
    if len(sequences) > 1:
        raise RuntimeError(
            f"methods received different inputs for {case.name} at {case.acceleration}x"
        )


def _one_case(
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
    replace an earlier one's under the same key; an acceleration's example and
    convergence traces are the first case's, as in the serial loop.
    """
    into.rows.extend(part.rows)
    into.lambdas.update(part.lambdas)
    into.input_hashes.update(part.input_hashes)
    into.skipped.update(part.skipped)
    for acceleration, images in part.examples.items():
        if acceleration not in into.examples:  # the first case at an acceleration owns it
            into.examples[acceleration] = dict(images)
            into.example_cases[acceleration] = part.example_cases[acceleration]
            into.convergence.update(
                {key: trace for key, trace in part.convergence.items() if key[0] == acceleration}
            )


def _run_cases(
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
        As for :func:`run_comparison`.
    say : callable
        Receives a line as each case is merged.

    Returns
    -------
    ComparisonResult
        Equal to the serial run's, timings aside.
    """
    futures = [
        executor.submit(_one_case, case, methods, auto_lambda, default_lambda) for case in cases
    ]
    result = ComparisonResult()
    for case, future in zip(cases, futures, strict=True):
        merge(result, future.result())
        say(f"{case.name} {case.acceleration:g}x: done")
    return result
