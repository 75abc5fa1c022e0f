"""Training manifests: what a model trained on, the subject split, and the leak check.

Every model file records a manifest in its metadata (key ``"manifest"``): the sources
(subject, file name, sha256 of each volume, slice ranges used for training and for
validation), the augmentations, and a content hash of every slice read.  A model without
a well-formed manifest is refused (:func:`check_manifest`).  A scored slice whose hash, in
any of its eight flips/90-degree rotations, is in the manifest was seen in training
(:func:`leaked_slices`): ``csmri compare`` and ``csmri solve`` warn and mark it.

New manifests record the csmri version that trained the model (``csmri_version``); loading
a model trained by a newer csmri warns (:class:`NewerModelWarning`, :func:`check_trained_by`).
Models saved before the field existed load without it.

Slice hash: the magnitude divided by its maximum, rounded to 8 bits, SHA-256 of shape and
bytes, first 16 hex digits.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

from csmri.errors import InputError, UsageError

MANIFEST_FORMAT = "csmri-training-manifest"
MANIFEST_VERSION = 1
_SOURCE_KEYS = ("subject", "file", "sha256", "train_slices", "val_slices")


class NewerModelWarning(UserWarning):
    """A model was trained by a newer csmri than the one loading it."""


def slice_hash(image: np.ndarray) -> str:
    """Content hash of a magnitude slice, normalised to its maximum and 8 bits.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Real or complex slice (its magnitude is hashed).

    Returns
    -------
    str
        16 hex digits.
    """
    magnitude = np.abs(np.asarray(image, dtype=np.complex128 if np.iscomplexobj(image)
                                  else np.float64))
    peak = float(magnitude.max()) if magnitude.size else 0.0
    scaled = magnitude / peak if peak > 0 else magnitude
    quantised = np.ascontiguousarray(np.rint(scaled * 255).astype(np.uint8))
    digest = hashlib.sha256(np.asarray(quantised.shape, np.int64).tobytes())
    digest.update(quantised.tobytes())
    return digest.hexdigest()[:16]


def orientation_hashes(image: np.ndarray) -> set[str]:
    """Hashes of a slice under all 8 flips and 90-degree rotations.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Slice.

    Returns
    -------
    set of str
        The hashes.
    """
    image = np.asarray(image)
    variants = [np.rot90(image, k) for k in range(4)]
    variants += [np.flipud(v) for v in variants]
    return {slice_hash(v) for v in variants}


def index_ranges(indices: Iterable[int]) -> list[list[int]]:
    """Inclusive ``[first, last]`` runs of sorted unique indices.

    Parameters
    ----------
    indices : iterable of int
        Indices.

    Returns
    -------
    list of [int, int]
        Runs.
    """
    runs: list[list[int]] = []
    for index in sorted(set(int(i) for i in indices)):
        if runs and index == runs[-1][1] + 1:
            runs[-1][1] = index
        else:
            runs.append([index, index])
    return runs


def subject_of(name: str) -> str:
    """Default subject of a file: its name up to the first ``_`` (BIDS ``sub-01_T1w``).

    Parameters
    ----------
    name : str
        File name.

    Returns
    -------
    str
        Subject identity (the whole stem when there is no ``_``).
    """
    stem = name
    for suffix in (".nii.gz", ".nii", ".h5", ".png", ".npy"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return stem.split("_", 1)[0] or stem


def split_subjects(
    subjects: Sequence[str], val_fraction: float, seed: int,
    val_subjects: Sequence[str] = (),
) -> tuple[set[str], set[str]]:
    """Split subjects (never slices) into training and validation sets.

    Parameters
    ----------
    subjects : sequence of str
        Subject of every slice (repeats allowed).
    val_fraction : float
        Fraction of subjects held out (rounded; at least one when there are two or more
        subjects and ``val_fraction > 0``; never all).
    seed : int
        Seeds the choice.
    val_subjects : sequence of str
        Subjects forced into validation (these replace the random choice).

    Returns
    -------
    train, val : set of str
        Disjoint subject sets; ``val`` is empty for a single subject.

    Raises
    ------
    UsageError
        When every subject would be in validation, or a named subject is unknown.
    """
    unique = sorted(set(subjects))
    if val_subjects:
        unknown = sorted(set(val_subjects) - set(unique))
        if unknown:
            raise UsageError(f"validation subject {unknown[0]!r} is not in the training data "
                             f"(subjects: {', '.join(unique[:8])})")
        val = set(val_subjects)
    else:
        n_val = min(round(val_fraction * len(unique)), len(unique) - 1)
        if val_fraction > 0 and len(unique) > 1:
            n_val = max(n_val, 1)
        order = np.random.default_rng(seed).permutation(len(unique))
        val = {unique[i] for i in order[:n_val]}
    train = set(unique) - val
    if not train:
        raise UsageError(
            f"all {len(unique)} training subject(s) fall in the validation split; "
            "give data from more subjects or fewer validation subjects"
        )
    return train, val


def build_manifest(
    sources: list[dict], augmentations: dict, hashes: Iterable[str], split: str,
    synthetic: dict | None = None,
) -> dict:
    """Assemble a manifest.

    Parameters
    ----------
    sources : list of dict
        One per volume/file: ``subject``, ``file``, ``sha256``, ``train_slices`` and
        ``val_slices`` (``{axis: [[first, last], ...]}``), optional ``source``.
    augmentations : dict
        Augmentations and simulation settings.
    hashes : iterable of str
        :func:`slice_hash` of every slice read (training and validation).
    split : str
        How training and validation were separated.
    synthetic : dict, optional
        Domain-randomisation settings and the volumes they were drawn from.

    Returns
    -------
    dict
        The manifest (JSON-ready).
    """
    from csmri import __version__

    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "csmri_version": __version__,
        "sources": sources,
        "split": split,
        "augmentations": augmentations,
        "synthetic": synthetic,
        "slice_hashes": sorted(set(hashes)),
    }


def check_manifest(metadata: dict, path: object) -> dict:
    """The manifest of a model's metadata, or a one-line :class:`InputError`.

    Parameters
    ----------
    metadata : dict
        Model metadata.
    path : object
        The model file (for the message).

    Returns
    -------
    dict
        The manifest.
    """
    manifest = metadata.get("manifest") if isinstance(metadata, dict) else None
    if manifest is None:
        raise InputError("has no training manifest; refusing a model of unknown provenance "
                         "(retrain it with csmri train)", path)
    problem = _manifest_problem(manifest)
    if problem:
        raise InputError(f"has a malformed training manifest ({problem})", path)
    return manifest


def _release(version: str) -> tuple[int, ...] | None:
    """``"0.2.0"`` -> ``(0, 2, 0)``; the leading release numbers, None when there are none."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in match.group(1).split(".")) if match else None


