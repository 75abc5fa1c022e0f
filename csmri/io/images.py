"""Images to reconstruct: the embedded sample, an analytic phantom, and a user's files.

Every reader returns a float32 stack of shape ``(slices, H, W)``; readers raise
:class:`csmri.errors.InputError` naming the file when it cannot be used.
"""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import numpy as np

from csmri.errors import InputError, UsageError
from csmri.extras import require

COLIN27_PATH = "/usr/share/mricron/templates/ch2.nii.gz"
"""Colin27 T1 volume from Debian's ``mricron-data`` (181 x 217 x 181, 1 mm, RAS)."""

SAMPLE_AXIAL_SLICES: tuple[int, ...] = tuple(range(64, 112, 4))
"""Axial indices of Colin27 embedded as the sample (never used to train the shipped U-Net)."""

MAX_IMAGE_PIXELS = 4096 * 4096
MAX_STACK_ELEMENTS = 2**30
IMAGE_SUFFIXES = (".npy", ".png", ".nii", ".nii.gz", ".h5")


def colin27_axial(volume: np.ndarray, indices: tuple[int, ...] | list[int]) -> np.ndarray:
    """Axial slices of a RAS volume, oriented for display (anterior up).

    Parameters
    ----------
    volume : ndarray, shape (X, Y, Z)
        Volume in RAS orientation.
    indices : sequence of int
        Axial (Z) indices.

    Returns
    -------
    ndarray, shape (len(indices), Y, X)
        Slices with rows running posterior-to-anterior flipped so anterior is row 0.
    """
    return np.stack([np.rot90(volume[:, :, z]) for z in indices])


def load_sample() -> np.ndarray:
    """The embedded real-anatomy sample: 12 axial Colin27 T1 slices.

    Returns
    -------
    ndarray of float32, shape (12, 217, 181)
        Magnitude images scaled to [0, 1].

    Notes
    -----
    Colin27 (MNI / Colin Holmes), from Debian's ``mricron-data``; rebuilt by
    ``scripts/make_sample.py``.
    """
    path = resources.files("csmri") / "sample" / "colin27_axial.npz"
    with resources.as_file(path) as file, np.load(file) as archive:
        images = archive["images"].astype(np.float32)
    return images / images.max()


def shepp_logan(size: int = 256) -> np.ndarray:
    """Analytic modified Shepp-Logan phantom (Toft's contrast), rasterised.

    Parameters
    ----------
    size : int
        Number of pixels along each side.

    Returns
    -------
    ndarray of float32, shape (size, size)
        Intensities in [0, 1].
    """
    # (intensity, semi-axis a, semi-axis b, centre x, centre y, angle in degrees)
    ellipses = (
        (1.0, 0.69, 0.92, 0.0, 0.0, 0),
        (-0.8, 0.6624, 0.874, 0.0, -0.0184, 0),
        (-0.2, 0.11, 0.31, 0.22, 0.0, -18),
        (-0.2, 0.16, 0.41, -0.22, 0.0, 18),
        (0.1, 0.21, 0.25, 0.0, 0.35, 0),
        (0.1, 0.046, 0.046, 0.0, 0.1, 0),
        (0.1, 0.046, 0.046, 0.0, -0.1, 0),
        (0.1, 0.046, 0.023, -0.08, -0.605, 0),
        (0.1, 0.023, 0.023, 0.0, -0.606, 0),
        (0.1, 0.023, 0.046, 0.06, -0.605, 0),
    )
    coords = (np.arange(size) - (size - 1) / 2) / (size / 2)
    x, y = np.meshgrid(coords, -coords)
    image = np.zeros((size, size))
    for value, a, b, cx, cy, angle in ellipses:
        theta = np.deg2rad(angle)
        xr = (x - cx) * np.cos(theta) + (y - cy) * np.sin(theta)
        yr = -(x - cx) * np.sin(theta) + (y - cy) * np.cos(theta)
        image[(xr / a) ** 2 + (yr / b) ** 2 <= 1] += value
    return np.clip(image, 0, None).astype(np.float32)


def parse_slices(text: str | None) -> slice | None:
    """Parse ``"A:B"`` (either end optional) or ``"N"`` into a slice; ``None`` keeps all.

    Parameters
    ----------
    text : str or None
        Slice selection as typed on the command line.

    Returns
    -------
    slice or None
        The selection.
    """
    if text is None or text == "":
        return None
    try:
        if ":" not in text:
            index = int(text)
            return slice(index, index + 1)
        start, stop = text.split(":", 1)
        return slice(int(start) if start else None, int(stop) if stop else None)
    except ValueError:
        raise UsageError(f"slice selection {text!r} is not of the form A:B or N") from None


def select_slices(stack: np.ndarray, selection: slice | None, path: object = None) -> np.ndarray:
    """Apply a slice selection to the first axis, refusing empty results.

    Parameters
    ----------
    stack : ndarray, shape (S, ...)
        Slices.
    selection : slice or None
        As returned by :func:`parse_slices`.
    path : path-like, optional
        File named in the error message.

    Returns
    -------
    ndarray
        The selected slices.
    """
    if selection is None:
        return stack
    start, stop, _ = selection.indices(stack.shape[0])
    if selection.start is not None and not -stack.shape[0] <= selection.start < stack.shape[0]:
        raise InputError(
            f"slice selection starts at {selection.start}, but there are {stack.shape[0]} slices",
            path,
        )
    chosen = stack[selection]
    if chosen.shape[0] == 0:
        raise InputError(f"slice selection {start}:{stop} is empty ({stack.shape[0]} slices)", path)
    return chosen


