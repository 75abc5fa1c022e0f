"""The multi-coil branch of ``csmri solve``: maps, optional compression, SENSE CS or baselines."""

from __future__ import annotations

import time
from pathlib import Path

import click

from csmri.device import resolve_device
from csmri.io.atomic import atomic_path, check_output_path
from csmri.io.images import select_slices
from csmri.io.kspace import write_reconstruction
from csmri.io.multicoil import read_maps, read_multicoil, write_maps
from csmri.metrics import score_line
from csmri.mri.coils import MAP_MODES, MulticoilMethod, compress_coils, estimate_maps


def solve_multicoil(
    input_path: Path,
    output: Path,
    *,
    method: str,
    reg: str,
    lam: float | None,
    solver: str | None,
    iters: int,
    tol: float,
    wavelet: str,
    selection: slice | None,
    coil_axis: int | None,
    maps_option: str,
    save_maps: Path | None,
    coils: int | None,
    model: Path | None,
    device: str,
    overwrite: bool,
) -> str:
    """Reconstruct a multi-coil file; returns the one-line summary."""
    if save_maps is not None:
        check_output_path(save_maps, overwrite, (input_path,))
    data = read_multicoil(input_path, coil_axis)
    kspace = select_slices(data.kspace, selection, input_path)
    target = None if data.target is None else select_slices(data.target, selection, input_path)
    where = torch_device(device)
    maps = None
    start = time.perf_counter()
    needs_maps = method not in ("zero-filled", "unet") or save_maps is not None
    if needs_maps:
        if maps_option in MAP_MODES:
            if data.maps is not None and maps_option == "espirit":
                maps = select_slices(data.maps, selection, input_path)  # the file's sens_maps
            else:
                maps = estimate_maps(kspace, data.mask, maps_option, where, input_path)
        else:
            maps = select_slices(read_maps(maps_option, data.kspace.shape), selection, maps_option)
    map_seconds = time.perf_counter() - start
    if coils is not None:
        kspace, maps = compress_coils(kspace, coils, maps)
    if method == "unet":
        from learned.multicoil import unet_on_rss

        result = unet_on_rss(kspace, model, device)
    else:
        kind = {"cs": "sense-cs", "zero-filled": "zero-filled", "sense-adjoint": "sense-adjoint"}
        cs_device = None if where == "cpu" else where
        recon = MulticoilMethod(
            kind[method], reg, lam, solver, iters, tol, wavelet, None, cs_device
        )
        result = recon.run(kspace, data.mask, maps)
    name = "unet" if method == "unet" else recon.name
    attrs = {
        "method": name,
        "source": str(input_path),
        "coils": int(kspace.shape[1]),
        "lambda": float("nan") if method != "cs" else float(recon.lam),
        "iterations": int(max(result.iterations, default=0)),
    }
    with atomic_path(output) as temp:
        write_reconstruction(temp, result.images, attrs)
    if save_maps is not None:
        with atomic_path(save_maps) as temp:
            write_maps(temp, maps)
    summary = (
        f"{name}: {kspace.shape[0]} slices, {kspace.shape[1]} coils, maps {map_seconds:.2f} s, "
        f"reconstruction {result.seconds:.2f} s -> {output}"
    )
    if target is not None:
        summary += (
            score_line(target, result.images, input_path)
            + " (vs reconstruction_rss, centre-cropped)"
        )
    return summary


def torch_device(device: str) -> str:
    """Resolve ``auto`` and check that ``cuda`` is there (:func:`csmri.device.resolve_device`)."""
    return resolve_device(device) or "cpu"


def maps_option_check(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--maps``: an estimator name or an existing maps file."""
    if value in MAP_MODES or Path(value).suffix.lower() in (".cfl", ".hdr", ".npy", ".npz", ".h5"):
        return value
    raise click.BadParameter(f"{value!r}: use {' or '.join(MAP_MODES)}, or a maps file")
