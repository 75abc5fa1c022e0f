"""SynthSeg-style domain randomisation: brain slices synthesised from tissue probability maps.

After Billot et al. (2023, "SynthSeg", Medical Image Analysis 86:102789), re-implemented in
2-D for reconstruction training.  Each draw takes a slice of the MNI152 tissue maps (CSF,
grey matter, white matter, and the non-brain head tissue of the T1 template), then:

1. a random affine map (scale, rotation, shear) and a random smooth elastic deformation;
2. a synthetic head around the (skull-stripped) template brain: extra-cerebral CSF, skull
   and scalp shells of random thickness, placed with the distance to the brain envelope;
3. random mean intensities per tissue, from a T1-, T2-, PD-like or unconstrained contrast,
   each tissue with its own smooth intensity texture;
4. a random resolution (Gaussian blur along a random direction, as for thick slices);
5. a random smooth multiplicative bias field and a random gamma;

and returns a magnitude slice scaled to a maximum of 1.  Noise and a random smooth phase
are added afterwards by the k-space simulation (:func:`learned.data.dataset.simulate_one`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from csmri.errors import InputError
from csmri.extras import require

MNI152_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}
"""The MNI152 2009a symmetric template files that ship inside the nilearn wheel."""

MNI152_NAME = "mni152"
"""The ``--data`` name of the real MNI152 T1 template (subject ``mni152-2009a-sym``)."""

MNI152_SUBJECT = "mni152-2009a-sym"

CONTRASTS: dict[str, tuple[tuple[float, float], ...]] = {
    # (CSF, GM, WM) mean-intensity ranges
    "t1": ((0.03, 0.3), (0.35, 0.6), (0.65, 1.0)),
    "t2": ((0.75, 1.0), (0.45, 0.7), (0.25, 0.45)),
    "pd": ((0.55, 0.9), (0.7, 1.0), (0.5, 0.72)),
    "random": ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)),
}

SYNTH_AUGMENTATIONS = {
    "method": "SynthSeg-style domain randomisation (Billot et al. 2023), 2-D slices",
    "tissues": "CSF (brain envelope minus GM and WM), GM, WM; synthetic head shells",
    "head": "outer CSF U(1, 4) px, skull U(2, 7) px (dark), scalp U(2, 8) px (bright)",
    "contrast": "T1-, T2-, PD-like or unconstrained per-tissue means, each p = 0.25",
    "tissue_texture": "smooth multiplicative field per tissue, amplitude U(0, 0.15)",
    "affine": "scale U(0.85, 1.15), rotation U(-15, 15) deg, shear U(-0.08, 0.08)",
    "elastic": "4x4 to 8x8 control grid, displacement sd U(0, 4) px, cubic upsampling",
    "resolution": "p = 0.5: Gaussian blur along a random direction, sigma U(0.5, 2.5) px",
    "bias_field": "exp of a smooth 4x4 field, sd U(0, 0.3)",
    "gamma": "exp(N(0, 0.25))",
}


def mni152_dir() -> Path:
    """Folder of the MNI152 files inside the installed nilearn package (not imported).

    Returns
    -------
    Path
        ``.../nilearn/datasets/data``.

    Raises
    ------
    InputError
        When nilearn is not installed (``pip install nilearn``).
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("MNI152 needs the nilearn package (pip install nilearn)", "mni152")
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    missing = [name for name in MNI152_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise InputError(f"nilearn lacks {missing[0]}", folder)
    return folder


def mni152_path(kind: str = "t1") -> Path:
    """Path of one MNI152 volume (``t1``, ``gm`` or ``wm``).

    Parameters
    ----------
    kind : {"t1", "gm", "wm"}
        Which volume.

    Returns
    -------
    Path
        The NIfTI file.
    """
    return mni152_dir() / MNI152_FILES[kind]


def smooth_field(shape: tuple[int, int], grid: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean unit-sd random field, smooth on the scale ``shape / grid``."""
    coarse = rng.standard_normal((grid, grid))
    field = ndimage.zoom(coarse, (shape[0] / grid, shape[1] / grid), order=3, mode="nearest")
    field = field[: shape[0], : shape[1]]
    if field.shape != shape:  # zoom rounding
        field = np.pad(field, [(0, s - f) for s, f in zip(shape, field.shape, strict=True)],
                       mode="edge")
    return field


@dataclass
class TissueMaps:
    """3-D tissue maps of one subject: ``(4, X, Y, Z)`` CSF, GM, WM, distance to the brain.

    Attributes
    ----------
    maps : ndarray of float16, shape (4, X, Y, Z)
        CSF, GM, WM probabilities and the distance (voxels, capped at 40) outside the brain
        envelope, from which :func:`render` places skull and scalp shells.
    slices : list of tuple of int
        ``(axis, index)`` of slices with enough brain to synthesise from.
    """

    maps: np.ndarray
    slices: list[tuple[int, int]]

    @classmethod
    def from_mni152(cls, exclude: set[tuple[int, int]] | None = None) -> TissueMaps:
        """Build the maps from nilearn's MNI152 T1, GM and WM volumes.

        CSF is the smoothed, closed and hole-filled brain envelope minus GM and WM (the
        template is skull-stripped: the head is synthesised by :func:`render`).

        Parameters
        ----------
        exclude : set of (axis, index), optional
            Slices never to synthesise from (those held out for validation).

        Returns
        -------
        TissueMaps
            The maps.
        """
        nib = require("nibabel", "images", "the MNI152 training volumes")

        volumes = {k: np.asarray(nib.load(mni152_path(k)).dataobj, np.float32) / 255.0
                   for k in MNI152_FILES}
        gm, wm = volumes["gm"], volumes["wm"]
        brain = ndimage.binary_closing(gm + wm > 0.3, iterations=3)
        brain = ndimage.binary_fill_holes(ndimage.binary_dilation(brain, iterations=1))
        envelope = ndimage.gaussian_filter(brain.astype(np.float32), 1.0)
        csf = np.clip(envelope - gm - wm, 0, 1)
        distance = np.minimum(ndimage.distance_transform_edt(envelope < 0.5), 40)
        maps = np.stack([csf, gm, wm, distance]).astype(np.float16)
        exclude = exclude or set()
        slices = []
        for axis in range(3):
            amount = (gm + wm).sum(axis=tuple(a for a in range(3) if a != axis))
            for index in np.flatnonzero(amount > 0.15 * amount.max()):
                if (axis, int(index)) not in exclude:
                    slices.append((axis, int(index)))
        return cls(maps, slices)

    def slice(self, axis: int, index: int) -> np.ndarray:
        """One ``(4, H, W)`` float32 slice, rotated like :func:`csmri.io.images.colin27_axial`."""
        taken = np.take(self.maps, index, axis=axis + 1).astype(np.float32)
        return np.ascontiguousarray(np.rot90(taken, axes=(1, 2)))


def deform(maps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random affine and smooth elastic deformation of ``(C, H, W)`` maps (linear interp.).

    Parameters
    ----------
    maps : ndarray, shape (C, H, W)
        Channels deformed together.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray, shape (C, H, W)
        Deformed maps (zero outside).
    """
    _, h, w = maps.shape
    angle = np.deg2rad(rng.uniform(-15, 15))
    scale = rng.uniform(0.85, 1.15, size=2)
    shear = rng.uniform(-0.08, 0.08)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag(1 / scale)
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32) - h / 2,
                         np.arange(w, dtype=np.float32) - w / 2, indexing="ij")
    coords = np.einsum("ij,jhw->ihw", matrix, np.stack([yy, xx]))
    grid = int(rng.integers(4, 9))
    sd = rng.uniform(0, 4)
    coords[0] += h / 2 + sd * smooth_field((h, w), grid, rng)
    coords[1] += w / 2 + sd * smooth_field((h, w), grid, rng)
    fill = [0.0] * (len(maps) - 1) + [40.0]  # outside the field: far from the brain
    return np.stack([ndimage.map_coordinates(m, coords, order=1, mode="constant", cval=c)
                     for m, c in zip(maps, fill, strict=True)])


