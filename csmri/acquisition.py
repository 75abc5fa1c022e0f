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


@dataclass(frozen=True)
class Trajectory:
    """Non-Cartesian sampling: where each sample was taken, and the image grid.

    Attributes
    ----------
    coords : ndarray of float64, shape ``(3, *samples)``
        k-space coordinates in BART's units and order (``bart traj``: k in pixels, i.e.
        cycles per field of view, ``|k| <= N/2``; dim 0 the readout ``H``, dim 1 ``W``,
        dim 2 zero for 2-D).
    matrix : tuple of int
        ``(H, W)`` of the image (the header's, the user's ``--matrix``, or the
        trajectory's extent).
    density : ndarray of float64, shape ``(*samples)``, optional
        Density-compensation weights (Pipe-Menon when omitted).
    """

    coords: np.ndarray
    matrix: tuple[int, int]
    density: np.ndarray | None = None

    @property
    def samples(self) -> tuple[int, ...]:
        """Shape of the samples per coil, ``coords.shape[1:]``."""
        return tuple(self.coords.shape[1:])


@dataclass
class Acquisition:
    """Undersampled multi-coil (or one-coil) k-space with everything needed to reconstruct it.

    Attributes
    ----------
    kspace : ndarray of complex64, shape (S, C, H, W), or ``(S, C, *samples)`` with a trajectory
        Measured samples, zero where not sampled (Cartesian).
    mask : ndarray of bool, shape (H, W), or None with a trajectory
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
    trajectory : Trajectory, optional
        Non-Cartesian sampling (radial, spiral); None for Cartesian data.
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
    trajectory: Trajectory | None = None
    _sha256: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.trajectory is not None:
            samples = self.trajectory.samples
            if self.kspace.ndim != 2 + len(samples) or self.kspace.shape[2:] != samples:
                raise ValueError(f"k-space {self.kspace.shape} does not fit the trajectory's "
                                 f"samples {samples}: expected (slices, coils, *samples)")
            self.mask = None
            expected = (*self.kspace.shape[:2], *self.trajectory.matrix)
            if self.maps is not None and self.maps.shape != expected:
                raise ValueError(f"maps {self.maps.shape} do not fit {expected}")
            return
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
    def is_cartesian(self) -> bool:
        """True for samples on the Cartesian grid (a mask), False with a trajectory."""
        return self.trajectory is None

    @property
    def image_shape(self) -> tuple[int, int]:
        """``(H, W)`` of the reconstructed images."""
        if self.trajectory is not None:
            return self.trajectory.matrix
        return tuple(self.kspace.shape[-2:])

    @property
    def columns(self) -> np.ndarray | None:
        """The ``(W,)`` column mask when every row is sampled alike, else None."""
        if self.mask is None:
            return None
        if np.all(self.mask == self.mask[:1]):
            return self.mask[0].copy()
        return None

    @property
    def acceleration(self) -> float:
        """Realised acceleration: all grid locations over sampled ones.

        With a trajectory: the acquisition's nominal ``attrs["acceleration"]`` when known,
        else Nyquist over measured spokes of a ``(readout, spokes)`` layout (radial
        convention, ``pi/2 max(H, W)`` spokes at Nyquist).
        """
        if self.trajectory is not None:
            if "acceleration" in self.attrs:
                return float(self.attrs["acceleration"])
            lines = self.trajectory.samples[-1] if len(self.trajectory.samples) > 1 else 1
            return float(np.pi / 2 * max(self.trajectory.matrix) / max(lines, 1))
        return float(self.mask.size / max(int(self.mask.sum()), 1))

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of the k-space bytes followed by the mask bytes (provenance)."""
        if self._sha256 is None:
            digest = hashlib.sha256(np.ascontiguousarray(self.kspace).tobytes())
            sampling = self.mask if self.trajectory is None else self.trajectory.coords
            digest.update(np.ascontiguousarray(sampling).tobytes())
            self._sha256 = digest.hexdigest()
        return self._sha256

    def solver_inputs(self) -> tuple[np.ndarray, np.ndarray | Trajectory, np.ndarray | None]:
        """``(kspace, sampling, maps)`` as the reconstruction methods take them.

        One coil without maps gives single-coil ``(S, H, W)`` k-space and the ``(W,)``
        column mask where there is one (the fast single-coil paths); otherwise the
        ``(S, C, H, W)`` k-space, the ``(H, W)`` mask and the maps.  With a trajectory the
        sampling is the :class:`Trajectory` and the k-space ``(S, *samples)`` for one
        coil without maps, else ``(S, C, *samples)``.
        """
        if self.trajectory is not None:
            if not self.is_multicoil:
                return self.kspace[:, 0], self.trajectory, None
            return self.kspace, self.trajectory, self.maps
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
