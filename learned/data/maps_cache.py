"""Coil maps of training slices, estimated once and kept on disk.

ESPIRiT on a 16-coil slice takes a second or more: training on raw multi-coil k-space
estimates each slice's maps once and reuses them every epoch and every run.  A cache entry
is one ``.safetensors`` file per slice holding the maps (real and imaginary parts, float32)
and, in its metadata, the sha256 of the slice's k-space bytes, the estimator and the key.
A later call with the same key loads the maps if the k-space is the same; if it is not, the
cache belongs to other data and is refused rather than silently reused.  Files are written
atomically (:func:`csmri.io.atomic.atomic_path`), so an interrupted run leaves no
half-written entry.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from csmri.errors import InputError, UsageError

SUFFIX = ".safetensors"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_CHARS = 96  # of the readable part of a file name (names stay under 255 bytes)


def kspace_sha256(kspace: np.ndarray) -> str:
    """SHA-256 (hex) of k-space bytes as C-contiguous complex64 (what a cache entry records).

    Parameters
    ----------
    kspace : ndarray of complex
        k-space of one slice.

    Returns
    -------
    str
        The digest.
    """
    return hashlib.sha256(np.ascontiguousarray(kspace, dtype=np.complex64).tobytes()).hexdigest()


def cache_file_name(key: str) -> str:
    """File name of a key: its characters outside ``[A-Za-z0-9._-]`` become ``_``.

    The readable part keeps the key's last characters; a short hash of the whole key
    follows, so keys that sanitise alike (``a/b_c`` and ``a_b/c``) or long paths never share
    an entry.

    Parameters
    ----------
    key : str
        Slice identity (``learned.data.kspace_slices`` uses ``"file:0:index"``).

    Returns
    -------
    str
        ``<sanitised key>-<12 hex digits>.safetensors``.
    """
    readable = _UNSAFE.sub("_", key).strip("._")[-_NAME_CHARS:] or "slice"
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:12]}{SUFFIX}"


class MapsCache:
    """Coil maps per training slice, computed once per k-space and key.

    Parameters
    ----------
    directory : Path or str or None
        Folder of the cache entries (created when first written).  None: maps are computed
        on every call and nothing is written.
    method : {"espirit", "lowres"}
        Estimator (:func:`csmri.mri.coils.estimate_maps`).
    device : str
        Torch device of the estimate.
    """

    def __init__(
        self, directory: Path | str | None, method: str = "espirit", device: str = "cpu"
    ) -> None:
        from csmri.mri.coils import MAP_MODES

        if method not in MAP_MODES:
            raise UsageError(f"unknown maps estimator {method!r}; choose {', '.join(MAP_MODES)}")
        self.directory = None if directory is None else Path(directory)
        self.method = method
        self.device = device

    def path(self, key: str) -> Path | None:
        """Cache file of ``key`` (None without a directory)."""
        return None if self.directory is None else self.directory / cache_file_name(key)

    def maps(self, kspace: np.ndarray, key: str, mask: np.ndarray | None = None) -> np.ndarray:
        """Maps of one slice: loaded from the cache, or estimated and stored.

        Parameters
        ----------
        kspace : ndarray of complex, shape (C, H, W)
            Centred k-space of one slice, zero where not sampled.
        key : str
            Slice identity (the cache file's name derives from it; errors name it).
        mask : ndarray of bool, shape (H, W), optional
            Sampled locations (finds the calibration region); default: the samples that are
            non-zero in any coil.

        Returns
        -------
        ndarray of complex64, shape (C, H, W)
            Maps; all ones for one coil (the Cartesian operator: nothing estimated or cached).

        Raises
        ------
        InputError
            k-space not ``(C, H, W)``; a cache file of this key made from other k-space or
            with another estimator, or unreadable; a calibration region too small for
            ESPIRiT (naming ``key``).
        """
        kspace = np.asarray(kspace)
        if kspace.ndim != 3:
            raise InputError(f"k-space of one slice must be (C, H, W), got {kspace.shape}", key)
        if kspace.shape[0] == 1:
            return np.ones(kspace.shape, dtype=np.complex64)
        path = self.path(key)
        digest = kspace_sha256(kspace)
        if path is not None and path.exists():
            return self._load(path, digest, kspace.shape)
        maps = self._estimate(kspace, key, mask)
        if path is not None:
            self._store(path, maps, digest, key)
        return maps

    def _estimate(self, kspace: np.ndarray, key: str, mask: np.ndarray | None) -> np.ndarray:
        from csmri.mri.coils import estimate_maps

        mask = np.any(kspace != 0, axis=0) if mask is None else np.asarray(mask, dtype=bool)
        maps = estimate_maps(kspace[np.newaxis], mask, self.method, self.device, key)[0]
        return np.ascontiguousarray(maps, dtype=np.complex64)

    def _load(self, path: Path, digest: str, shape: tuple[int, ...]) -> np.ndarray:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="np") as file:
                meta = file.metadata() or {}
                real, imag = file.get_tensor("real"), file.get_tensor("imag")
        except Exception as error:  # safetensors raises several types on a damaged file
            raise InputError(f"maps cache is unreadable ({error}); delete it", path) from None
        if meta.get("sha256") != digest:
            raise InputError(
                f"maps cache {path.name} does not match its data (sha256 "
                f"{meta.get('sha256', '?')[:12]}... stored, {digest[:12]}... of the k-space): "
                "the data changed or the cache folder belongs to other data; delete it",
                path,
            )
        if meta.get("method") != self.method:
            raise InputError(
                f"maps cache {path.name} holds {meta.get('method', '?')} maps, not "
                f"{self.method}: delete it or use another cache folder",
                path,
            )
        if real.shape != tuple(shape) or imag.shape != real.shape:
            raise InputError(f"maps cache holds maps of {real.shape}, the k-space is {shape}",
                             path)
        return (real + 1j * imag).astype(np.complex64)

    def _store(self, path: Path, maps: np.ndarray, digest: str, key: str) -> None:
        from safetensors.numpy import save_file

        from csmri.io.atomic import atomic_path

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot create the maps cache folder ({error.strerror})",
                             path.parent) from None
        tensors = {"real": np.ascontiguousarray(maps.real, dtype=np.float32),
                   "imag": np.ascontiguousarray(maps.imag, dtype=np.float32)}
        metadata = {"sha256": digest, "method": self.method, "key": key}
        with atomic_path(path) as temp:
            save_file(tensors, temp, metadata=metadata)
