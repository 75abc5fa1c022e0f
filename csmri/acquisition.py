"""One data type for an acquisition: k-space with a coil axis, its sampling, maps and facts.

Every reader returns an :class:`Acquisition` (:func:`csmri.io.read_acquisition`), the
simulations make one, every reconstruction method runs on its
:meth:`Acquisition.solver_inputs`, and the forward operator comes from it
(:func:`csmri.linop.forward_operator`): :class:`csmri.linop.Cartesian` for one coil
without maps, :class:`csmri.linop.Sense` otherwise.  Single-coil data is the one-coil case:
``kspace`` always has a coil axis, ``(slices, coils, H, W)`` with ``H`` the readout and
``W`` the phase encoding, as fastMRI.  Coil maps are estimated at most once per acquisition
and cached on it (:func:`csmri.mri.coils.ensure_maps`), with the seconds they took.

This module is pure data: it imports nothing else of csmri, so every layer can use it.

The split follows MRpro's ``KData`` (samples) / ``KHeader`` (facts) and deepinv's physics
objects: the samples and the sampling are data, the header is what the scanner says about
them, and provenance (file and k-space sha256) makes "identical inputs" checkable.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Header:
    """What the file says about the acquisition, beyond the samples.

    Attributes
    ----------
    encoded_matrix : tuple of int, optional
        ``(readout, phase)`` size of the encoded k-space grid.
    recon_matrix : tuple of int, optional
        ``(readout, phase)`` size of the image the scanner (fastMRI) writes; the output is
        centre-cropped to it.
    fov_mm : tuple of float, optional
        Encoded field of view ``(readout, phase)`` in millimetres.
    partial_fourier : tuple of float
        Sampled fraction of k-space along ``(readout, phase)`` (1.0: symmetric).
    trajectory : str
        ``"cartesian"`` (the only kind reconstructed so far).
    """

    encoded_matrix: tuple[int, int] | None = None
    recon_matrix: tuple[int, int] | None = None
    fov_mm: tuple[float, float] | None = None
    partial_fourier: tuple[float, float] = (1.0, 1.0)
    trajectory: str = "cartesian"


@dataclass
class Acquisition:
    """Undersampled multi-coil (or one-coil) k-space with everything needed to reconstruct it.

    Attributes
    ----------
    kspace : ndarray of complex64, shape (S, C, H, W)
        Measured samples, zero where not sampled.
    mask : ndarray of bool, shape (H, W)
        Sampled locations (a column mask is broadcast over the rows).
    maps : ndarray of complex64, shape (S, C, H, W), optional
        Coil sensitivities (from the file, a maps file, or
        :func:`csmri.mri.coils.ensure_maps`).
    noise_covariance : ndarray of complex, shape (C, C), optional
        Coil noise covariance (from noise scans), when known.
    reference : ndarray of float32, shape (S, h, w), optional
        Magnitude reference image (fastMRI ``reconstruction_rss``/``_esc``).
    header : Header
        Matrix sizes, field of view, partial Fourier.
    source : Path, optional
        The file it was read from.
    attrs : dict
        File attributes and simulation parameters.
    mask_inferred : bool
        True when the mask was inferred from the non-zero samples.
    maps_seconds : float
        Seconds spent estimating :attr:`maps` (0 when they came with the data).
    maps_source : str
        Where the maps came from (``"file"``, ``"espirit"``, ``"lowres"``, a path, or "").
    """

    kspace: np.ndarray
    mask: np.ndarray
    maps: np.ndarray | None = None
    noise_covariance: np.ndarray | None = None
    reference: np.ndarray | None = None
    header: Header = field(default_factory=Header)
    source: Path | None = None
    attrs: dict = field(default_factory=dict)
    mask_inferred: bool = False
    maps_seconds: float = 0.0
    maps_source: str = ""
    _sha256: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kspace.ndim != 4:
            raise ValueError(f"k-space must be (slices, coils, H, W), got {self.kspace.shape}")
        mask = np.asarray(self.mask, dtype=bool)
        if mask.ndim == 1:
            mask = np.broadcast_to(mask[np.newaxis], self.kspace.shape[-2:])
        if mask.shape != self.kspace.shape[-2:]:
            raise ValueError(f"mask {mask.shape} does not fit k-space {self.kspace.shape}")
        self.mask = np.ascontiguousarray(mask)
        if self.maps is not None and self.maps.shape != self.kspace.shape:
            raise ValueError(f"maps {self.maps.shape} do not fit k-space {self.kspace.shape}")

    @property
    def num_slices(self) -> int:
        """Number of slices ``S``."""
        return int(self.kspace.shape[0])

    @property
    def num_coils(self) -> int:
        """Number of (possibly virtual) coils ``C``."""
        return int(self.kspace.shape[1])

    @property
    def is_multicoil(self) -> bool:
        """True when reconstruction needs SENSE: more than one coil, or maps given."""
        return self.num_coils > 1 or self.maps is not None

    @property
    def columns(self) -> np.ndarray | None:
        """The ``(W,)`` column mask when every row is sampled alike, else None."""
        if np.all(self.mask == self.mask[:1]):
            return self.mask[0].copy()
        return None

    @property
    def acceleration(self) -> float:
        """Realised acceleration: all locations over sampled ones."""
        return float(self.mask.size / max(int(self.mask.sum()), 1))

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of the k-space bytes followed by the mask bytes (provenance)."""
        if self._sha256 is None:
            digest = hashlib.sha256(np.ascontiguousarray(self.kspace).tobytes())
            digest.update(np.ascontiguousarray(self.mask).tobytes())
            self._sha256 = digest.hexdigest()
        return self._sha256

    def solver_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(kspace, mask, maps)`` as the reconstruction methods take them.

        One coil without maps gives single-coil ``(S, H, W)`` k-space and the ``(W,)``
        column mask where there is one (the fast single-coil paths); otherwise the
        ``(S, C, H, W)`` k-space, the ``(H, W)`` mask and the maps.
        """
        if not self.is_multicoil:
            columns = self.columns
            return self.kspace[:, 0], self.mask if columns is None else columns, None
        return self.kspace, self.mask, self.maps

    def select(self, indices: slice | list[int] | np.ndarray) -> Acquisition:
        """The acquisition of some slices (maps and reference follow; provenance is kept)."""
        return dataclasses.replace(
            self,
            kspace=self.kspace[indices],
            maps=None if self.maps is None else self.maps[indices],
            reference=None if self.reference is None else self.reference[indices],
            _sha256=None,
        )

    def with_kspace(self, kspace: np.ndarray, mask: np.ndarray) -> Acquisition:
        """The same acquisition resampled: new samples and mask (maps are re-estimated)."""
        return dataclasses.replace(
            self, kspace=kspace, mask=mask, maps=None, maps_seconds=0.0, maps_source="",
            mask_inferred=False, _sha256=None,
        )


def single_coil(
    kspace: np.ndarray,
    mask: np.ndarray,
    reference: np.ndarray | None = None,
    **kwargs: Any,
) -> Acquisition:
    """An :class:`Acquisition` from single-coil k-space ``(S, H, W)`` (or ``(H, W)``).

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W)
        Samples.
    mask : ndarray, shape (W,) or (H, W)
        Sampled columns or locations.
    reference : ndarray, optional
        Magnitude reference ``(S, h, w)``.
    **kwargs
        Other :class:`Acquisition` fields.

    Returns
    -------
    Acquisition
        With one coil.
    """
    kspace = np.asarray(kspace)
    if kspace.ndim == 2:
        kspace = kspace[np.newaxis]
    return Acquisition(kspace[:, np.newaxis], mask, reference=reference, **kwargs)
