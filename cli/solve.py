"""``csmri solve``: reconstruct a k-space file with a CS solver, a learned model or zero-filling."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from cli.batch import batch_options, is_batch, run_batch_command
from cli.options import NON_NEGATIVE, adapt_option, overwrite_option
from csmri.app.methods import SOLVERS, CompressedSensing, ReconMethod, SenseAdjoint, ZeroFilled
from csmri.app.solve import MAP_FILE_SUFFIXES, output_attrs, prepare, solve_acquisition
from csmri.defaults import DEFAULT_WAVELET, REGULARIZERS
from csmri.device import resolve_device
from csmri.errors import UsageError
from csmri.io.atomic import atomic_path, check_output_path
from csmri.io.images import parse_slices
from csmri.io.reconstruction import write_reconstruction

OUTPUT_SUFFIXES = (".h5", ".npy", ".cfl")


def maps_option_check(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--maps``: an estimator name or a maps file."""
    if value in ("espirit", "lowres") or Path(value).suffix.lower() in MAP_FILE_SUFFIXES:
        return value
    raise click.BadParameter(f"{value!r}: use espirit or lowres, or a maps file")


def _matrix_option(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[int, int] | None:
    """``--matrix HxW`` -> ``(H, W)``."""
    if value is None:
        return None
    parts = value.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 8 for p in parts):
        raise click.BadParameter(f"{value!r}: give the matrix as HxW, e.g. 256x256 (>= 8)")
    return int(parts[0]), int(parts[1])


