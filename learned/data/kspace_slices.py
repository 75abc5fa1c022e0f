"""Raw multi-coil k-space training slices, read one at a time, with cached coil maps.

Training the unrolled network on the k-space a scanner measured (issue #24) needs, per
slice, the multi-coil k-space, its sampling mask and coil maps.  :class:`KspaceSlices`
indexes the slices of a list of k-space files (or folders of them) and reads one slice per
``__getitem__``: fastMRI ``.h5`` files by h5py slicing (:mod:`learned.data.fastmri_lazy`),
every other format (ISMRMRD ``.h5``/``.mrd``, Siemens ``.dat``, BART ``.cfl``, ``.npy``,
``.npz``) through :func:`csmri.io.read_acquisition`, keeping only the most recently read
file in memory.  Coil maps come from a :class:`learned.data.maps_cache.MapsCache`, so
ESPIRiT runs once per slice across epochs and runs.

Undersampled files are accepted (self-supervised training, SSDU, needs them);
:attr:`KspaceSlices.fully_sampled` tells whether every file is fully sampled.  Files with
different coil counts are refused unless ``coils`` compresses every slice to that many
virtual coils (:func:`csmri.mri.coils.compress_coils`) before its maps are estimated.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csmri.errors import InputError, UsageError
from learned.data.fastmri_lazy import FileInfo, is_fastmri, probe_fastmri, read_fastmri_slice
from learned.data.manifest import subject_of
from learned.data.maps_cache import MapsCache, kspace_sha256


@dataclass(frozen=True)
class KspaceSlice:
    """One training slice of raw k-space.

    Attributes
    ----------
    kspace : ndarray of complex64, shape (C, H, W)
        As measured: zero where not sampled.
    mask : ndarray of bool, shape (H, W)
        The measured samples (all True when fully sampled).
    maps : ndarray of complex64, shape (C, H, W)
        Coil maps (:class:`learned.data.maps_cache.MapsCache`; all ones for one coil).
    recon_crop : tuple of int or None
        Centre crop of the image to the recon matrix (fastMRI), None for the whole image.
    origin : str
        ``"file:0:slice_index"``.
    subject : str
        Subject of the file.
    """

    kspace: np.ndarray
    mask: np.ndarray
    maps: np.ndarray
    recon_crop: tuple[int, int] | None
    origin: str
    subject: str


class KspaceSlices:
    """The slices of k-space files, indexed, read lazily.

    Parameters
    ----------
    files : list of Path
        k-space files, or folders (their k-space files, sorted by name).
    coils : int, optional
        Compress every slice to this many virtual coils (at most every file's count; a
        file with exactly this many is kept as is), before its maps are estimated;
        required when the files' coil counts differ.
    maps_cache : Path, optional
        Folder of the coil maps cache; None computes the maps on every read.
    maps_method : {"espirit", "lowres"}
        Map estimator.

    Attributes
    ----------
    origins, subjects : list of str
        ``"file:0:index"`` and the subject of every slice.
    files : dict
        ``{file: subject}``.
    fingerprint : dict
        ``{file: sha256 of its k-space array}`` (complex64 ``(S, C, H, W)`` bytes).
    fully_sampled : bool
        Every file is fully sampled.
    num_coils : int
        Coils of every slice returned.

    Raises
    ------
    InputError
        A missing file, a folder without k-space files, an unreadable or non-Cartesian
        file, coil counts that differ without ``coils``, or ``coils`` above a file's count.
    UsageError
        ``coils`` not a positive integer.
    """

    def __init__(
        self,
        files: list[Path],
        coils: int | None = None,
        maps_cache: Path | None = None,
        maps_method: str = "espirit",
    ) -> None:
        if coils is not None and (
            isinstance(coils, bool) or not isinstance(coils, int | np.integer) or coils < 1
        ):
            raise UsageError(f"--coils must be a positive integer, got {coils!r}")
        self._coils = None if coils is None else int(coils)
        self._cache = MapsCache(maps_cache, maps_method)
        self._infos = [_probe(path) for path in _expand(files)]
        if not self._infos:
            raise InputError("no k-space files given")
        self.num_coils = self._check_coils()
        self.files = {str(i.path): i.subject or subject_of(i.path.name) for i in self._infos}
        self.fingerprint = {str(info.path): info.sha256 for info in self._infos}
        self.fully_sampled = all(bool(info.mask.all()) for info in self._infos)
        self.origins = [f"{info.path}:0:{index}" for info in self._infos
                        for index in range(info.slices)]
        self.subjects = [self.files[str(info.path)] for info in self._infos
                         for _ in range(info.slices)]
        self._starts = list(itertools.accumulate((i.slices for i in self._infos), initial=0))
        self._recent: tuple[Path, np.ndarray] | None = None  # the last file read in full

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, index: int) -> KspaceSlice:
        """Read slice ``index``: its k-space, mask and maps (only this slice is read).

        Parameters
        ----------
        index : int
            Position in :attr:`origins` (negative counts from the end).

        Returns
        -------
        KspaceSlice
            The slice.
        """
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"slice index must be an integer, got {type(index).__name__}")
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"slice {index} out of range for {len(self)} slices")
        position = bisect.bisect_right(self._starts, index) - 1
        info, local = self._infos[position], int(index - self._starts[position])
        kspace = self._read(info, local) * info.mask
        origin, key = self.origins[index], self.origins[index]
        if self._coils is not None and self._coils != info.coils:
            from csmri.mri.coils import compress_coils

            kspace = compress_coils(kspace[np.newaxis], self._coils)[0][0]
            key = f"{origin}:vc{self._coils}"
        kspace = np.ascontiguousarray(kspace, dtype=np.complex64)
        maps = self._cache.maps(kspace, key, info.mask)
        return KspaceSlice(kspace=kspace, mask=info.mask.copy(), maps=maps,
                           recon_crop=info.recon_crop, origin=origin,
                           subject=self.subjects[index])

    def _read(self, info: FileInfo, index: int) -> np.ndarray:
        if info.lazy:
            return read_fastmri_slice(info.path, index)
        if self._recent is None or self._recent[0] != info.path:
            self._recent = None  # release the previous file before reading the next
            self._recent = (info.path, _read_full(info.path).kspace)
        return np.array(self._recent[1][index], dtype=np.complex64)

    def _check_coils(self) -> int:
        counts = [info.coils for info in self._infos]
        if self._coils is not None:
            for info in self._infos:
                if self._coils > info.coils:
                    raise InputError(f"--coils {self._coils} is more than the {info.coils} "
                                     "coils of this file", info.path)
            return self._coils
        common = max(set(counts), key=counts.count)
        for info in self._infos:
            if info.coils != common:
                raise InputError(f"has {info.coils} coils where the others have {common}: "
                                 "give --coils N to compress them", info.path)
        return common


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; folders become their k-space files, sorted by name."""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and _holds_kspace(p))
            if not found:
                raise InputError("folder holds no k-space files", path)
            files.extend(found)
        elif path.exists() or path.suffix.lower() in (".cfl", ".hdr"):
            files.append(path)
        else:
            raise InputError("no such file or folder", path)
    return files


