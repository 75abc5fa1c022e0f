"""Training slices from NIfTI volumes, image folders and fastMRI files, and their simulation.

Every training example is made on the fly from a clean magnitude slice with the
:func:`csmri.mri.simulate.simulate` semantics: complex image with a smooth random phase ->
``fft2c`` -> complex Gaussian noise (relative to the slice maximum) -> column mask ->
zero-filled image.  Masks are fastMRI random masks drawn fresh for every example
(seeded by ``(seed, epoch, index)``); validation examples use one fixed mask per slice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np

from csmri.errors import InputError
from csmri.io import is_kspace_file
from csmri.io.images import COLIN27_PATH, SAMPLE_AXIAL_SLICES, read_images
from csmri.mri.fft import fft2c, ifft2c
from csmri.mri.masks import make_mask
from csmri.mri.simulate import smooth_phase
from learned.data.manifest import subject_of
from learned.data.raw import kspace_images
from learned.data.synth import MNI152_NAME, MNI152_SUBJECT, Synthesizer, mni152_path

NIFTI_SUFFIXES = (".nii", ".nii.gz")
IMAGE_SUFFIXES = (".png", ".npy", ".h5", *NIFTI_SUFFIXES)
COLIN27_EXCLUDE_MARGIN = 8
"""Axial slices within this margin of the sample's (64..108) are never trained on."""


@dataclass
class Source:
    """One data path and how to slice it.

    Attributes
    ----------
    path : Path
        A NIfTI volume, an image file (.png/.npy/.h5) or a folder of them.
    axes : tuple of int
        For NIfTI: the array axes slices are taken along.
    exclude : dict
        ``{axis: (first, last)}``: inclusive voxel-index ranges of NIfTI slices to skip.
    subject : str or None
        Subject identity of every file of this source (None: from each file's name, see
        :func:`learned.data.manifest.subject_of`).
    """

    path: Path
    axes: tuple[int, ...] = (0, 1, 2)
    exclude: dict[int, tuple[int, int]] = field(default_factory=dict)
    subject: str | None = None


def parse_source(text: str | Path) -> Source:
    """Parse ``PATH`` or ``PATH?axes=2&exclude=2:56-116&subject=S`` (several ``exclude``).

    ``mni152`` as the path names nilearn's MNI152 2009a T1 template (subject
    ``mni152-2009a-sym``).

    Parameters
    ----------
    text : str or Path
        Path with optional query: ``axes`` (comma-separated array axes of a NIfTI volume),
        ``exclude`` (``AXIS:FIRST-LAST``, inclusive voxel indices) and ``subject``.

    Returns
    -------
    Source
        The parsed source.
    """
    text = str(text)
    path, _, query = text.partition("?")
    source = Source(Path(path))
    if path == MNI152_NAME:
        source = Source(mni152_path("t1"), subject=MNI152_SUBJECT)
    try:
        options = parse_qs(query, strict_parsing=bool(query))
        if "axes" in options:
            source.axes = tuple(int(a) for a in options["axes"][-1].split(","))
        for item in options.get("exclude", []):
            axis, _, span = item.partition(":")
            first, _, last = span.partition("-")
            source.exclude[int(axis)] = (int(first), int(last or first))
        if "subject" in options:
            source.subject = options["subject"][-1]
        unknown = set(options) - {"axes", "exclude", "subject"}
    except ValueError:
        raise InputError(
            f"bad data option {query!r}; expected axes=0,1,2&exclude=AXIS:FIRST-LAST", path
        ) from None
    if unknown:
        raise InputError(f"unknown data option(s) {', '.join(sorted(unknown))}", path)
    if any(a not in (0, 1, 2) for a in source.axes):
        raise InputError(f"axes must be among 0, 1, 2, got {source.axes}", path)
    return source


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Parameters
    ----------
    path : str or Path
        File.

    Returns
    -------
    str
        Digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_colin27(path: Path) -> bool:
    """Whether a file is the Colin27 volume the evaluation sample was cut from.

    Parameters
    ----------
    path : Path
        A NIfTI file.

    Returns
    -------
    bool
        True for a byte-identical copy of ``COLIN27_PATH`` or a file named ``ch2.nii[.gz]``.
    """
    if path.name.lower() in ("ch2.nii", "ch2.nii.gz"):
        return True
    reference = Path(COLIN27_PATH)
    if reference.is_file() and path.is_file() and path.stat().st_size == reference.stat().st_size:
        return sha256_file(path) == sha256_file(reference)
    return False


