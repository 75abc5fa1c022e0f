"""The subject split of a training set and the manifest that records it.

Slices are grouped by subject and a fraction of the subjects is held out for validation
(:func:`split_slices`); the manifest (:func:`training_manifest`) records every volume's
file, subject, sha256, the slice ranges used and a content hash of every slice read, so
the leak check can find a scored slice in the training data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from learned.data.dataset import sha256_file
from learned.data.manifest import build_manifest, index_ranges, slice_hash, split_subjects
from learned.data.synth import MNI152_FILES, MNI152_SUBJECT, SYNTH_AUGMENTATIONS, mni152_path
from learned.training.config import TrainConfig


def split_slices(slices, config: TrainConfig) -> tuple[np.ndarray, np.ndarray, str]:
    """Training and validation slice indices, split by subject (see :class:`TrainConfig`).

    Parameters
    ----------
    slices : learned.data.dataset.SliceSet
        All slices with their subjects.
    config : TrainConfig
        ``val_fraction``, ``val_subjects``, ``max_val_slices``, ``seed``.

    Returns
    -------
    train_idx, val_idx : ndarray of int
        Sorted slice indices.
    split : str
        How they were split (recorded in the manifest).
    """
    subjects = np.asarray(slices.subjects)
    train_s, val_s = split_subjects(subjects, config.val_fraction, config.seed,
                                    config.val_subjects)
    rng = np.random.default_rng(config.seed)
    if val_s:
        val_all = np.flatnonzero(np.isin(subjects, sorted(val_s)))
        val_idx = np.sort(rng.permutation(val_all)[: config.max_val_slices])
        train_idx = np.flatnonzero(np.isin(subjects, sorted(train_s)))
        split = (f"by subject: training {', '.join(sorted(train_s))}; "
                 f"validation {', '.join(sorted(val_s))}")
        return train_idx, val_idx, split
    n = len(subjects)
    order = rng.permutation(n)
    n_val = min(round(config.val_fraction * n), config.max_val_slices, n - 1)
    split = ("one subject: validation uses other slices of the training subject "
             "(no subject-disjoint validation possible)")
    return np.sort(order[n_val:]), np.sort(order[:n_val]), split


def training_manifest(slices, train_idx: np.ndarray, val_idx: np.ndarray, split: str,
                      config: TrainConfig, hashes: list[str] | None = None) -> dict:
    """The manifest stored with the model (see :mod:`learned.data.manifest`).

    Parameters
    ----------
    slices : learned.data.dataset.SliceSet
        All slices read.
    train_idx, val_idx : ndarray of int
        The split.
    split : str
        Its description.
    config : TrainConfig
        Simulation, augmentation and synthesis settings.
    hashes : list of str, optional
        Leak-check hashes of the slices (default: :func:`slice_hash` of ``slices.images``;
        lazy k-space slices give their own).

    Returns
    -------
    dict
        The manifest.
    """
    used: dict[str, dict[str, dict[str, list[int]]]] = {}
    for role, indices in (("train_slices", train_idx), ("val_slices", val_idx)):
        for i in indices:
            file, axis, index = slices.origins[i].rsplit(":", 2)
            entry = used.setdefault(file, {"train_slices": {}, "val_slices": {}})
            entry[role].setdefault(axis, []).append(int(index))
    sources = []
    for file, sha in slices.fingerprint.items():
        entry = used.get(file, {"train_slices": {}, "val_slices": {}})
        sources.append({
            "file": Path(file).name,
            "source": _describe_source(file),
            "subject": slices.files[file],
            "sha256": sha,
            **{role: {axis: index_ranges(v) for axis, v in entry[role].items()}
               for role in ("train_slices", "val_slices")},
        })
    augmentations = {
        "geometric": "random up-down and left-right flips, random 90-degree rotation",
        "intensity_scale": "log-uniform 0.5x to 2x",
        "kspace_noise": f"relative sd uniform in [0, {2 * config.noise:g}]",
        "random_smooth_phase": config.phase,
        "masks": {"accelerations": list(config.accelerations),
                  "center_fractions": list(config.center_fractions),
                  "kind": "fastMRI random column masks, fresh per example"},
        "patch": config.patch,
    }
    synthetic = None
    if config.synth > 0:
        synthetic = {
            "fraction": config.synth,
            "subject": MNI152_SUBJECT,
            "from": "MNI152 2009a symmetric GM and WM probability maps (nilearn)",
            "sha256": {k: sha256_file(mni152_path(k)) for k in ("gm", "wm")},
            "files": {k: MNI152_FILES[k] for k in ("gm", "wm")},
            **SYNTH_AUGMENTATIONS,
        }
    if config.supervision != "auto":
        augmentations["supervision"] = config.supervision
    if hashes is None:
        hashes = [slice_hash(im) for im in slices.images]
    return build_manifest(sources, augmentations, hashes, split, synthetic)


def _describe_source(file: str) -> str:
    if Path(file).name == MNI152_FILES["t1"]:
        return "MNI152 2009a symmetric T1 template (nilearn package data)"
    return str(file)


def count_origins(origins: list[str]) -> dict[str, int]:
    """How many slices each ``file:axis`` origin contributed, for the manifest."""
    counts: dict[str, int] = {}
    for origin in origins:
        file, axis, _ = origin.rsplit(":", 2)
        key = f"{Path(file).name}:{axis}"
        counts[key] = counts.get(key, 0) + 1
    return counts