def _holds_kspace(path: Path) -> bool:
    """A folder entry with k-space (a BART pair counts once, by its ``.cfl``)."""
    from csmri.io import is_kspace_file

    suffix = path.suffix.lower()
    if suffix == ".hdr":
        return False
    if suffix == ".npy":
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False).dtype.kind == "c"
        except Exception:  # unreadable or not an array: not training k-space
            return False
    if suffix == ".npz":
        import zipfile

        try:
            with zipfile.ZipFile(path) as archive:
                return "kspace.npy" in archive.namelist()
        except Exception:  # not a zip archive
            return False
    return suffix in (".h5", ".mrd", ".cfl", ".dat") and (suffix == ".mrd" or is_kspace_file(path))


def _read_full(path: Path):
    """The whole file through :func:`csmri.io.read_acquisition`, Cartesian only."""
    from csmri.io import read_acquisition

    if path.suffix.lower() == ".mrd":  # ISMRMRD's own suffix for its HDF5 files
        from csmri.io.ismrmrd import read_ismrmrd_raw
        from csmri.io.raw_convert import scan_to_acquisition

        acq = scan_to_acquisition(read_ismrmrd_raw(path))
    else:
        acq = read_acquisition(path)
    if acq.trajectory is not None:
        raise InputError("radial/spiral (non-Cartesian) k-space: training on raw k-space "
                         "reads Cartesian files only", path)
    return acq


def _probe(path: Path) -> FileInfo:
    """Sizes, mask, crop and sha256: fastMRI slice by slice, other formats read once."""
    if is_fastmri(path):
        return probe_fastmri(path)
    from csmri.io import output_crop

    acq = _read_full(path)
    patient = acq.attrs.get("patient_id")
    return FileInfo(
        path=path, lazy=False, slices=acq.num_slices, coils=acq.num_coils,
        mask=np.ascontiguousarray(acq.mask, dtype=bool),
        recon_crop=output_crop(acq, acq.image_shape), sha256=kspace_sha256(acq.kspace),
        subject=str(patient) if patient else None,
    )
