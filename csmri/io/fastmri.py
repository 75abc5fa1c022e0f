"""fastMRI ``.h5`` files, single- and multi-coil: read into and write from an Acquisition.

Layout (fastMRI's): ``kspace`` ``(S, H, W)`` or ``(S, C, H, W)`` complex with ``H`` the
readout, optional ``mask`` (``(W,)`` or ``(H, W)``), ``reconstruction_esc`` /
``reconstruction_rss`` (the reference, cropped to the recon matrix), ``sens_maps``, the
``ismrmrd_header`` XML with the encoded and recon matrix sizes, and attributes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.acquisition import Acquisition, Header
from csmri.errors import InputError
from csmri.io.checks import MAX_MASK_ELEMENTS, check_size, first_line
from csmri.io.validate import (
    check_header_matrices,
    validate_kspace,
    validate_multicoil,
    validate_target,
)
from csmri.mri.matrix import header_matrix

TARGET_KEYS = ("reconstruction_esc", "reconstruction_rss")

MAP_KEYS = ("sens_maps", "maps")

def h5_dataset(file: object, key: str, path: Path) -> object | None:
    """The dataset ``key`` if present; refuse groups and data stored outside the file."""
    import h5py

    if key not in file:  # type: ignore[operator]
        return None
    item = file[key]  # type: ignore[index]
    if not isinstance(item, h5py.Dataset):
        raise InputError(f"'{key}' is not a dataset", path)
    if item.external or item.is_virtual:
        raise InputError(f"'{key}' stores its data in other files; refused", path)
    return item

def h5_attrs(file: object) -> dict:
    """File attributes as plain values, skipping any that h5py cannot decode."""
    attrs = {}
    for key in list(file.attrs):  # type: ignore[attr-defined]
        try:
            attrs[key] = _plain(file.attrs[key])  # type: ignore[attr-defined]
        except Exception:  # an exotic attribute is not worth refusing the file
            continue
    return attrs

def _plain(value: object) -> object:
    """HDF5 attribute -> JSON-friendly Python value."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value

def header_matrices(header: bytes | str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """``(encoded, recon)`` matrix sizes ``(x, y)`` from an ``ismrmrd_header`` XML (None: absent).

    Parameters
    ----------
    header : bytes or str
        The XML.

    Returns
    -------
    tuple
        Encoded and recon matrix sizes.
    """
    xml = header.decode(errors="replace") if isinstance(header, bytes) else str(header)
    return header_matrix(xml, "encodedSpace"), header_matrix(xml, "reconSpace")

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
    encoded, recon = header_matrix(xml, "encodedSpace"), header_matrix(xml, "reconSpace")
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


def read_fastmri(path: Path) -> Acquisition:
    """Read a fastMRI ``.h5`` file, single-coil (3-D ``kspace``) or multi-coil (4-D).

    Parameters
    ----------
    path : Path
        An existing ``.h5`` file with a ``kspace`` dataset.

    Returns
    -------
    Acquisition
        The validated contents: k-space, mask (read or inferred), reference, maps,
        header matrix sizes and attributes.
    """
    import h5py

    try:
        with h5py.File(path, "r") as file:
            if "kspace" not in file and "dataset" in file:
                raise InputError("ISMRMRD raw data, not a fastMRI file (csmri.io.ismrmrd)", path)
            dataset = h5_dataset(file, "kspace", path)
            if dataset is None:
                raise InputError("no 'kspace' dataset (not a fastMRI file)", path)
            check_size(dataset.shape, path)
            if dataset.dtype.kind != "c":
                raise InputError(f"k-space must be complex, got {dataset.dtype}", path)
            kspace = dataset[()]
            arrays = {}
            for key in ("mask", *MAP_KEYS, *TARGET_KEYS):
                item = h5_dataset(file, key, path)
                if item is not None:
                    check_size(item.shape, path, *([MAX_MASK_ELEMENTS] if key == "mask" else []))
                    arrays[key] = np.asarray(item[()])
            xml = file["ismrmrd_header"][()] if "ismrmrd_header" in file else None
            attrs = h5_attrs(file)
    except InputError:
        raise
    except MemoryError:  # a legitimate file too big for this machine
        raise
    except Exception as error:  # h5py raises many types (OSError, KeyError, ...) on bad files
        raise InputError(f"not a readable HDF5 file ({first_line(error)})", path) from None
    target = next((arrays[k] for k in TARGET_KEYS if k in arrays), None)
    encoded, recon = header_matrices(xml) if xml is not None else (None, None)
    check_header_matrices(encoded, recon, path)
    header = Header(encoded_matrix=encoded, recon_matrix=recon)
    if kspace.ndim != 4:
        kspace, mask, inferred = validate_kspace(kspace, arrays.get("mask"), path)
        target = validate_target(target, kspace, path)
        return Acquisition(kspace[:, np.newaxis], mask, reference=target, header=header,
                           source=path, attrs=attrs, mask_inferred=inferred)
    maps = next((arrays[k] for k in MAP_KEYS if k in arrays), None)
    kspace, mask, maps, inferred = validate_multicoil(kspace, arrays.get("mask"), maps, path)
    target = validate_target(target, kspace[:, 0], path)
    if xml is not None:
        check_fastmri_header(xml, kspace.shape, target, path)
    return Acquisition(kspace, mask, maps=maps, reference=target, header=header, source=path,
                       attrs=attrs, mask_inferred=inferred,
                       maps_source="file" if maps is not None else "")


def write_fastmri(path: str | Path, acq: Acquisition) -> None:
    """Write an acquisition in fastMRI's layout (single-coil for one coil without maps).

    ``kspace``, ``mask`` (``(W,)`` for a column mask), the reference as
    ``reconstruction_esc`` (single-coil) or ``reconstruction_rss`` (multi-coil) with the
    ``max`` and ``norm`` attributes, ``sens_maps`` when the acquisition has maps, the
    ``ismrmrd_header`` when the header knows both matrix sizes, and the attributes.

    Parameters
    ----------
    path : str or Path
        Destination (written as is; wrap in :func:`csmri.io.atomic.atomic_path`).
    acq : Acquisition
        Contents.
    """
    import h5py

    single = not acq.is_multicoil
    columns = acq.columns
    with h5py.File(path, "w") as file:
        file.create_dataset("kspace", data=(acq.kspace[:, 0] if single else acq.kspace)
                            .astype(np.complex64))
        file.create_dataset("mask", data=(acq.mask if columns is None else columns)
                            .astype(np.float32))
        if acq.reference is not None:
            name = "reconstruction_esc" if single else "reconstruction_rss"
            file.create_dataset(name, data=acq.reference.astype(np.float32))
            file.attrs["max"] = float(acq.reference.max())
            file.attrs["norm"] = float(np.linalg.norm(acq.reference))
        if acq.maps is not None:
            file.create_dataset("sens_maps", data=acq.maps.astype(np.complex64))
        if acq.header.encoded_matrix and acq.header.recon_matrix:
            xml = matrix_header(acq.header.encoded_matrix, acq.header.recon_matrix)
            file.create_dataset("ismrmrd_header", data=xml.encode())
        file.attrs["acquisition"] = "SIMULATED"
        for key, value in acq.attrs.items():
            file.attrs[key] = value