def check_trained_by(manifest: dict, path: object, running: str | None = None) -> None:
    """Warn (one line) when a model's manifest names a newer csmri than the running one.

    Parameters
    ----------
    manifest : dict
        A manifest that passed :func:`check_manifest`.
    path : object
        The model file (for the message).
    running : str, optional
        The running csmri version (default: ``csmri.__version__``).

    Warns
    -----
    NewerModelWarning
        When ``manifest["csmri_version"]`` is a later release.  Manifests without the
        field (models saved by csmri 0.1) and unparsable versions pass silently.
    """
    if running is None:
        from csmri import __version__ as running
    trained = manifest.get("csmri_version")
    if not isinstance(trained, str):
        return
    newer, older = _release(trained), _release(running)
    if newer is None or older is None:
        return
    width = max(len(newer), len(older))
    if newer + (0,) * (width - len(newer)) > older + (0,) * (width - len(older)):
        warnings.warn(f"{path}: trained by csmri {trained}, newer than this csmri {running}; "
                      "upgrade csmri if loading or results look wrong",
                      NewerModelWarning, stacklevel=3)


def _manifest_problem(manifest: object) -> str | None:
    if not isinstance(manifest, dict):
        return "not an object"
    if manifest.get("format") != MANIFEST_FORMAT:
        return f"format is not {MANIFEST_FORMAT}"
    if manifest.get("version") != MANIFEST_VERSION:
        return f"unsupported version {manifest.get('version')!r}"
    sources = manifest.get("sources")
    if not isinstance(sources, list) or not sources:
        return "no sources"
    for source in sources:
        if not isinstance(source, dict) or any(k not in source for k in _SOURCE_KEYS):
            return f"a source lacks one of {', '.join(_SOURCE_KEYS)}"
        sha = source["sha256"]
        if not (isinstance(sha, str) and len(sha) == 64
                and all(c in "0123456789abcdef" for c in sha)):
            return f"bad sha256 for {source.get('file')!r}"
    if not isinstance(manifest.get("augmentations"), dict):
        return "no augmentations"
    hashes = manifest.get("slice_hashes")
    if not isinstance(hashes, list) or not all(isinstance(h, str) and len(h) == 16
                                               for h in hashes):
        return "slice_hashes must be a list of 16-digit hashes"
    return None


def leaked_slices(manifest: dict, images: np.ndarray) -> list[int]:
    """Indices of scored slices that appear (in any orientation) in the manifest.

    Parameters
    ----------
    manifest : dict
        A checked manifest.
    images : ndarray, shape (S, H, W)
        Scored reference slices.

    Returns
    -------
    list of int
        Leaked slice indices.
    """
    known = set(manifest.get("slice_hashes", []))
    return [i for i, image in enumerate(np.asarray(images))
            if orientation_hashes(image) & known]


def leak_warning(model_path: object, leaked: Sequence[int], total: int) -> str:
    """The loud warning text for leaked slices.

    Parameters
    ----------
    model_path : object
        Model file (or "the shipped model").
    leaked : sequence of int
        Leaked slice indices.
    total : int
        Number of scored slices.

    Returns
    -------
    str
        One line.
    """
    shown = ", ".join(str(i) for i in list(leaked)[:10]) + (" ..." if len(leaked) > 10 else "")
    return (f"WARNING: LEAK: {len(leaked)} of {total} scored slice(s) ({shown}) were in the "
            f"training set of {model_path}; its scores on them are not a test")
