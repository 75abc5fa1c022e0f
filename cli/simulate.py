"""``csmri simulate``: images -> undersampled k-space in the fastMRI single-coil layout."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import ACCELERATION, FRACTION, NON_NEGATIVE, overwrite_option
from csmri.acquisition import single_coil
from csmri.errors import InputError, UsageError
from csmri.io.atomic import atomic_path, check_output_path
from csmri.io.fastmri import write_fastmri
from csmri.io.images import load_sample, parse_slices, read_images, select_slices
from csmri.mri.masks import MASK_TYPES
from csmri.mri.simulate import simulate as simulate_kspace


@click.command()
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="Output .h5 file."
)
@click.option("--accel", default=4.0, type=ACCELERATION, show_default=True, help="Acceleration R.")
@click.option("--center-fraction", default=0.08, type=FRACTION, show_default=True)
@click.option(
    "--mask", "mask_type", default="random", type=click.Choice(MASK_TYPES), show_default=True
)
@click.option("--seed", default=0, type=int, show_default=True, help="Seeds mask, phase and noise.")
@click.option(
    "--noise",
    default=0.0,
    type=NON_NEGATIVE,
    show_default=True,
    help="Complex noise sigma relative to the image maximum.",
)
@click.option(
    "--phase/--no-phase", default=True, show_default=True, help="Add a smooth random phase."
)
@click.option(
    "--axis", default=2, type=click.IntRange(0, 2), show_default=True, help="NIfTI slice axis."
)
@click.option("--slices", default=None, help="Slice range A:B (Python semantics).")
@click.option(
    "--coils",
    default=None,
    type=click.IntRange(min=1),
    help="Simulate this many birdcage coils (fastMRI multi-coil layout, reconstruction_rss).",
)
@click.option(
    "--coil-correlation",
    default=0.0,
    type=click.FloatRange(0.0, 0.99),
    show_default=True,
    help="Noise correlation between neighbouring coils (with --coils and --noise).",
)
@click.option(
    "--trajectory",
    default=None,
    type=click.Choice(["radial", "golden", "tiny-golden", "spiral"]),
    help="Non-Cartesian k-space (NUFFT, BART units) written as .npz with SigPy's coord; "
    "--accel is then relative to Nyquist.",
)
@click.option("--spokes", default=None, type=click.IntRange(min=1),
              help="Radial spokes (default: Nyquist's pi/2 N divided by --accel).")
@click.option("--interleaves", default=None, type=click.IntRange(min=1),
              help="Spiral arms (default 8).")
@overwrite_option
def simulate(
    image: Path | None,
    output: Path,
    accel: float,
    center_fraction: float,
    mask_type: str,
    seed: int,
    noise: float,
    phase: bool,
    axis: int,
    slices: str | None,
    coils: int | None,
    coil_correlation: float,
    trajectory: str | None,
    spokes: int | None,
    interleaves: int | None,
    overwrite: bool,
) -> None:
    """Simulate undersampled single-coil k-space from IMAGE (default: the embedded sample).

    IMAGE may be .npy, .png, NIfTI (.nii/.nii.gz) or a fastMRI .h5 with a target.
    Writes kspace (masked), mask and reconstruction_esc (the magnitude target);
    with --coils N, multi-coil kspace (slices, N, H, W) and reconstruction_rss.
    """
    suffix = ".npz" if trajectory else ".h5"
    if output.suffix.lower() != suffix:
        raise UsageError(
            f"{output}: simulate writes {'non-Cartesian .npz' if trajectory else 'fastMRI .h5'} "
            f"files; give an output ending in {suffix}"
        )
    inputs = (image,) if image is not None else ()
    check_output_path(output, overwrite, inputs)
    selection = parse_slices(slices)
    if image is None:
        images, source = select_slices(load_sample(), selection), "embedded Colin27 sample"
    else:
        images, source = read_images(image, axis=axis, slices=selection), str(image)
    if trajectory:
        click.echo(simulate_trajectory(images, output, trajectory, accel, seed, noise, phase,
                                       coils or 1, spokes, interleaves, source))
        return
    if mask_type == "equispaced" and accel != int(accel):
        raise InputError(f"equispaced masks need an integer --accel, got {accel}")
    if coils is not None:
        click.echo(
            simulate_coils(
                images,
                output,
                coils,
                coil_correlation,
                accel,
                center_fraction,
                mask_type,
                seed,
                noise,
                phase,
                source,
                image,
            )
        )
        return
    try:
        result = simulate_kspace(images, accel, center_fraction, mask_type, seed, noise, phase)
    except ValueError as error:
        raise InputError(str(error), image) from None
    attrs = {**result.attrs, "source": source}
    with atomic_path(output) as temp:
        write_fastmri(temp, single_coil(result.kspace, result.mask, result.target, attrs=attrs))
    click.echo(
        f"wrote {output}: {images.shape[0]} slices of {images.shape[1]}x{images.shape[2]}, "
        f"{result.mask.sum()}/{result.mask.size} columns "
        f"(realised acceleration {result.attrs['realised_acceleration']:.2f}x)"
    )


def simulate_coils(
    images,
    output,
    coils,
    correlation,
    accel,
    fraction,
    mask_type,
    seed,
    noise,
    phase,
    source,
    image,
) -> str:
    """Write a simulated multi-coil file; returns the summary line."""
    from csmri.acquisition import Header
    from csmri.io import write_acquisition
    from csmri.mri.coil_sim import simulate_multicoil

    try:
        data = simulate_multicoil(
            images, coils, accel, fraction, mask_type, seed, noise, correlation, phase
        )
    except ValueError as error:
        raise InputError(str(error), image) from None
    data.attrs["source"] = source
    data.maps = None  # as a scanner file: the maps are estimated from the data
    shape = data.kspace.shape[-2:]
    data.header = Header(encoded_matrix=shape, recon_matrix=shape)
    with atomic_path(output) as temp:
        write_acquisition(temp, data)
    return (
        f"wrote {output}: {images.shape[0]} slices of {shape[0]}x{shape[1]}, {coils} coils, "
        f"{data.mask[0].sum()}/{shape[1]} columns "
        f"(realised acceleration {data.attrs['realised_acceleration']:.2f}x)"
    )


def simulate_trajectory(images, output, kind, accel, seed, noise, phase, coils, spokes,
                        interleaves, source) -> str:
    """Write simulated radial/spiral k-space as .npz; returns the summary line."""
    from csmri.io import write_acquisition
    from csmri.mri.noncartesian_sim import simulate_noncartesian

    acq = simulate_noncartesian(images, kind, accel, seed, noise, phase, coils, spokes,
                                interleaves)
    acq.attrs["source"] = source
    acq.maps = None  # as a scanner file: the maps are estimated from the data
    with atomic_path(output) as temp:
        write_acquisition(temp, acq)
    samples = "x".join(str(s) for s in acq.trajectory.samples)
    return (f"wrote {output}: {acq.num_slices} slices, {kind} trajectory {samples} "
            f"(readout x lines), {coils} coil(s), matrix {acq.image_shape[0]}x"
            f"{acq.image_shape[1]}")
