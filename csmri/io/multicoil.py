"""Read and write multi-coil k-space: fastMRI multi-coil ``.h5``, BART ``.cfl``, ``.npy``/``.npz``.

Every reader returns :class:`MulticoilData` with k-space ``(S, C, H, W)``
complex64 (``H`` the readout, ``W`` the phase encoding, as fastMRI), a 2-D
sampling mask ``(H, W)``, an optional magnitude target (fastMRI's
``reconstruction_rss``, the recon-matrix crop) and optional coil maps.
ISMRMRD raw data is read by :mod:`csmri.io.ismrmrd`.  Files that cannot be used
raise :class:`csmri.errors.InputError` naming the file, before any large
allocation.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from csmri.errors import CsmriError, InputError
from csmri.io.cfl import (
    BART_DIMS,
    COIL_DIM,
    bart_to_coil_stack,
    cfl_pair,
    coil_stack_to_bart,
    read_cfl,
    read_cfl_header,
    write_cfl,
)
from csmri.io.kspace import (
    MIN_SIDE,
    TARGET_KEYS,
    check_npy,
    check_npz,
    check_size,
    first_line,
    h5_attrs,
    h5_dataset,
    read_npy_header,
    require_file,
    validate_target,
)

MAP_KEYS = ("sens_maps", "maps")


@dataclass
class MulticoilData:
    """Multi-coil k-space stack with its mask, optional target, maps and attributes.

    Attributes
    ----------
    kspace : ndarray of complex64, shape (S, C, H, W)
        Measured k-space (zero where not sampled).
    mask : ndarray of bool, shape (H, W)
        Sampled k-space locations (a column mask is broadcast over rows).
    target : ndarray of float32, shape (S, h, w), or None
        Magnitude reference (fastMRI ``reconstruction_rss``), if the file has one.
    maps : ndarray of complex64, shape (S, C, H, W), or None
        Coil sensitivity maps stored with the data.
    attrs : dict
        File attributes.
    mask_inferred : bool
        True when the mask was inferred from the non-zero samples.
    """

    kspace: np.ndarray
    mask: np.ndarray
    target: np.ndarray | None = None
    maps: np.ndarray | None = None
    attrs: dict = field(default_factory=dict)
    mask_inferred: bool = False


def validate_multicoil(
    kspace: np.ndarray,
    mask: np.ndarray | None = None,
    maps: np.ndarray | None = None,
    path: object = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """Check a multi-coil stack, its mask and maps; return ``(kspace, mask, maps, inferred)``.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W) or (C, H, W)
        Candidate k-space (complex).
    mask : ndarray, optional
        ``(W,)`` column mask or ``(H, W)``; inferred from non-zero samples when None.
    maps : ndarray, optional
        Coil maps ``(S, C, H, W)`` or ``(C, H, W)`` (shared by all slices).
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    tuple
        k-space complex64 ``(S, C, H, W)``, mask bool ``(H, W)``, maps complex64
        ``(S, C, H, W)`` or None, and whether the mask was inferred.
    """
    kspace = np.asanyarray(kspace)
    if kspace.dtype.kind != "c":
        raise InputError(f"k-space must be complex, got {kspace.dtype}", path)
    if kspace.ndim == 3:
        kspace = kspace[np.newaxis]
    if kspace.ndim != 4:
        raise InputError(
            f"multi-coil k-space must have shape (slices, coils, H, W), got {kspace.shape}", path
        )
    s, c, h, w = kspace.shape
    if min(h, w) < MIN_SIDE:
        raise InputError(f"k-space of {h}x{w} is too small", path)
    if s == 0 or c == 0:
        raise InputError(f"k-space of shape {kspace.shape} has no slices or no coils", path)
    with np.errstate(all="ignore"):
        kspace = np.asarray(kspace, dtype=np.complex64)
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf", path)
    inferred = mask is None
    if inferred:
        mask = np.any(kspace != 0, axis=(0, 1))
    else:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biuf":
            raise InputError(f"mask must be boolean or real numbers, got {mask.dtype}", path)
        mask = np.squeeze(mask) if mask.size in (w, h * w) else mask
        if mask.shape == (w,):
            mask = np.broadcast_to(mask[np.newaxis], (h, w))
        if mask.shape != (h, w):
            raise InputError(
                f"mask of shape {mask.shape} matches neither the k-space width {w} "
                f"nor its {h}x{w} slices",
                path,
            )
        if not np.isfinite(mask.astype(np.float64)).all():
            raise InputError("mask contains NaN or Inf", path)
        mask = np.ascontiguousarray(mask != 0)
    if not mask.any():
        raise InputError("mask samples nothing (all zero)", path)
    return kspace, mask, check_maps(maps, kspace.shape, path), inferred


def check_maps(
    maps: np.ndarray | None, shape: tuple[int, int, int, int], path: object = None
) -> np.ndarray | None:
    """Check coil maps against a k-space shape ``(S, C, H, W)``; broadcast shared maps.

    Parameters
    ----------
    maps : ndarray or None
        ``(S, C, H, W)``, or ``(C, H, W)`` for maps shared by every slice.
    shape : tuple of int
        The k-space shape.
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    ndarray of complex64, shape (S, C, H, W), or None
        The maps.
    """
    if maps is None:
        return None
    maps = np.asanyarray(maps)
    s, c, h, w = shape
    if maps.dtype.kind not in "fc":
        raise InputError(f"coil maps must be complex or real numbers, got {maps.dtype}", path)
    if maps.ndim == 3:
        maps = maps[np.newaxis]
    if maps.ndim != 4 or maps.shape[-2:] != (h, w):
        raise InputError(
            f"coil maps of shape {maps.shape} do not fit k-space {shape}: "
            f"expected (slices, coils, {h}, {w})",
            path,
        )
    if maps.shape[1] != c:
        raise InputError(f"coil maps have {maps.shape[1]} coils, the k-space has {c}", path)
    if maps.shape[0] not in (1, s):
        raise InputError(f"coil maps have {maps.shape[0]} slices, the k-space has {s}", path)
    with np.errstate(all="ignore"):
        maps = np.asarray(maps, dtype=np.complex64)
    if not np.isfinite(maps).all():
        raise InputError("coil maps contain NaN or Inf", path)
    return np.ascontiguousarray(np.broadcast_to(maps, shape))


def is_multicoil(path: str | Path, coil_axis: int | None = None) -> bool:
    """Whether ``path`` holds multi-coil k-space, from its header only (no data read).

    A 4-D array, a BART file with more than one coil, an ISMRMRD file, or any
    ``.npy``/``.npz`` when ``coil_axis`` is given, count as multi-coil.  Files
    that cannot be probed return False and are refused by the single-coil reader.

    Parameters
    ----------
    path : str or Path
        Input file.
    coil_axis : int, optional
        The user's ``--coil-axis``.

    Returns
    -------
    bool
        True for multi-coil input.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".npy", ".npz"):
            if coil_axis is not None:
                return True
            if suffix == ".npy":
                return len(check_npy(path)[0]) == 4
            with zipfile.ZipFile(path) as archive, archive.open("kspace.npy") as handle:
                return len(read_npy_header(handle, path)[0]) == 4  # header only, no data
        if suffix in (".cfl", ".hdr"):
            dims = read_cfl_header(cfl_pair(path)[1])
            return len(dims) > COIL_DIM and dims[COIL_DIM] > 1
        if suffix == ".h5":
            import h5py

            with h5py.File(path, "r") as file:
                if "kspace" in file:
                    return getattr(file["kspace"], "ndim", 0) == 4
                return "dataset" in file  # ISMRMRD raw data
    except Exception:  # unreadable: the single-coil reader reports it in one line
        return False
    return False


