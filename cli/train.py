"""``csmri train``: train a U-Net or an unrolled network on images, volumes or fastMRI targets."""

from __future__ import annotations

from pathlib import Path

import click

from cli.options import FRACTION, FiniteFloat, overwrite_option
from csmri.io.atomic import check_output_path

NORMS = ("group", "instance", "batch", "layer", "none")
OPTIMIZERS = ("adam", "rmsprop", "sgd")


@click.command()
@click.option(
    "--data",
    "data",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="NIfTI volume, image folder, k-space file or folder (fastMRI/ISMRMRD .h5, twix .dat, "
    "BART .cfl; single- or multi-coil), or 'mni152' (nilearn's MNI152 template) (repeatable). "
    "The unrolled network trains on k-space itself (SENSE with cached ESPIRiT maps); the "
    "U-Net on its coil-combined complex image. Options: "
    "PATH?subject=S&axes=0,1,2&exclude=AXIS:A-B. "
    "Subject: ?subject=, else the file name up to its first '_'.",
)
@click.option(
    "--model",
    "model",
    default="unet",
    type=click.Choice(["unet", "unrolled"]),
    show_default=True,
    help="One-shot U-Net, or the unrolled network (U-Net cascades + data consistency).",
)
@click.option(
    "--cascades", default=5, type=click.IntRange(1, 32), show_default=True,
    help="Cascades of the unrolled network.",
)
@click.option(
    "--unrolled-dc", default="gradient", type=click.Choice(["gradient", "cg"]),
    show_default=True,
    help="Data consistency of the unrolled network: E2E-VarNet's gradient step, or MoDL's "
    "CG-solved proximal step (the shipped model).",
)
@click.option(
    "--cg-iters", default=6, type=click.IntRange(1, 50), show_default=True,
    help="CG iterations per cascade (--unrolled-dc cg).",
)
@click.option(
    "--coils", "coils", multiple=True, type=click.IntRange(1, 64),
    help="Images: simulate multi-coil examples with these coil counts (repeatable; unrolled "
    "network). k-space: compress every file to this many coils (needed when the files' "
    "coil counts differ).",
)
@click.option(
    "--supervision", default="auto", type=click.Choice(["auto", "full", "ssdu"]),
    show_default=True,
    help="k-space data: supervised on fully sampled data, or self-supervised SSDU on "
    "undersampled data; auto picks by whether the data are fully sampled.",
)
@click.option(
    "--ssdu-masks", default=2, type=click.IntRange(1, 16), show_default=True,
    help="SSDU splits per example and step (multi-mask SSDU).",
)
@click.option(
    "--maps-cache", default=None, type=click.Path(path_type=Path),
    help="Folder caching the ESPIRiT maps of k-space training slices, checked against "
    "each slice's sha256 (default: NAME.maps beside the output model).",
)
@click.option(
    "--synth",
    default=0.0,
    type=click.FloatRange(0.0, 1.0),
    show_default=True,
    help="Fraction of examples synthesised from MNI152 tissue maps (domain randomisation).",
)
@click.option(
    "--val-subject",
    "val_subjects",
    multiple=True,
    help="Hold this subject out for validation (repeatable; default: a random "
    "--val-fraction of the subjects).",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Output model (.safetensors, with a .json beside it).",
)
@click.option(
    "--accel", multiple=True, type=FiniteFloat(1.0), default=(4.0, 8.0), show_default=True
)
@click.option(
    "--center-fraction", multiple=True, type=FRACTION, default=(0.08, 0.04), show_default=True
)
@click.option("--epochs", default=10, type=click.IntRange(min=1), show_default=True)
@click.option("--batch-size", default=8, type=click.IntRange(min=1), show_default=True)
@click.option("--optimizer", default="adam", type=click.Choice(OPTIMIZERS), show_default=True)
@click.option("--lr", default=1e-3, type=FiniteFloat(0.0, strict=True), show_default=True)
@click.option(
    "--momentum", default=0.9, type=FiniteFloat(0.0), show_default=True, help="SGD momentum."
)
@click.option("--norm", default="group", type=click.Choice(NORMS), show_default=True)
@click.option(
    "--chans",
    default=None,
    type=click.IntRange(min=1),
    help="Channels of the first level (default: the shipped model's).",
)
@click.option(
    "--depth",
    default=None,
    type=click.IntRange(min=1),
    help="Pooling levels (default: the shipped model's).",
)
@click.option(
    "--steps-per-epoch",
    default=None,
    type=click.IntRange(min=1),
    help="Optimiser steps per epoch (default: one pass over the training slices).",
)
@click.option(
    "--patch",
    default=160,
    type=click.IntRange(min=0),
    show_default=True,
    help="Side of the square training patches (0: whole slices, all of one shape).",
)
@click.option("--loss", default="l1", type=click.Choice(["l1", "ssim", "ssim-l1"]),
              show_default=True, help="ssim-l1: 0.84 (1 - SSIM) + 0.16 L1.")
@click.option(
    "--input",
    "input",
    default="magnitude",
    type=click.Choice(["magnitude", "complex"]),
    show_default=True,
    help="Network input: zero-filled magnitude, or real/imaginary channels.",
)
@click.option(
    "--data-consistency",
    default="auto",
    type=click.Choice(["auto", "none", "hard", "hard-lowres"]),
    show_default=True,
    help="Default stored with the model; auto keeps DC only if it helps PSNR and SSIM.",
)
@click.option("--seed", default=0, type=int, show_default=True)
@click.option("--val-fraction", default=0.1, type=FRACTION, show_default=True)
@click.option(
    "--resume", default=None, type=click.Path(path_type=Path), help="Checkpoint to resume from."
)
@click.option(
    "--device", default="auto", type=click.Choice(["auto", "cpu", "cuda"]), show_default=True
)
@overwrite_option
def train(output: Path, overwrite: bool, resume: Path | None, **options: object) -> None:
    """Train a U-Net (or unrolled network) to reconstruct undersampled k-space.

    Training and validation are split by subject, never by slice; the model file records
    the training manifest (volumes, sha256, slice ranges, slice hashes, augmentations).
    """
    from learned.training.train import TrainConfig
    from learned.training.train import train as train_model

    check_output_path(output, overwrite or resume is not None)
    config = TrainConfig.from_cli(output=output, resume=resume, **options)
    result = train_model(config.validate())
    if result.main:  # under torchrun, rank 0 speaks for the group
        click.echo(result.summary())