def colin27_policy(source: Source) -> Source:
    """Restrict a Colin27 source so that nothing of the evaluation sample is trained on.

    Sagittal and coronal Colin27 slices cut through the sample's axial slices (they
    contain the very same voxels), so only axial slices (axis 2) are kept, and those
    within ``COLIN27_EXCLUDE_MARGIN`` of the sample (z in 56..116) are excluded.

    Parameters
    ----------
    source : Source
        A Colin27 source.

    Returns
    -------
    Source
        The restricted source.
    """
    first = min(SAMPLE_AXIAL_SLICES) - COLIN27_EXCLUDE_MARGIN
    last = max(SAMPLE_AXIAL_SLICES) + COLIN27_EXCLUDE_MARGIN
    exclude = dict(source.exclude)
    lo, hi = exclude.get(2, (first, last))
    exclude[2] = (min(lo, first), max(hi, last))
    return Source(source.path, axes=(2,), exclude=exclude, subject=source.subject)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith(IMAGE_SUFFIXES))
        if not files:
            raise InputError(f"folder holds no {', '.join(IMAGE_SUFFIXES)} files", path)
        return files
    if not path.exists():
        raise InputError("no such file or folder", path)
    return [path]


def _foreground_fraction(image: np.ndarray, level: float) -> float:
    return float((image > level).mean())


@dataclass
class SliceSet:
    """Clean magnitude slices (variable sizes) and where they came from.

    Attributes
    ----------
    images : list of ndarray of float32 or complex64, shape (H, W)
        Slices, each volume/file scaled so its maximum magnitude is 1; complex where they
        come from raw k-space (:mod:`learned.data.raw`).
    origins : list of str
        ``"file:axis:index"`` per slice.
    fingerprint : dict
        ``{file: sha256}`` of every input file.
    subjects : list of str
        Subject of every slice.
    files : dict
        ``{file: subject}`` of every input file.
    """

    images: list[np.ndarray] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    fingerprint: dict[str, str] = field(default_factory=dict)
    subjects: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


def load_slices(
    sources: list[str | Path | Source],
    exclude_sample: bool = True,
    min_foreground: float = 0.08,
    max_size: int = 512,
) -> SliceSet:
    """Read every training slice.

    Parameters
    ----------
    sources : list of str, Path or Source
        Data paths (see :func:`parse_source` for options).
    exclude_sample : bool
        Apply :func:`colin27_policy` to Colin27 volumes.
    min_foreground : float
        Skip slices whose fraction of pixels above 10 % of the volume maximum is lower.
    max_size : int
        Refuse slices with a side longer than this.

    Returns
    -------
    SliceSet
        The slices.
    """
    result = SliceSet()
    for item in sources:
        source = item if isinstance(item, Source) else parse_source(item)
        for file in _files(source.path):
            result.fingerprint[str(file)] = sha256_file(file)
            subject = source.subject or subject_of(file.name)
            result.files[str(file)] = subject
            name = file.name.lower()
            if name.endswith(NIFTI_SUFFIXES):
                spec = Source(file, source.axes, source.exclude, subject)
                if exclude_sample and is_colin27(file):
                    spec = colin27_policy(spec)
                stacks = [(axis, read_images(file, axis=axis)) for axis in spec.axes]
            elif is_kspace_file(file) and file.suffix.lower() == ".h5":  # raw: complex slices
                spec = Source(file, (0,), {})
                stacks = [(0, kspace_images(file)[0])]
            else:
                spec = Source(file, (0,), {})
                stacks = [(0, read_images(file))]
            peak = max(float(np.abs(stack).max()) for _, stack in stacks)
            if peak <= 0:
                raise InputError("all images are zero", file)
            for axis, stack in stacks:
                first, last = spec.exclude.get(axis, (1, 0))
                for index, image in enumerate(stack):
                    if first <= index <= last:
                        continue
                    if max(image.shape) > max_size:
                        raise InputError(f"slice of {image.shape} is larger than {max_size}", file)
                    if _foreground_fraction(np.abs(image), 0.1 * peak) < min_foreground:
                        continue
                    dtype = np.complex64 if np.iscomplexobj(image) else np.float32
                    result.images.append(np.ascontiguousarray(image / peak, dtype=dtype))
                    result.origins.append(f"{file}:{axis}:{index}")
                    result.subjects.append(subject)
    if not result.images:
        raise InputError("no usable (non-empty) training slices in the data")
    return result