def _check_wavelet(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from csmri.regularizers import check_wavelet

    try:
        check_wavelet(value)
    except UsageError as error:
        raise click.BadParameter(str(error)) from None
    return value


@click.command()
@click.argument("inputs", metavar="IN...", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output .h5 (fastMRI 'reconstruction'), .npy or .cfl; a folder for many inputs.",
)
@click.option(
    "--method",
    default="cs",
    type=click.Choice(["cs", "unet", "unrolled", "zero-filled", "sense-adjoint", "grappa"]),
    show_default=True,
    help="zero-filled is the RSS of the coil images for multi-coil data; "
    "sense-adjoint and grappa are multi-coil only.",
)
@click.option(
    "--reg",
    default="tv",
    type=click.Choice(REGULARIZERS),
    show_default=True,
    help="tv+wavelet: both terms weighted by --lam (ADMM). tv-reweighted: isotropic TV with "
    "reweighted l1 weights, a log penalty that keeps edges (ADMM); tgv-reweighted: the same for "
    "TGV (ADMM; single-coil or SENSE).",
)
@click.option(
    "--lam",
    default=None,
    type=NON_NEGATIVE,
    help="Regularisation weight in normalised units (default: chosen automatically from the "
    "realised acceleration, see csmri.app.autolambda; the choice is printed).",
)
@click.option(
    "--solver",
    default=None,
    type=click.Choice(SOLVERS),
    help="Algorithm (default: admm for TV, fista with cycle spinning for wavelets, as BART).",
)
@click.option("--iters", default=100, type=click.IntRange(min=1), show_default=True)
@click.option(
    "--tol",
    default=0.0,
    type=NON_NEGATIVE,
    show_default=True,
    help="Stop when the relative change falls below this (0: run all iterations).",
)
@click.option(
    "--wavelet",
    default=DEFAULT_WAVELET,
    show_default=True,
    callback=_check_wavelet,
    help="Orthogonal PyWavelets wavelet name (haar, db4, sym8, ...).",
)
@click.option("--slices", default=None, help="Slice range A:B (Python semantics).")
@click.option(
    "--model",
    default=None,
    type=click.Path(path_type=Path),
    help="Weights (.safetensors) for --method unet/unrolled; default: the shipped model.",
)
@click.option(
    "--device",
    default="auto",
    type=click.Choice(["auto", "cpu", "cuda"]),
    show_default=True,
    help="U-Net and CS: cuda runs on the GPU (CS on torch); cpu runs CS on the NumPy "
    "backend; auto takes cuda when torch sees one.",
)
@click.option(
    "--traj",
    default=None,
    type=click.Path(path_type=Path),
    help="BART trajectory .cfl of radial/spiral k-space IN (bart traj units: k in pixels).",
)
@click.option(
    "--matrix",
    default=None,
    callback=_matrix_option,
    help="Image matrix HxW of non-Cartesian data (default: the file's, else the trajectory's "
    "extent).",
)
@click.option(
    "--coil-axis",
    default=None,
    type=int,
    help="Coil axis of a .npy/.npz multi-coil array (0 for (coils, H, W); default 1 for 4-D).",
)
@click.option(
    "--maps",
    "maps_option",
    default="espirit",
    show_default=True,
    callback=maps_option_check,
    help="Multi-coil: coil maps by 'espirit' (the file's sens_maps when it has them), "
    "'lowres', or a maps file (.cfl, .npy, .h5 sens_maps).",
)
@click.option(
    "--save-maps",
    default=None,
    type=click.Path(path_type=Path),
    help="Multi-coil: also write the coil maps used (.cfl, .npy or .h5).",
)
@click.option(
    "--coils",
    default=None,
    type=click.IntRange(min=1),
    help="Multi-coil: SVD-compress to this many virtual coils first.",
)
@adapt_option
@click.option("--png", is_flag=True, help="Also write OUT.png with the reconstructed slices.")
@batch_options
@overwrite_option
def solve(
    inputs: tuple[str, ...],
    output: Path,
    method: str,
    reg: str,
    lam: float | None,
    solver: str,
    iters: int,
    tol: float,
    wavelet: str,
    slices: str | None,
    model: Path | None,
    device: str,
    traj: Path | None,
    matrix: tuple[int, int] | None,
    coil_axis: int | None,
    maps_option: str,
    save_maps: Path | None,
    coils: int | None,
    adapt: int,
    png: bool,
    overwrite: bool,
    **batch: object,
) -> None:
    """Reconstruct k-space files IN (fastMRI .h5, BART .cfl, .npy/.npz, ISMRMRD .h5) into OUT.

    Multi-coil input (4-D arrays, BART coil dim 3, ISMRMRD) is solved by SENSE with
    ESPIRiT maps unless --maps says otherwise.  Many inputs (files, globs, folders) go to
    the folder OUT, one .h5 per input, on a Dask cluster (--scheduler); a single input
    file to a file keeps one process.
    """
    if is_batch(inputs, output):
        method_ = _build_method(method, reg, lam, solver, iters, tol, wavelet, model, device)
        if method == "cs" and lam is None:
            from csmri.app.autolambda import AutoLambdaMethod

            method_ = AutoLambdaMethod(method_)
        run_batch_command(inputs, output, method_, slices, png, overwrite, **batch)
        return
    input_path = Path(inputs[0])
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"{output}: output must end in one of {', '.join(OUTPUT_SUFFIXES)}")
    check_output_path(output, overwrite, (input_path,))
    png_path = output.with_suffix(".png")
    for extra in ([png_path] if png else []) + ([save_maps] if save_maps is not None else []):
        check_output_path(extra, overwrite, (input_path,))
    where = resolve_device(device) or "cpu"
    prepared = prepare(
        input_path,
        selection=parse_slices(slices),
        coil_axis=coil_axis,
        maps=maps_option,
        needs_maps=method not in ("zero-filled", "unet", "grappa") or save_maps is not None,
        coils=coils,
        device=where,
        traj=traj,
        matrix=matrix,
    )
    acq = prepared.acq
    if method in ("sense-adjoint", "grappa") and not acq.is_multicoil:
        raise UsageError(f"{input_path}: single-coil data; {method} needs coils")
    if save_maps is not None and acq.maps is None:
        raise UsageError(f"{input_path}: single-coil data has no coil maps to save")
    kspace, mask, _ = acq.solver_inputs()
    lam_note = ""
    if method == "cs" and lam is None:
        from csmri.app.autolambda import auto_lambda

        choice = auto_lambda(kspace, mask, reg, acq.is_multicoil, acq.acceleration)
        lam, lam_note = choice.lam, f", lambda {choice.lam:.3g} (auto: {choice.rule})"
    recon_method = _build_method(method, reg, lam, solver, iters, tol, wavelet, model, device)
    if adapt:
        recon_method = _adapted(recon_method, adapt)
    target = acq.reference
    if target is not None and hasattr(recon_method, "leaks"):
        leaked = recon_method.leaks(target)
        if leaked:
            from learned.data.manifest import leak_warning

            click.secho(leak_warning(recon_method.source, leaked, len(target)), err=True,
                        fg="red", bold=True)

    start = time.perf_counter()
    with tqdm(total=acq.num_slices, unit="slice", desc=recon_method.name, leave=False) as bar:
        result, crop = solve_acquisition(acq, recon_method, progress=bar.update)
    seconds = time.perf_counter() - start
    images, iterations = result.images, result.iterations
    objectives = [h.objective[-1] for h in result.history if h.objective]
    with atomic_path(output) as temp:
        write_reconstruction(temp, images, output_attrs(acq, recon_method, result, crop))
    if save_maps is not None:
        from csmri.io.maps import write_maps

        with atomic_path(save_maps) as temp:
            write_maps(temp, acq.maps)
    if png:
        from csmri.app.figures import save_montage

        with atomic_path(png_path) as temp:
            save_montage(temp, images, f"{recon_method.name}: {input_path.name}")
    passes = (
        f"{np.mean(iterations):.0f} {'adaptation steps' if adapt else 'iterations'}"
        if recon_method.lam is not None or adapt
        else "one pass"
    )
    coil_note = f"{acq.num_coils} coils, {prepared.maps_note}" if acq.num_coils > 1 else ""
    summary = (
        f"{recon_method.name}: {acq.num_slices} slices, {coil_note}{passes} per slice{lam_note}, "
        f"{seconds:.2f} s"
        + (
            f", final objective {np.mean(objectives):.6g} (mean, normalised units)"
            if objectives
            else ""
        )
        + (f", cropped to {crop[0]}x{crop[1]}" if crop is not None else "")
        + f" -> {output}"
    )
    if target is not None:
        from csmri.metrics import score_line  # scikit-image: loaded only when there is a target

        summary += score_line(target, images, input_path)
    click.echo(summary)


def _adapted(method: ReconMethod, steps: int) -> ReconMethod:
    adapted = getattr(method, "adapted", None)
    if adapted is None:
        raise UsageError(
            f"--adapt works only with a learned --method (unet, unrolled), not {method.name}"
        )
    return adapted(steps)


def _build_method(
    method: str,
    reg: str,
    lam: float | None,
    solver: str,
    iters: int,
    tol: float,
    wavelet: str,
    model: Path | None,
    device: str,
) -> ReconMethod:
    if method == "zero-filled":
        return ZeroFilled()
    if method == "sense-adjoint":
        return SenseAdjoint()
    if method == "grappa":
        from csmri.app.grappa import Grappa

        return Grappa()
    if method in ("unet", "unrolled"):
        from learned.method import LEARNED_METHODS

        return LEARNED_METHODS[method].load(model, device=device)
    return CompressedSensing(
        reg=reg,
        solver=solver,
        lam=lam,
        max_iter=iters,
        tol=tol,
        wavelet=wavelet,
        device=device,
    )
