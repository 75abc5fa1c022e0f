"""Encoded versus reconstructed matrix: header parsing, fastMRI's centre crop, the output crop.

A scanner encodes a larger matrix than it reconstructs: the readout is usually
oversampled twice (fastMRI knee: encoded 640 x 368, recon 320 x 320) and the
phase encoding may carry extra lines.  The ISMRMRD header (also stored as
fastMRI's ``ismrmrd_header`` dataset) states both as ``encodedSpace`` and
``reconSpace``, each a ``matrixSize`` (x: readout, y: phase, z: partitions) and a
``fieldOfView_mm``.  The image of the encoded matrix is cut to the recon matrix
by :func:`center_crop`, fastMRI's ``transforms.center_crop``.

Headers are not always right (a Pulseq sequence writes a placeholder protocol;
some fastMRI FLAIR volumes have a recon matrix wider than the image): where the
header contradicts the data, :func:`output_crop` trusts the data and warns once.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from csmri.errors import DataWarning

__all__ = ["center_crop", "header_fov", "header_matrix", "output_crop"]


def _block(xml: str, tag: str) -> str | None:
    found = re.search(rf"<{tag}>(.*?)</{tag}>", xml, re.S)
    return None if found is None else found.group(1)


def _values(block: str | None, axes: tuple[str, ...], number: str) -> list[str] | None:
    if block is None:
        return None
    found = [re.search(rf"<{a}>\s*({number})\s*</{a}>", block) for a in axes]
    if any(f is None for f in found):
        return None
    return [f.group(1) for f in found]  # type: ignore[union-attr]


def header_matrix(
    xml: bytes | str, space: str = "encodedSpace", axes: str = "xy"
) -> tuple[int, ...] | None:
    """The ``matrixSize`` of ``encodedSpace`` or ``reconSpace`` in an ISMRMRD XML header.

    Parameters
    ----------
    xml : bytes or str
        The XML (fastMRI's ``ismrmrd_header``, or an MRD file's header).
    space : {"encodedSpace", "reconSpace"}
        Which space.
    axes : str
        Axes to return, in order (``"xy"``, or ``"xyz"`` for 3-D).

    Returns
    -------
    tuple of int or None
        The sizes, or None where the header lacks the space or one of the axes.
    """
    text = xml.decode(errors="replace") if isinstance(xml, bytes) else str(xml)
    space_block = _block(text, space)
    values = _values(
        None if space_block is None else _block(space_block, "matrixSize"), tuple(axes), r"\d+"
    )
    return None if values is None else tuple(int(v) for v in values)


def header_fov(
    xml: bytes | str, space: str = "encodedSpace"
) -> tuple[float, float, float] | None:
    """The ``fieldOfView_mm`` ``(x, y, z)`` of a space in an ISMRMRD XML header, or None."""
    text = xml.decode(errors="replace") if isinstance(xml, bytes) else str(xml)
    space_block = _block(text, space)
    values = _values(
        None if space_block is None else _block(space_block, "fieldOfView_mm"),
        ("x", "y", "z"),
        r"[-+0-9.eE]+",
    )
    if values is None:
        return None
    try:
        x, y, z = (float(v) for v in values)
    except ValueError:
        return None
    return x, y, z


def center_crop(data: Any, shape: tuple[int, int]) -> Any:
    """Centre crop of the last two axes, exactly fastMRI's ``transforms.center_crop``.

    The crop starts at ``(size - crop) // 2`` on each axis, so for an odd
    difference the extra row or column is dropped at the end.

    Parameters
    ----------
    data : array or tensor, shape (..., H, W)
        Images.
    shape : tuple of int
        ``(h, w)`` with ``0 < h <= H`` and ``0 < w <= W``.

    Returns
    -------
    array or tensor, shape (..., h, w)
        A view of ``data``.

    Raises
    ------
    ValueError
        The crop is empty or larger than the data (as fastMRI).
    """
    rows, cols = int(shape[0]), int(shape[1])
    height, width = data.shape[-2], data.shape[-1]
    if not (0 < rows <= height and 0 < cols <= width):
        raise ValueError(f"cannot crop {height}x{width} to {rows}x{cols}")
    top, left = (height - rows) // 2, (width - cols) // 2
    return data[..., top : top + rows, left : left + cols]


def output_crop(
    image_shape: tuple[int, int],
    encoded: tuple[int, ...] | None,
    recon: tuple[int, ...] | None,
    source: object = None,
) -> tuple[int, int]:
    """The ``(h, w)`` crop of an image of the encoded size, from the header's matrices.

    The recon matrix where it fits the image.  Where the header contradicts the
    data, the data win and one warning says so: an encoded matrix that is not
    the image's size is ignored (the image is what was encoded), and a recon
    size larger than the image on an axis is clamped to the image's size (the
    rule fastMRI applies to its FLAIR volumes, per axis).  Without a recon
    matrix the image is kept whole.

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` of the image, i.e. of the k-space as read.
    encoded, recon : tuple of int or None
        Header ``(x, y)`` matrices (:func:`header_matrix`); None when absent.
    source : object, optional
        File named in the warnings.

    Returns
    -------
    tuple of int
        Crop size for :func:`center_crop`.
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    where = f"{source}: " if source is not None else ""
    if encoded is not None and tuple(encoded[:2]) != (height, width):
        warnings.warn(
            f"{where}header encoded matrix {encoded[0]}x{encoded[1]} differs from the data's "
            f"{height}x{width}; the data decide",
            category=DataWarning, stacklevel=2,
        )
    if recon is None:
        return height, width
    rows, cols = int(recon[0]), int(recon[1])
    if rows <= 0 or cols <= 0 or rows > height or cols > width:
        kept = (min(max(rows, 1), height), min(max(cols, 1), width))
        warnings.warn(
            f"{where}header recon matrix {rows}x{cols} does not fit the {height}x{width} "
            f"image; cropping to {kept[0]}x{kept[1]}",
            category=DataWarning, stacklevel=2,
        )
        return kept
    return rows, cols


def recon_crop(
    image_shape: tuple[int, int],
    recon: tuple[int, ...] | None,
    reference_shape: tuple[int, ...] | None,
    source: object = None,
) -> tuple[int, int] | None:
    """The crop of the output images: the recon matrix, else the reference's size, or None.

    The header's recon matrix by :func:`output_crop` (an axis where it does not fit the
    image is clamped, with a warning); without one, the reference's size when it fits;
    else no crop.

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` of the reconstructed images (the encoded grid).
    recon : tuple of int or None
        The header's recon matrix.
    reference_shape : tuple of int or None
        Shape of the file's reference images.
    source : object, optional
        File named in the warnings.

    Returns
    -------
    tuple of int or None
        ``(h, w)`` to crop to, None when that is the whole image.
    """
    image_shape = (int(image_shape[0]), int(image_shape[1]))
    if recon is not None:  # the readers checked the encoded matrix
        crop = output_crop(image_shape, None, recon, source)
    elif reference_shape is not None and all(
        r <= s for r, s in zip(reference_shape[-2:], image_shape, strict=True)
    ):
        crop = (int(reference_shape[-2]), int(reference_shape[-1]))
    else:
        return None
    return None if crop == image_shape else crop