def _check_image_stack(images: np.ndarray, path: Path) -> np.ndarray:
    if not np.issubdtype(images.dtype, np.number) or images.dtype == np.bool_:
        raise InputError(f"image data of type {images.dtype} is not numeric", path)
    if images.ndim == 2:
        images = images[np.newaxis]
    if images.ndim != 3:
        raise InputError(
            f"expected a 2-D image or a stack (slices, H, W), got shape {images.shape}", path
        )
    if images.shape[0] == 0:
        raise InputError("image stack has no slices", path)
    if images.shape[-1] < 8 or images.shape[-2] < 8:
        raise InputError(
            f"image of {images.shape[-2]}x{images.shape[-1]} pixels is too small", path
        )
    if images.shape[-1] * images.shape[-2] > MAX_IMAGE_PIXELS:
        raise InputError(
            f"image of {images.shape[-2]}x{images.shape[-1]} pixels is too large", path
        )
    with np.errstate(all="ignore"):  # values beyond float32 become inf, refused below
        if np.iscomplexobj(images):
            images = np.abs(images)
        images = images.astype(np.float32)
    if not np.isfinite(images).all():
        raise InputError("image contains NaN or Inf", path)
    return images


def read_images(path: str | Path, axis: int = 2, slices: slice | None = None) -> np.ndarray:
    """Read magnitude images from ``.npy``, ``.png``, NIfTI or a fastMRI ``.h5`` target.

    Parameters
    ----------
    path : str or Path
        Image file.
    axis : int
        For NIfTI volumes: the axis slices are taken along (0, 1 or 2).
    slices : slice, optional
        Which slices to keep (after orientation); all by default.

    Returns
    -------
    ndarray of float32, shape (S, H, W)
        Images; complex input is reduced to its magnitude.
    """
    from csmri.io import read_acquisition
    from csmri.io.checks import check_npy, require_file

    path = require_file(path, "an image file")
    name = path.name.lower()
    with warnings.catch_warnings():  # one line per problem: no library warnings on stderr
        warnings.simplefilter("ignore")
        if name.endswith(".npy"):
            check_npy(path, MAX_STACK_ELEMENTS)
            try:
                images = np.load(path, allow_pickle=False)
            except MemoryError:  # a legitimate file too big for this machine
                raise
            except Exception as error:  # numpy.lib.format raises many types
                raise InputError(f"not a readable .npy file ({error})", path) from None
        elif name.endswith(".png"):
            images = _read_png(path)
        elif name.endswith((".nii", ".nii.gz")):
            images = _read_nifti(path, axis)
        elif name.endswith(".h5"):
            data = read_acquisition(path)
            if data.reference is None:
                raise InputError("has no reconstruction_esc/reconstruction_rss target", path)
            images = data.reference
        else:
            raise InputError(
                f"unknown image format; expected one of {', '.join(IMAGE_SUFFIXES)}", path
            )
        images = _check_image_stack(np.asarray(images), path)
    return select_slices(images, slices, path)


def _read_png(path: Path) -> np.ndarray:
    Image = require("PIL.Image", "images", "reading PNG images")

    try:
        with Image.open(path, formats=["PNG"]) as image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise InputError(f"image of {image.height}x{image.width} pixels is too large", path)
            return np.asarray(image.convert("F"))
    except InputError:
        raise
    except MemoryError:  # a legitimate file too big for this machine
        raise
    except Exception as error:  # Pillow raises many types (and decompression bombs) on bad files
        raise InputError(f"not a readable PNG file ({error})", path) from None


def _read_nifti(path: Path, axis: int) -> np.ndarray:
    nib = require("nibabel", "images", "reading NIfTI volumes")

    if axis not in (0, 1, 2):
        raise InputError(f"slice axis must be 0, 1 or 2, got {axis}", path)
    try:
        image = nib.load(path)
        if len(image.shape) < 3:
            raise InputError(f"expected a 3-D volume, got shape {image.shape}", path)
        if 0 in image.shape:
            raise InputError(f"volume of shape {image.shape} is empty", path)
        if np.prod(image.shape, dtype=np.float64) > MAX_STACK_ELEMENTS:
            raise InputError(f"volume of shape {image.shape} is too large", path)
        with np.errstate(all="ignore"):
            volume = np.asanyarray(image.dataobj)
            if np.iscomplexobj(volume):
                volume = np.abs(volume)
            volume = np.asarray(volume, dtype=np.float32)
    except InputError:
        raise
    except MemoryError:  # a legitimate file too big for this machine
        raise
    except Exception as error:  # nibabel raises many types for corrupt files
        raise InputError(f"not a readable NIfTI file ({error})", path) from None
    while volume.ndim > 3:
        volume = volume[..., 0]
    volume = np.moveaxis(volume, axis, 0)
    return np.rot90(volume, axes=(1, 2)).copy()
