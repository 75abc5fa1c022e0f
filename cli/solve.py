"""``csmri solve``: reconstruct a k-space file with a CS solver, the U-Net or zero-filling."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
from tqdm import tqdm

from cli.options import NON_NEGATIVE, overwrite_option
from csmri.atomic import atomic_path, check_output_path
from csmri.data import parse_slices, select_slices
from csmri.errors import InputError, UsageError
from csmri.kspace_io import read_kspace, write_reconstruction
from csmri.methods import REGULARIZERS, SOLVERS, CompressedSensing, ReconMethod, ZeroFilled

OUTPUT_SUFFIXES = (".h5", ".npy", ".cfl")
CHUNK = 4  # slices per solver call: vectorised FFTs, bounded memory


def _check_wavelet(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from csmri.regularizers import WAVELETS

    if value not in WAVELETS:
        raise click.BadParameter(f"unknown wavelet {value!r}; try haar, db4, sym8 or coif3")
    return value


@click.command()
@click.argument("input_path", metavar="IN", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output .h5 (fastMRI 'reconstruction'), .npy or .cfl.",
)
@click.option(
    "--method", default="cs", type=click.Choice(["cs", "unet", "zero-filled"]), show_default=True
)
@click.option("--reg", default="tv", type=click.Choice(REGULARIZERS), show_default=True)
@click.option(
    "--lam",
    default=None,
    type=NON_NEGATIVE,
    help="Regularisation weight in normalised units (default: chosen automatically from the "
    "realised acceleration, see csmri.autolambda; the choice is printed).",
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
    default="haar",
    show_default=True,
    callback=_check_wavelet,
    help="Orthogonal PyWavelets wavelet name (haar, db4, sym8, ...).",
)
@click.option("--slices", default=None, help="Slice range A:B (Python semantics).")
@click.option(
    "--model",
    default=None,
    type=click.Path(path_type=Path),
    help="U-Net weights (.safetensors); default: the shipped model.",
)
@click.option(
    "--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True
)
@click.option("--png", is_flag=True, help="Also write OUT.png with the reconstructed slices.")
@overwrite_option
def solve(
    input_path: Path,
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
    png: bool,
    overwrite: bool,
) -> None:
    """Reconstruct the k-space file IN (fastMRI .h5, BART .cfl, .npy/.npz) into OUT."""
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"{output}: output must end in one of {', '.join(OUTPUT_SUFFIXES)}")
    check_output_path(output, overwrite, (input_path,))
    png_path = output.with_suffix(".png")
    if png:
        check_output_path(png_path, overwrite, (input_path,))
    selection = parse_slices(slices)
    data = read_kspace(input_path)
    kspace = select_slices(data.kspace, selection, input_path)
    lam_note = ""
    if method == "cs" and lam is None:
        from csmri.autolambda import auto_lambda

        choice = auto_lambda(kspace, data.mask, reg)
        lam, lam_note = choice.lam, f", lambda {choice.lam:.3g} (auto: {choice.rule})"
    recon_method = _build_method(method, reg, lam, solver, iters, tol, wavelet, model, device)
    target = None if data.target is None else select_slices(data.target, selection, input_path)

    images = np.empty(kspace.shape, dtype=np.float32)
    iterations: list[int] = []
    objectives: list[float] = []
    start = time.perf_counter()
    with tqdm(total=kspace.shape[0], unit="slice", desc=recon_method.name, leave=False) as bar:
        for first in range(0, kspace.shape[0], CHUNK):
            chunk = slice(first, min(first + CHUNK, kspace.shape[0]))
            result = recon_method.run(kspace[chunk], data.mask)
            images[chunk] = result.images
            iterations.extend(result.iterations)
            objectives.extend(h.objective[-1] for h in result.history if h.objective)
            bar.update(chunk.stop - chunk.start)
    seconds = time.perf_counter() - start

    attrs = {
        "method": recon_method.name,
        "source": str(input_path),
        "lambda": float("nan") if recon_method.lam is None else float(recon_method.lam),
        "iterations": int(max(iterations, default=0)),
    }
    with atomic_path(output) as temp:
        write_reconstruction(temp, images, attrs)
    if png:
        from csmri.figures import save_montage

        with atomic_path(png_path) as temp:
            save_montage(temp, images, f"{recon_method.name}: {input_path.name}")
    passes = "one pass" if recon_method.lam is None else f"{np.mean(iterations):.0f} iterations"
    summary = (
        f"{recon_method.name}: {kspace.shape[0]} slices, {passes} per slice{lam_note}, "
        f"{seconds:.2f} s"
        + (
            f", final objective {np.mean(objectives):.6g} (mean, normalised units)"
            if objectives
            else ""
        )
        + f" -> {output}"
    )
    if target is not None:
        from csmri.metrics import evaluate  # scikit-image: loaded only when there is a target

        try:
            scores = evaluate(target, images)
        except ValueError as error:
            raise InputError(str(error), input_path) from None
        summary += (
            f" | NMSE {scores['nmse']:.4f}  PSNR {scores['psnr']:.2f} dB  SSIM {scores['ssim']:.4f}"
        )
    click.echo(summary)


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
    if method == "unet":
        from learned.method import UnetMethod

        return UnetMethod.load(model, device=device)
    assert lam is not None  # chosen automatically before, when not given
    return CompressedSensing(
        reg=reg,
        solver=solver,
        lam=lam,
        max_iter=iters,
        tol=tol,
        wavelet=wavelet,
    )