def _shell(distance: np.ndarray, inner: float, outer: float) -> np.ndarray:
    """Soft indicator of ``inner < distance <= outer`` (one-voxel linear edges)."""
    return np.clip(distance - inner + 0.5, 0, 1) * np.clip(outer - distance + 0.5, 0, 1)


def render(maps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random-contrast magnitude image from ``(4, H, W)`` CSF/GM/WM/distance maps.

    Parameters
    ----------
    maps : ndarray, shape (4, H, W)
        Tissue maps (see :class:`TissueMaps`).
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray of float32, shape (H, W)
        Image with maximum 1 (all zero only if the maps are).
    """
    shape = maps.shape[1:]
    contrast = list(CONTRASTS)[int(rng.integers(len(CONTRASTS)))]
    image = np.zeros(shape, np.float32)
    for k, (lo, hi) in enumerate(CONTRASTS[contrast]):
        texture = 1 + rng.uniform(0, 0.15) * smooth_field(shape, int(rng.integers(4, 16)), rng)
        image += maps[k] * rng.uniform(lo, hi) * texture
    distance = maps[3]
    csf_out = rng.uniform(1, 4)
    skull = csf_out + rng.uniform(2, 7)
    scalp = skull + rng.uniform(2, 8)
    csf_mean = rng.uniform(*CONTRASTS[contrast][0])
    image += _shell(distance, 0.5, csf_out) * csf_mean
    image += _shell(distance, csf_out, skull) * rng.uniform(0.0, 0.15)
    texture = 1 + rng.uniform(0, 0.2) * smooth_field(shape, int(rng.integers(8, 24)), rng)
    image += _shell(distance, skull, scalp) * rng.uniform(0.3, 1.0) * texture
    if rng.random() < 0.5:  # thick-slice / low resolution along a random direction
        sigma = rng.uniform(0.5, 2.5)
        angle = rng.uniform(0, 180)
        rotated = ndimage.rotate(image, angle, reshape=False, order=1)
        rotated = ndimage.gaussian_filter1d(rotated, sigma, axis=0)
        image = ndimage.rotate(rotated, -angle, reshape=False, order=1)
    image = np.clip(image, 0, None) * np.exp(rng.uniform(0, 0.3) * smooth_field(shape, 4, rng))
    peak = float(image.max())
    if peak <= 0:
        return image.astype(np.float32)
    image = (image / peak) ** np.exp(rng.normal(0, 0.25))
    return (image / image.max()).astype(np.float32)


class Synthesizer:
    """Draw randomised brain slices from tissue maps.

    Parameters
    ----------
    tissues : TissueMaps
        The subject's maps.
    """

    def __init__(self, tissues: TissueMaps) -> None:
        if not tissues.slices:
            raise ValueError("no slices to synthesise from")
        self.tissues = tissues

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One synthetic slice.

        Parameters
        ----------
        rng : numpy.random.Generator
            Random source (every choice is drawn from it).

        Returns
        -------
        ndarray of float32, shape (H, W)
            Magnitude image, maximum 1.
        """
        axis, index = self.tissues.slices[int(rng.integers(len(self.tissues.slices)))]
        return render(deform(self.tissues.slice(axis, index), rng), rng)
