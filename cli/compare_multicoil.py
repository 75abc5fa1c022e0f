"""The multi-coil branch of ``csmri compare``."""

from __future__ import annotations

from pathlib import Path

import click

from cli.compare import DEFAULT_METHODS, write_results
from learned.comparison.multicoil import (
    cases_from_file,
    format_rows,
    parse_methods,
    run_multicoil_comparison,
)

DEFAULT_MULTICOIL_METHODS = "zero-filled,sense-adjoint,tv-fista,wavelet-fista,unet"


def compare_multicoil(
    inputs: tuple[Path, ...],
    accelerations: list[float],
    fractions: list[float],
    mask_type: str,
    methods: str,
    lam: float | None,
    iters: int,
    model: Path | None,
    seed: int,
    output_dir: Path | None,
    fmt: str,
    device: str,
) -> None:
    """Compare multi-coil methods on multi-coil INPUTS and print (and write) the table."""
    from cli.solve_multicoil import torch_device

    spec = DEFAULT_MULTICOIL_METHODS if methods == DEFAULT_METHODS else methods
    method_list, with_unet = parse_methods(spec, lam, iters)
    cases = [
        case
        for path in inputs
        for case in cases_from_file(path, accelerations, fractions, mask_type, seed)
    ]
    unet = None
    if with_unet:
        from learned.multicoil import unet_on_rss

        def unet(kspace):
            return unet_on_rss(kspace, model, device)

    rows = run_multicoil_comparison(cases, method_list, unet, torch_device(device))
    click.echo(format_rows(rows, "table" if fmt == "table" else fmt))
    if output_dir is not None:
        write_results(
            output_dir,
            {
                f"results.{kind}": lambda p, kind=kind: Path(p).write_text(
                    format_rows(rows, kind) + "\n"
                )
                for kind in ("md", "csv", "json")
            },
        )