def read_multicoil(path: str | Path, coil_axis: int | None = None) -> MulticoilData:
    """Read a multi-coil k-space file by suffix (and content for ``.h5``).

    Parameters
    ----------
    path : str or Path
        fastMRI multi-coil or ISMRMRD ``.h5``, BART ``.cfl``/``.hdr`` (coils in
        dim 3, slices in dim 13 or 2), ``.npy`` or ``.npz`` (``kspace``,
        optional ``mask``, ``target``, ``sens_maps``).
    coil_axis : int, optional
        Axis of the coils in a ``.npy``/``.npz`` array: default 1 for 4-D
        ``(S, C, H, W)``; for 3-D arrays it must be given (``0``: ``(C, H, W)``).

    Returns
    -------
    MulticoilData
        The validated contents.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".cfl", ".hdr"):
        require_file(cfl_pair(path)[0], "a BART .cfl data file")
    else:
        require_file(path, "a k-space file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if suffix == ".h5":
            return _read_h5(path)
        if suffix in (".cfl", ".hdr"):
            return _read_cfl(path)
        if suffix in (".npy", ".npz"):
            return _read_numpy(path, coil_axis)
    raise InputError(f"unknown multi-coil k-space format {suffix or '(no suffix)'}", path)


def _read_cfl(path: Path) -> MulticoilData:
    stack = bart_to_coil_stack(read_cfl(path), path)
    kspace, mask, _, inferred = validate_multicoil(stack, None, None, path)
    return MulticoilData(kspace, mask, mask_inferred=inferred)


def read_maps(path: str | Path, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Read coil maps from a BART ``.cfl``, ``.npy``, ``.npz`` or ``.h5`` (``sens_maps``).

    Parameters
    ----------
    path : str or Path
        Maps file (BART ``ecalib`` output: coils in dim 3, first map set only).
    shape : tuple of int
        The k-space shape ``(S, C, H, W)`` the maps must fit.

    Returns
    -------
    ndarray of complex64, shape (S, C, H, W)
        The maps.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".cfl", ".hdr"):
        require_file(cfl_pair(path)[0], "a BART .cfl maps file")
        array = read_cfl(path)
        dims = list(array.shape) + [1] * (BART_DIMS - array.ndim)
        if dims[4] > 1:  # ecalib -m N: several map sets; SENSE uses the first
            array = array.reshape(dims, order="F")[:, :, :, :, :1]
        maps = bart_to_coil_stack(array, path)
    elif suffix == ".npy":
        require_file(path, "a coil-maps file")
        check_npy(path)
        maps = np.load(path, allow_pickle=False)
    elif suffix in (".npz", ".h5"):
        require_file(path, "a coil-maps file")
        maps = _read_array(path, MAP_KEYS)
        if maps is None:
            raise InputError(f"no {' or '.join(MAP_KEYS)} array", path)
    else:
        raise InputError(f"unknown coil-maps format {suffix}; use .cfl, .npy, .npz or .h5", path)
    return check_maps(maps, shape, path)


def _read_array(path: Path, keys: tuple[str, ...]) -> np.ndarray | None:
    try:
        if path.suffix.lower() == ".npz":
            check_npz(path)
            with np.load(path, allow_pickle=False) as archive:
                for key in keys:
                    if key in archive:
                        return archive[key]
            return None
        import h5py

        with h5py.File(path, "r") as file:
            for key in keys:
                item = h5_dataset(file, key, path)
                if item is not None:
                    check_size(item.shape, path)
                    return item[()]
        return None
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"not readable ({first_line(error)})", path) from None


def _read_h5(path: Path) -> MulticoilData:
    import h5py

    try:
        with h5py.File(path, "r") as file:
            if "kspace" not in file and "dataset" in file:
                from csmri.io.ismrmrd import read_ismrmrd

                file.close()
                return read_ismrmrd(path)
            dataset = h5_dataset(file, "kspace", path)
            if dataset is None:
                raise InputError("no 'kspace' dataset (not a fastMRI file)", path)
            if dataset.ndim != 4:
                raise InputError(
                    f"k-space of shape {dataset.shape} is not multi-coil (slices, coils, H, W)",
                    path,
                )
            check_size(dataset.shape, path)
            if dataset.dtype.kind != "c":
                raise InputError(f"k-space must be complex, got {dataset.dtype}", path)
            kspace = dataset[()]
            arrays = {}
            for key in ("mask", *MAP_KEYS, *TARGET_KEYS):
                item = h5_dataset(file, key, path)
                if item is not None:
                    check_size(item.shape, path)
                    arrays[key] = np.asarray(item[()])
            header = file["ismrmrd_header"][()] if "ismrmrd_header" in file else None
            attrs = h5_attrs(file)
    except CsmriError:  # bad data (InputError) or a missing extra (UsageError, from MRD)
        raise
    except MemoryError:
        raise
    except Exception as error:
        raise InputError(f"not a readable HDF5 file ({first_line(error)})", path) from None
    maps = next((arrays[k] for k in MAP_KEYS if k in arrays), None)
    kspace, mask, maps, inferred = validate_multicoil(kspace, arrays.get("mask"), maps, path)
    target = next((arrays[k] for k in TARGET_KEYS if k in arrays), None)
    target = validate_target(target, kspace[:, 0], path)
    if header is not None:
        check_fastmri_header(header, kspace.shape, target, path)
    return MulticoilData(kspace, mask, target, maps, attrs, inferred)


def _matrix(xml: str, space: str) -> tuple[int, int] | None:
    block = re.search(rf"<{space}>(.*?)</{space}>", xml, re.S)
    if block is None:
        return None
    size = re.search(r"<matrixSize>(.*?)</matrixSize>", block.group(1), re.S)
    if size is None:
        return None
    values = [re.search(rf"<{a}>\s*(\d+)\s*</{a}>", size.group(1)) for a in ("x", "y")]
    if None in values:
        return None
    return int(values[0].group(1)), int(values[1].group(1))  # type: ignore[union-attr]


def check_fastmri_header(
    header: bytes | str,
    shape: tuple[int, ...],
    target: np.ndarray | None,
    path: object = None,
) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """Compare fastMRI's ``ismrmrd_header`` matrix sizes with the k-space and target.

    The encoded matrix ``(x, y)`` must equal the k-space ``(H, W)``; the recon
    matrix must equal the target's size, when both are present (fastMRI crops
    the RSS image to the recon matrix).

    Parameters
    ----------
    header : bytes or str
        The XML.
    shape : tuple of int
        k-space shape ``(S, C, H, W)``.
    target : ndarray or None
        The target ``(S, h, w)``.
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    tuple
        ``(encoded (x, y), recon (x, y))``, each None where the XML lacks it.
    """
    xml = header.decode(errors="replace") if isinstance(header, bytes) else str(header)
    encoded, recon = _matrix(xml, "encodedSpace"), _matrix(xml, "reconSpace")
    if encoded is not None and encoded != tuple(shape[-2:]):
        raise InputError(
            f"header encoded matrix {encoded[0]}x{encoded[1]} contradicts the "
            f"k-space {shape[-2]}x{shape[-1]}",
            path,
        )
    if recon is not None and target is not None and recon != target.shape[-2:]:
        raise InputError(
            f"header recon matrix {recon[0]}x{recon[1]} contradicts the target "
            f"{target.shape[-2]}x{target.shape[-1]}",
            path,
        )
    return encoded, recon


def _read_numpy(path: Path, coil_axis: int | None) -> MulticoilData:
    if path.suffix.lower() == ".npy":
        check_npy(path)
        arrays = {"kspace": np.load(path, allow_pickle=False)}
    else:
        check_npz(path)
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except Exception as error:
            raise InputError(f"not a readable .npz file ({first_line(error)})", path) from None
        if "kspace" not in arrays:
            raise InputError("no 'kspace' array in the .npz file", path)
    kspace = arrays["kspace"]
    if kspace.ndim not in (3, 4):
        raise InputError(
            f"k-space of shape {kspace.shape} is neither (slices, coils, H, W) nor (coils, H, W)",
            path,
        )
    axis = 1 if coil_axis is None and kspace.ndim == 4 else coil_axis
    if axis is None:
        raise InputError(
            f"3-D k-space {kspace.shape} is ambiguous: pass --coil-axis 0 for (coils, H, W)", path
        )
    if not -kspace.ndim <= axis < kspace.ndim or axis % kspace.ndim >= kspace.ndim - 2:
        raise InputError(
            f"--coil-axis {axis} is not a leading axis of k-space {kspace.shape}", path
        )
    kspace = np.moveaxis(kspace, axis, -3)
    maps = next((arrays[k] for k in MAP_KEYS if k in arrays), None)
    kspace, mask, maps, inferred = validate_multicoil(kspace, arrays.get("mask"), maps, path)
    target = validate_target(arrays.get("target"), kspace[:, 0], path)
    return MulticoilData(kspace, mask, target, maps, {}, inferred)


def matrix_header(encoded: tuple[int, int], recon: tuple[int, int]) -> str:
    """A minimal ``ismrmrd_header`` XML with the encoded and recon matrix sizes (as fastMRI)."""

    def space(name: str, size: tuple[int, int]) -> str:
        return f"<{name}><matrixSize><x>{size[0]}</x><y>{size[1]}</y><z>1</z></matrixSize></{name}>"

    return (
        '<?xml version="1.0"?><ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD"><encoding>'
        + space("encodedSpace", encoded)
        + space("reconSpace", recon)
        + "<trajectory>cartesian</trajectory></encoding></ismrmrdHeader>"
    )


def write_multicoil_h5(path: str | Path, data: MulticoilData, header: str | None = None) -> None:
    """Write the fastMRI multi-coil layout: ``kspace``, ``mask``, ``reconstruction_rss``.

    Parameters
    ----------
    path : str or Path
        Destination (written as is; wrap in :func:`csmri.io.atomic.atomic_path`).
    data : MulticoilData
        Contents; maps are stored as ``sens_maps`` when present.
    header : str, optional
        ``ismrmrd_header`` XML.
    """
    import h5py

    mask = data.mask
    columns = bool(np.all(mask == mask[:1]))
    with h5py.File(path, "w") as file:
        file.create_dataset("kspace", data=data.kspace.astype(np.complex64))
        file.create_dataset("mask", data=(mask[0] if columns else mask).astype(np.float32))
        if data.target is not None:
            file.create_dataset("reconstruction_rss", data=data.target.astype(np.float32))
            file.attrs["max"] = float(data.target.max())
            file.attrs["norm"] = float(np.linalg.norm(data.target))
        if data.maps is not None:
            file.create_dataset("sens_maps", data=data.maps.astype(np.complex64))
        if header is not None:
            file.create_dataset("ismrmrd_header", data=header.encode())
        file.attrs["acquisition"] = "SIMULATED"
        for key, value in data.attrs.items():
            file.attrs[key] = value


def write_maps(path: str | Path, maps: np.ndarray) -> None:
    """Write coil maps ``(S, C, H, W)`` as BART ``.cfl``, ``.npy`` or ``.h5`` (``sens_maps``).

    Parameters
    ----------
    path : str or Path
        Destination (wrap in :func:`csmri.io.atomic.atomic_path`).
    maps : ndarray, shape (S, C, H, W)
        Maps.
    """
    suffix = Path(path).suffix.lower()
    maps = np.asarray(maps, dtype=np.complex64)
    if suffix == ".cfl":
        write_cfl(path, coil_stack_to_bart(maps))
    elif suffix == ".npy":
        np.save(path, maps)
    elif suffix == ".h5":
        import h5py

        with h5py.File(path, "w") as file:
            file.create_dataset("sens_maps", data=maps)
    else:
        raise InputError(f"unknown coil-maps format {suffix}; use .cfl, .npy or .h5", path)
