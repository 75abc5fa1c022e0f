"""Comparison cases: one masked k-space stack per input and acceleration.

Each case splits its slices into *tuning* slices (used only to choose lambda)
and *scored* slices (used only for the reported metrics), so that automatic
tuning never sees the data it is judged on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from csmri.errors import InputError
from csmri.kspace_io import KspaceData
from csmri.simulate import simulate


@dataclass
class Case:
    """Masked k-space with its target, and which slices tune and which score.

    Attributes
    ----------
    name : str
        Input label (file name or ``sample``).
    acceleration : float
        Nominal acceleration.
    kspace : ndarray of complex64, shape (S, H, W)
        Masked k-space; every method receives exactly these arrays.
    mask : ndarray of bool, shape (W,)
        Sampled columns.
    target : ndarray of float32, shape (S, h, w)
        Magnitude references.
    tuning : list of int
        Slices reserved for choosing lambda (never scored).
    scored : list of int
        Slices whose metrics are reported.
    attrs : dict
        Provenance (seed, center fraction, noise, realised acceleration, ...).
    """

    name: str
    acceleration: float
    kspace: np.ndarray
    mask: np.ndarray
    target: np.ndarray
    tuning: list[int]
    scored: list[int]
    attrs: dict = field(default_factory=dict)

    def fingerprint(self, indices: list[int]) -> str:
        """SHA-256 of the k-space and mask of the given slices (proves identical inputs)."""
        return kspace_digest(self.kspace[indices], self.mask)


def kspace_digest(kspace: np.ndarray, mask: np.ndarray) -> str:
    """SHA-256 (hex) of k-space bytes followed by mask bytes."""
    digest = hashlib.sha256(np.ascontiguousarray(kspace).tobytes())
    digest.update(np.ascontiguousarray(mask).tobytes())
    return digest.hexdigest()


def split_slices(num_slices: int, num_tuning: int) -> tuple[list[int], list[int]]:
    """Spread ``num_tuning`` tuning slices evenly through the stack; the rest are scored.

    Parameters
    ----------
    num_slices : int
        Slices in the stack.
    num_tuning : int
        Slices to reserve for tuning (0 when lambda is fixed).

    Returns
    -------
    tuple of list of int
        ``(tuning, scored)``, disjoint, together all slices.
    """
    if num_tuning == 0:
        return [], list(range(num_slices))
    if num_slices <= num_tuning:
        raise InputError(
            f"--lam auto needs more than {num_tuning} slices (tuning slices are never scored), "
            f"got {num_slices}; give a fixed --lam or more slices"
        )
    # evenly spaced, avoiding the first and last slice where anatomy is least typical
    positions = np.linspace(0, num_slices - 1, num_tuning + 2)[1:-1]
    tuning = sorted({round(float(p)) for p in positions})
    return tuning, [i for i in range(num_slices) if i not in tuning]


def cases_from_images(
    name: str,
    images: np.ndarray,
    accelerations: list[float],
    center_fractions: list[float],
    mask_type: str,
    seed: int,
    noise: float,
    num_tuning: int,
) -> list[Case]:
    """Simulate one case per acceleration from magnitude images.

    Parameters
    ----------
    name : str
        Label of the input.
    images : ndarray, shape (S, H, W)
        Magnitude images.
    accelerations, center_fractions : list of float
        Paired mask parameters (fastMRI semantics).
    mask_type : {"random", "equispaced"}
        Mask family.
    seed : int
        Seeds mask, phase and noise (the same phase and noise for every acceleration).
    noise : float
        Relative noise level, as in :func:`csmri.simulate.simulate`.
    num_tuning : int
        Tuning slices per case.

    Returns
    -------
    list of Case
        One case per acceleration.
    """
    tuning, scored = split_slices(images.shape[0], num_tuning)
    cases = []
    for acceleration, fraction in zip(accelerations, center_fractions, strict=True):
        sim = simulate(images, acceleration, fraction, mask_type, seed, noise, phase=True)
        cases.append(
            Case(name, acceleration, sim.kspace, sim.mask, sim.target, tuning, scored, sim.attrs)
        )
    return cases


def cases_from_kspace_file(name: str, data: KspaceData, num_tuning: int) -> list[Case]:
    """One case from a k-space file that carries a target (its own mask and acceleration).

    Parameters
    ----------
    name : str
        Label (file name).
    data : KspaceData
        The file's contents; must have a target.
    num_tuning : int
        Tuning slices.

    Returns
    -------
    list of Case
        A single case.
    """
    if data.target is None:
        raise InputError("compare needs a target (reconstruction_esc/_rss) in k-space files", name)
    tuning, scored = split_slices(data.kspace.shape[0], num_tuning)
    realised = data.mask.size / data.mask.sum()
    acceleration = float(data.attrs.get("acceleration", round(realised, 2)))
    attrs = {**data.attrs, "realised_acceleration": float(realised)}
    return [Case(name, acceleration, data.kspace, data.mask, data.target, tuning, scored, attrs)]
