"""``csmri compare``: CS versus learned reconstruction on identical masked inputs."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import click

from cli.options import NON_NEGATIVE, FiniteFloat, adapt_option
from csmri.atomic import atomic_path
from csmri.errors import UsageError
from csmri.fft import fft_workers
from csmri.methods import REGULARIZERS, SOLVERS, CompressedSensing, ReconMethod, ZeroFilled

DEFAULT_METHODS = "zero-filled,tv-fista,tv-admm,wavelet-fista,wavelet-admm,unet"
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
    help="Comma-separated: zero-filled, unet, unrolled, and REG-SOLVER with REG in "
    f"{'/'.join(REGULARIZERS)} and SOLVER in {'/'.join(SOLVERS)}.",
)
@click.option(
    "--lam",
    default="auto",
    show_default=True,
    help="'auto' tunes lambda per method and acceleration on unscored slices; "
    "or a fixed value in normalised units.",
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
    "--device", default="cpu", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True
)
@adapt_option
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
    adapt: int,
) -> None:
    """Compare methods on INPUT images/volumes/k-space files (default: the embedded sample).

    Every method receives exactly the same masked k-space for a slice and an
    acceleration; metrics follow fastMRI's definitions.
    """
    from csmri.comparison import plots, report, run_comparison
    from csmri.reconstruct import DEFAULT_LAMBDA

    accelerations = _numbers(accel, "--accel", FiniteFloat(1.0))
    fractions = (
        _numbers(center_fraction, "--center-fraction", FiniteFloat(0.0, strict=True))
        if center_fraction
        else [round(0.32 / a, 4) for a in accelerations]
    )
    if len(fractions) != len(accelerations):
        raise UsageError("give one --center-fraction per --accel value")
    auto = lam.strip().lower() == "auto"
    fixed_lam = None if auto else NON_NEGATIVE.convert(lam, None, None)
    if output_dir is not None and not output_dir.parent.is_dir():
        raise UsageError(f"{output_dir}: parent folder does not exist")
    if output_dir is not None and output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"{output_dir}: exists and is not a folder")
    method_list, setup_seconds = _build_methods(
        methods, fixed_lam, iters, model, device, DEFAULT_LAMBDA
    )
    if adapt:
        method_list = _with_adapted(method_list, adapt, seed)
    cases = _build_cases(
        inputs,
        accelerations,
        fractions,
        mask_type,
        seed,
        noise,
        tuning_slices if auto else 0,
        axis,
        slices,
    )

    if any(hasattr(m, "leaks") for m in method_list):
        from learned.method import mark_leaks

        for warning in mark_leaks(method_list, cases):
            click.secho(warning, err=True, fg="red", bold=True)

    def progress(message: str) -> None:
        click.echo(f"  .. {message}", err=True)

    start = time.perf_counter()
    result = run_comparison(
        cases,
        method_list,
        auto,
        lambda m: DEFAULT_LAMBDA[m.reg],
        progress,
        tuning_workers=min(2, os.cpu_count() or 1),
    )
    summary = report.summarise(result)
    config = _config(
        {
            **click.get_current_context().params,
            "accel": accelerations,
            "center_fraction": fractions,
        },
        setup_seconds,
        time.perf_counter() - start,
    )
    note = (
        "Every method received byte-identical masked k-space per slice and acceleration "
        f"(sha256 checked); {len(cases[0].scored)} scored slices per case"
        + (f", lambda tuned on {len(cases[0].tuning)} other slices." if auto else ".")
        + "".join(
            f"\nSet-up, not in s/slice: {name} {sec:.2f} s." for name, sec in setup_seconds.items()
        )
        + f"\nThreads: torch {_torch_threads()}, FFT workers {fft_workers()}; warm-up run excluded."
    )
    printed = {
        "table": lambda: report.format_text(summary) + note,
        "md": lambda: report.format_markdown(summary) + "\n" + note,
        "csv": lambda: report.format_csv(result.rows).rstrip("\n"),
        "json": lambda: report.to_json(result, summary, config),
    }[fmt]()
    click.echo(printed)
    if output_dir is not None:
        output_dir.mkdir(exist_ok=True)
        writers = {
            "results.csv": lambda p: p.write_text(report.format_csv(result.rows)),
            "results.json": lambda p: p.write_text(report.to_json(result, summary, config)),
            "results.md": lambda p: p.write_text(
                report.format_markdown(summary) + "\n" + note + "\n"
            ),
            "reconstructions.png": lambda p: plots.reconstruction_grid(result, p),
            "quality_vs_runtime.png": lambda p: plots.quality_vs_runtime(summary, p),
            "convergence.png": lambda p: plots.convergence(result, p),
        }
        for name, write in writers.items():
            with atomic_path(output_dir / name) as temp:
                write(temp)
        click.echo(f"wrote {', '.join(writers)} to {output_dir}/", err=True)


def _build_methods(
    spec: str, lam: float | None, iters: int, model: Path | None, device: str, defaults: dict
) -> tuple[list[ReconMethod], dict[str, float]]:
    methods: list[ReconMethod] = []
    setup: dict[str, float] = {}
    for name in [part.strip() for part in spec.split(",") if part.strip()]:
        if name == "zero-filled":
            methods.append(ZeroFilled())
        elif name in ("unet", "unrolled"):
            from learned.method import LEARNED_METHODS

            start = time.perf_counter()
            methods.append(LEARNED_METHODS[name].load(model, device=device))
            setup[f"{name} (model load)"] = time.perf_counter() - start
        else:
            reg, _, solver = name.rpartition("-")
            if reg not in REGULARIZERS or solver not in SOLVERS:
                raise UsageError(f"unknown method {name!r}; see csmri compare --help")
            methods.append(
                CompressedSensing(
                    reg=reg,
                    solver=solver,
                    lam=defaults[reg] if lam is None else lam,
                    max_iter=iters,
                )
            )
    if not methods:
        raise UsageError("--methods lists no method")
    if len({m.name for m in methods}) != len(methods):
        raise UsageError("--methods lists a method twice")
    return methods, setup


def _with_adapted(methods: list[ReconMethod], steps: int, seed: int) -> list[ReconMethod]:
    """Each learned method followed by its adapted twin (``unet`` then ``unet+adapt``)."""
    out: list[ReconMethod] = []
    for method in methods:
        out.append(method)
        if hasattr(method, "adapted"):
            out.append(method.adapted(steps, seed))
    if len(out) == len(methods):
        raise UsageError("--adapt needs a learned method (unet, unrolled) in --methods")
    return out


def _build_cases(
    inputs, accelerations, fractions, mask_type, seed, noise, num_tuning, axis, slices
):
    from csmri.comparison import cases_from_images, cases_from_kspace_file
    from csmri.data import load_sample, parse_slices, read_images, select_slices
    from csmri.kspace_io import read_kspace

    selection = parse_slices(slices)
    if not inputs:
        images = select_slices(load_sample(), selection)
        return cases_from_images(
            "sample", images, accelerations, fractions, mask_type, seed, noise, num_tuning
        )
    cases = []
    for path in inputs:
        if path.suffix.lower() == ".h5" and _has_kspace(path):
            cases += cases_from_kspace_file(path.name, read_kspace(path), num_tuning)
        else:
            images = read_images(path, axis=axis, slices=selection)
            cases += cases_from_images(
                path.name, images, accelerations, fractions, mask_type, seed, noise, num_tuning
            )
    return cases


def _has_kspace(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return "kspace" in file
    except OSError:
        return False


def _config(params: dict, setup_seconds: dict, total_seconds: float) -> dict:
    """The options as run, with versions, machine and thread counts, for results.json."""
    import numpy
    import scipy
    import torch

    from csmri import __version__

    return {
        "options": {key: _plain(value) for key, value in params.items()},
        "seed": params["seed"],
        "setup_seconds": setup_seconds,
        "total_seconds": total_seconds,
        "versions": {
            "csmri": __version__,
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "fft_workers": fft_workers(),
        },
        "model": str(params.get("model") or "shipped"),
    }


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _plain(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value