@dataclass
class SimulationConfig:
    """How inputs are simulated from clean slices.

    Attributes
    ----------
    accelerations, center_fractions : tuple of float
        Paired mask settings; one pair is drawn per example.
    noise : float
        Mean relative k-space noise level; training draws uniformly in ``[0, 2 * noise]``.
    phase : bool
        Multiply by a smooth random phase.
    """

    accelerations: tuple[float, ...] = (4.0, 8.0)
    center_fractions: tuple[float, ...] = (0.08, 0.04)
    noise: float = 0.005
    phase: bool = True


def simulate_one(
    image: np.ndarray,
    rng: np.random.Generator,
    acceleration: float,
    center_fraction: float,
    noise: float,
    phase: bool,
    mask_seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate one slice: complex zero-filled image, masked k-space and mask.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Clean magnitude, or a complex image from raw k-space (which keeps its own phase).
    rng : numpy.random.Generator
        Source of the phase and noise.
    acceleration, center_fraction : float
        Mask parameters.
    noise : float
        Relative noise level (``csmri.mri.simulate`` semantics, relative to the slice max).
    phase : bool
        Apply a smooth random phase.
    mask_seed : int
        Seed of the fastMRI random mask.

    Returns
    -------
    zero_filled : ndarray of complex64, shape (H, W)
    kspace : ndarray of complex64, shape (H, W)
    mask : ndarray of bool, shape (W,)
    """
    mask = make_mask("random", image.shape[-1], center_fraction, acceleration, mask_seed).mask
    complex_image = image.astype(np.complex64)
    if phase and not np.iscomplexobj(image):  # a measured image keeps its measured phase
        complex_image = complex_image * np.exp(1j * smooth_phase(image.shape, rng))
    kspace = fft2c(complex_image)
    if noise > 0:
        sigma = noise * float(np.abs(image).max()) / np.sqrt(2)
        kspace = kspace + sigma * (
            rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape)
        )
    kspace = (kspace * mask).astype(np.complex64)
    return ifft2c(kspace).astype(np.complex64), kspace, mask


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random flips, 90-degree rotation and intensity scaling (0.5x to 2x).

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Clean slice.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray of float32 (complex64 for a complex slice)
        Augmented slice.
    """
    if rng.random() < 0.5:
        image = image[::-1]
    if rng.random() < 0.5:
        image = image[:, ::-1]
    image = np.rot90(image, int(rng.integers(4)))
    dtype = np.complex64 if np.iscomplexobj(image) else np.float32
    return np.ascontiguousarray(image * np.exp(rng.uniform(np.log(0.5), np.log(2.0))), dtype)


def crop_or_pad(arrays: list[np.ndarray], size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Cut the same random ``size x size`` window from each array (zero-padding if small).

    Parameters
    ----------
    arrays : list of ndarray, shape (H, W)
        Arrays of equal shape.
    size : int
        Patch side.
    rng : numpy.random.Generator
        Random source of the window position.

    Returns
    -------
    list of ndarray, shape (size, size)
        Patches.
    """
    h, w = arrays[0].shape
    ph, pw = max(size - h, 0), max(size - w, 0)
    if ph or pw:
        pads = ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2))
        arrays = [np.pad(a, pads) for a in arrays]
        h, w = arrays[0].shape
    top = int(rng.integers(h - size + 1))
    left = int(rng.integers(w - size + 1))
    return [a[top : top + size, left : left + size] for a in arrays]


def draw_example(
    images: list[np.ndarray],
    index: int,
    seeds: tuple[int, ...],
    synth: Synthesizer | None = None,
    synth_fraction: float = 0.0,
) -> tuple[np.ndarray, np.random.Generator]:
    """One augmented training image and the random stream that drew it.

    Parameters
    ----------
    images : list of ndarray
        Clean slices.
    index : int
        Slice taken when the example is not synthesised.
    seeds : tuple of int
        Seed of the example's stream, ``(seed, epoch, step, position in the global batch)``
        (so a data-parallel shard draws the examples the whole batch would).
    synth : Synthesizer, optional
        Domain randomisation.
    synth_fraction : float
        Probability that the example is synthesised instead of taken from ``images``.

    Returns
    -------
    image : ndarray
        The augmented slice.
    rng : numpy.random.Generator
        The example's stream, for its simulation.
    """
    rng = np.random.default_rng(list(seeds))
    use_synth = synth is not None and rng.random() < synth_fraction
    return augment(synth.draw(rng) if use_synth else images[index], rng), rng


def training_batch(
    images: list[np.ndarray],
    indices: np.ndarray,
    sim: SimulationConfig,
    patch: int,
    seed: int,
    epoch: int,
    step: int,
    synth: Synthesizer | None = None,
    synth_fraction: float = 0.0,
    *,
    first: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A freshly simulated, augmented training batch.

    The full slice is simulated (so aliasing wraps over the real field of view) and a
    ``patch x patch`` window of the zero-filled image and target is cut from it.

    Parameters
    ----------
    images : list of ndarray
        Clean slices.
    indices : ndarray of int
        Slices in this batch.
    sim : SimulationConfig
        Simulation settings.
    patch : int
        Patch side (0: use the full slices; they must then share one shape).
    seed, epoch, step : int
        Seed the example's random stream as ``(seed, epoch, step, first + i)``.
    synth : Synthesizer, optional
        Domain randomisation (:mod:`learned.data.synth`).
    synth_fraction : float
        Probability that an example is synthesised instead of taken from ``images``.
    first : int
        Position of ``indices[0]`` in the global batch (a shard of a data-parallel
        batch draws the same examples as the whole batch would).

    Returns
    -------
    inputs : ndarray of float32, shape (B, 2, P, P)
        Zero-filled real/imag.
    targets : ndarray of float32, shape (B, P, P)
        Clean magnitudes.
    """
    inputs, targets = [], []
    for i, index in enumerate(indices):
        image, rng = draw_example(
            images, index, (seed, epoch, step, first + i), synth, synth_fraction
        )
        which = int(rng.integers(len(sim.accelerations)))
        noise = float(rng.uniform(0, 2 * sim.noise))
        zero_filled, _, _ = simulate_one(
            image,
            rng,
            sim.accelerations[which],
            sim.center_fractions[which],
            noise,
            sim.phase,
            int(rng.integers(2**31)),
        )
        parts = [zero_filled.real, zero_filled.imag, np.abs(image)]
        if patch:
            parts = crop_or_pad(parts, patch, rng)
        inputs.append(np.stack(parts[:2]))
        targets.append(parts[2])
    return np.stack(inputs).astype(np.float32), np.stack(targets).astype(np.float32)


@dataclass
class ValidationItem:
    """A fixed validation example (full slice, fixed mask, phase and noise)."""

    kspace: np.ndarray
    mask: np.ndarray
    target: np.ndarray
    acceleration: float
    maps: np.ndarray | None = None


def validation_items(
    images: list[np.ndarray], sim: SimulationConfig, seed: int
) -> list[ValidationItem]:
    """Fixed validation examples; accelerations cycle through ``sim.accelerations``.

    Parameters
    ----------
    images : list of ndarray
        Clean validation slices.
    sim : SimulationConfig
        Simulation settings (``noise`` is used as is).
    seed : int
        Base seed; slice ``i`` uses ``seed + 1000003 * (i + 1)``.

    Returns
    -------
    list of ValidationItem
        One per slice.
    """
    items = []
    for i, image in enumerate(images):
        which = i % len(sim.accelerations)
        item_seed = seed + 1000003 * (i + 1)
        rng = np.random.default_rng(item_seed)
        _, kspace, mask = simulate_one(
            image,
            rng,
            sim.accelerations[which],
            sim.center_fractions[which],
            sim.noise,
            sim.phase,
            item_seed % 2**31,
        )
        items.append(ValidationItem(kspace, mask, np.abs(image), sim.accelerations[which]))
    return items
