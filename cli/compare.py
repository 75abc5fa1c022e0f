"""``csmri compare``: CS versus learned reconstruction on identical masked inputs."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import click

from cli.batch import scheduler_options
from cli.options import NON_NEGATIVE, FiniteFloat, adapt_option
from csmri.app.methods import SOLVERS
from csmri.defaults import REGULARIZERS
from csmri.errors import UsageError
from learned.comparison.spec import DEFAULT_METHODS, MULTICOIL_EXTRA

FORMATS = ("table", "md", "csv", "json")


def _numbers(values: tuple[str, ...], name: str, kind: FiniteFloat) -> list[float]:
    numbers = []
    for value in values:
        for part in value.replace(",", " ").split():
            numbers.append(kind.convert(part, None, None))
    if not numbers:
        raise UsageError(f"{name} needs at least one value")
    return numbers


@click.command()
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--accel",
    multiple=True,
    default=("4", "8"),
    show_default=True,
    help="Accelerations, repeated or comma-separated (--accel 4,8).",
)
@click.option(
    "--center-fraction",
    multiple=True,
    default=(),
    help="Centre fractions paired with --accel (default 0.32/R: 0.08 at 4x, 0.04 at 8x).",
)
@click.option(
    "--mask",
    "mask_type",
    default="random",
    type=click.Choice(["random", "equispaced"]),
    show_default=True,
)
@click.option(
    "--methods",
    default=DEFAULT_METHODS,
    show_default=True,
    help="Comma-separated: zero-filled, sense-adjoint and grappa (multi-coil), unet, unrolled, "
    "and "
    "REG-SOLVER with REG in "
    f"{'/'.join(REGULARIZERS)} and SOLVER in {'/'.join(SOLVERS)}.",
)
@click.option(
    "--lam",
    default="auto",
    show_default=True,
    help="'auto' tunes lambda per method and acceleration on unscored slices (a single "
    "image: on an independent second simulation of it; one slice of measured k-space: "
    "the calibrated default); or a fixed value in normalised units.",
)
@click.option("--iters", default=100, type=click.IntRange(min=1), show_default=True)
@click.option(
    "--model",
    default=None,
    type=click.Path(path_type=Path),
    help="Weights for unet or unrolled (list one of them); default: the shipped models.",
)
@click.option("--seed", default=0, type=int, show_default=True)
@click.option("--noise", default=0.005, type=NON_NEGATIVE, show_default=True)
@click.option(
    "--tuning-slices",
    default=2,
    type=click.IntRange(min=1),
    show_default=True,
    help="Slices per input reserved for --lam auto (never scored).",
)
@click.option(
    "--axis", default=2, type=click.IntRange(0, 2), show_default=True, help="NIfTI slice axis."
)
@click.option("--slices", default=None, help="Slice range A:B of image inputs.")
@click.option(
    "-o",
    "--output-dir",
    default=None,
    type=click.Path(path_type=Path),
    help="Folder for results.csv/.json/.md and figures.",
)
@click.option(
    "--format",
    "fmt",
    default="table",
    type=click.Choice(FORMATS),
    show_default=True,
    help="What to print on the terminal.",
)
@click.option(
    "--device",
    default="cpu",
    type=click.Choice(["auto", "cpu", "cuda"]),
    show_default=True,
    help="U-Net and CS: cuda runs on the GPU (CS on torch); cpu runs CS on the NumPy backend.",
)
@click.option(
    "--trajectory",
    default=None,
    type=click.Choice(["radial", "golden", "tiny-golden", "spiral"]),
    help="Simulate image inputs on this non-Cartesian trajectory (NUFFT) instead of column "
    "masks; --accel is then relative to Nyquist.",
)
@click.option(
    "--maps",
    default="espirit",
    type=click.Choice(["espirit", "lowres"]),
    show_default=True,
    help="Multi-coil: coil maps from the undersampled data of each case.",
)
@adapt_option
@scheduler_options("serial", "cases (one per input and acceleration)")
@click.option(
    "--scan-time",
    default=6.0,
    type=FiniteFloat(0.0, strict=True),
    show_default=True,
    help="Seconds to acquire one fully sampled slice (default: a 2-D T1 spin-echo brain "
    "series, ~128 s for 20 slices), shown next to the CS time per slice.",
)
def compare(
    inputs: tuple[Path, ...],
    accel: tuple[str, ...],
    center_fraction: tuple[str, ...],
    mask_type: str,
    methods: str,
    lam: str,
    iters: int,
    model: Path | None,
    seed: int,
    noise: float,
    tuning_slices: int,
    axis: int,
    slices: str | None,
    output_dir: Path | None,
    fmt: str,
    device: str,
    trajectory: str | None,
    maps: str,
    adapt: int,
    scheduler: str,
    workers: int | None,
    scan_time: float,
) -> None:
    """Compare methods on INPUT images/volumes/k-space files (default: the embedded sample).

    One pipeline for single- and multi-coil data: images are simulated; fully sampled
    k-space files (fastMRI single- or multi-coil .h5, ISMRMRD, BART .cfl) are masked
    retrospectively per acceleration, undersampled ones with a reference keep their mask.
    Multi-coil data are solved by SENSE with coil maps estimated once per case (their
    time is reported apart); the U-Net runs on the RSS image, the unrolled network with
    SENSE data consistency, and sense-adjoint joins the default methods.


    Every method receives exactly the same masked k-space for a slice and an
    acceleration; metrics follow fastMRI's definitions.
    """
    from csmri.app.autolambda import calibrated_lambda
    from csmri.app.cluster import case_executor
    from csmri.device import resolve_device
    from learned.comparison import plots, report, run_comparison
    from learned.comparison.cases import build_cases, default_center_fraction
    from learned.comparison.provenance import run_config, run_notes
    from learned.comparison.spec import parse_methods
    from learned.comparison.verdict import family_verdicts, format_footer, method_family

    accelerations = _numbers(accel, "--accel", FiniteFloat(1.0))
    fractions = (
        _numbers(center_fraction, "--center-fraction", FiniteFloat(0.0, strict=True))
        if center_fraction
        else [default_center_fraction(a) for a in accelerations]
    )
    if len(fractions) != len(accelerations):
        raise UsageError("give one --center-fraction per --accel value")
    auto = lam.strip().lower() == "auto"
    fixed_lam = None if auto else NON_NEGATIVE.convert(lam, None, None)
    if output_dir is not None and not output_dir.parent.is_dir():
        raise UsageError(f"{output_dir}: parent folder does not exist")
    if output_dir is not None and output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"{output_dir}: exists and is not a folder")
    setup_seconds: dict[str, float] = {}

    def learned_loader(name: str):
        def load():
            from learned.method import LEARNED_METHODS

            start = time.perf_counter()
            method = LEARNED_METHODS[name].load(model, device=device)
            setup_seconds[f"{name} (model load)"] = time.perf_counter() - start
            return method

        return load

    factories = {name: learned_loader(name) for name in ("unet", "unrolled")}
    cases = build_cases(
        list(inputs),
        accelerations,
        fractions,
        mask_type,
        seed,
        noise,
        tuning_slices if auto else 0,
        axis,
        slices,
        maps,
        "cpu" if device == "cpu" else resolve_device(device) or "cpu",
        trajectory,
    )
    if methods == DEFAULT_METHODS and any(case.maps is not None for case in cases):
        methods = methods.replace("zero-filled,", f"zero-filled,{MULTICOIL_EXTRA},", 1)
    method_list = parse_methods(methods, fixed_lam, iters, factories, device=device)
    if adapt:
        from learned.method import with_adapted

        method_list = with_adapted(method_list, adapt, seed)

    if any(hasattr(m, "leaks") for m in method_list):
        from learned.method import mark_leaks

        for warning in mark_leaks(method_list, cases):
            click.secho(warning, err=True, fg="red", bold=True)

    def progress(message: str) -> None:
        click.echo(f"  .. {message}", err=True)

    def default_lambda(method, case) -> float:
        return calibrated_lambda(method.reg, case.attrs.get("realised_acceleration", 1.0))

    start = time.perf_counter()
    with case_executor(scheduler, workers) as executor:  # None: serial, in this process
        result = run_comparison(
            cases,
            method_list,
            auto,
            default_lambda,
            progress,
            tuning_workers=min(2, os.cpu_count() or 1),
            case_executor=executor,
        )
    summary = report.summarise(result)
    params = {
        **click.get_current_context().params,
        "accel": accelerations,
        "center_fraction": fractions,
    }
    config = run_config(params, setup_seconds, time.perf_counter() - start)
    note = run_notes(cases, setup_seconds, result.skipped)
    families = {m.name: method_family(m) for m in method_list}
    verdicts = family_verdicts(result.rows, families, scan_time)
    printed = {
        "table": lambda: report.format_text(summary) + format_footer(verdicts) + note,
        "md": lambda: report.format_markdown(summary) + format_footer(verdicts, True) + "\n"
        + note,
        "csv": lambda: report.format_csv(result.rows).rstrip("\n"),
        "json": lambda: report.to_json(result, summary, config),
    }[fmt]()
    click.echo(printed)
    if fmt in ("csv", "json"):  # machine-readable stdout: the notes and warnings go to stderr
        click.echo(note, err=True)
    if output_dir is not None:
        writers = {
            "results.csv": lambda p: p.write_text(report.format_csv(result.rows)),
            "results.json": lambda p: p.write_text(report.to_json(result, summary, config)),
            "results.md": lambda p: p.write_text(
                report.format_markdown(summary) + format_footer(verdicts, True) + "\n" + note
                + "\n"
            ),
            "reconstructions.png": lambda p: plots.reconstruction_grid(result, p),
            "quality_vs_runtime.png": lambda p: plots.quality_vs_runtime(summary, p),
            "convergence.png": lambda p: plots.convergence(result, p),
        }
        write_results(output_dir, writers)


def write_results(output_dir: Path, writers: dict[str, Callable[[Path], object]]) -> None:
    """Write each ``name`` of ``writers`` into ``output_dir`` atomically; say so on stderr."""
    from csmri.io.atomic import atomic_path

    output_dir.mkdir(exist_ok=True)
    for name, write in writers.items():
        with atomic_path(output_dir / name) as temp:
            write(temp)
    click.echo(f"wrote {', '.join(writers)} to {output_dir}/", err=True)
