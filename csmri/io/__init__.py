"""File formats: every k-space reader and writer, and the one place that picks the format.

:func:`read_acquisition` reads any supported k-space file into a
:class:`csmri.acquisition.Acquisition`; :func:`write_acquisition` writes one.  One module
per format: :mod:`~csmri.io.fastmri` (fastMRI ``.h5``, single- and multi-coil),
:mod:`~csmri.io.cfl` (BART), :mod:`~csmri.io.numpy_files` (``.npy``/``.npz``),
:mod:`~csmri.io.ismrmrd` (MRD raw data), :mod:`~csmri.io.twix` (Siemens raw data, the
``twix`` extra; it and :func:`csmri.io.ismrmrd.read_ismrmrd_raw` return a
:class:`csmri.io.raw.RawScan`: calibration lines, noise scan, partial Fourier, 3-D;
:mod:`~csmri.io.raw_convert` prewhitens it or makes it an Acquisition) and
:mod:`~csmri.io.images` (NIfTI, PNG and the embedded sample: the images that ``simulate``
turns into k-space); plus coil-map files
(:mod:`~csmri.io.maps`), reconstructions (:mod:`~csmri.io.reconstruction`), the checks
every reader runs first (:mod:`~csmri.io.checks`, :mod:`~csmri.io.validate`) and atomic
writes (:mod:`~csmri.io.atomic`).  Files that cannot be used raise
:class:`csmri.errors.InputError` naming the file, before any large allocation.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from csmri.acquisition import Acquisition
from csmri.errors import DataWarning, InputError

KSPACE_SUFFIXES = (".h5", ".cfl", ".hdr", ".npy", ".npz", ".dat")
"""Suffixes of the k-space files :func:`read_acquisition` reads."""


def read_acquisition(
    path: str | Path,
    coil_axis: int | None = None,
    traj: str | Path | None = None,
    matrix: tuple[int, int] | None = None,
) -> Acquisition:
    """Read any supported k-space file (single- or multi-coil) into an :class:`Acquisition`.

    Parameters
    ----------
    path : str or Path
        fastMRI ``.h5`` (single- or multi-coil), ISMRMRD ``.h5`` and Siemens twix ``.dat``
        raw data (prewhitened with their noise scans, calibration lines embedded, 3-D
        split along the readout: :func:`csmri.io.raw_convert.scan_to_acquisition`),
        BART ``.cfl``/``.hdr``,
        ``.npy`` or ``.npz`` (``kspace``, optional ``mask``, ``target``, ``sens_maps``; or
        non-Cartesian ``kspace`` with SigPy's ``coord``).
    coil_axis : int, optional
        Coil axis of a ``.npy``/``.npz`` array (default: 1 for 4-D arrays; 3-D arrays are
        single-coil slices unless it is given).
    traj : str or Path, optional
        BART trajectory ``.cfl`` of non-Cartesian k-space in ``path`` (``bart traj``
        units: k in pixels, readout along dim 1).
    matrix : tuple of int, optional
        ``(H, W)`` image matrix of non-Cartesian data (default: the file's, else the
        trajectory's extent).

    Returns
    -------
    Acquisition
        The validated contents, with the file as provenance (``acq.sha256`` hashes the
        k-space).
    """
    from csmri.io.checks import require_file

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".cfl", ".hdr"):
        from csmri.io.cfl import cfl_pair

        data_file = cfl_pair(path)[0]
        require_file(path if path.exists() else data_file, "a k-space file")
        require_file(data_file, "a BART .cfl data file")
    else:
        require_file(path, "a k-space file")
    with warnings.catch_warnings(record=True) as caught:  # library warnings: not shown
        warnings.simplefilter("always")
        acq = _read(path, suffix, coil_axis, traj, matrix)
    # the readers' own warnings (the data contradict the header) are passed on; a file that
    # is refused says so in its one error line instead
    for message in [w.message for w in caught if issubclass(w.category, DataWarning)]:
        warnings.warn(message, DataWarning, stacklevel=2)
    return acq


def _read(
    path: Path, suffix: str, coil_axis: int | None, traj: str | Path | None,
    matrix: tuple[int, int] | None,
) -> Acquisition:
    """Dispatch on the suffix (and content): one place for every format."""
    if True:
        if traj is not None or (suffix == ".npz" and _has_member(path, "coord.npy")):
            return _read_noncartesian(path, traj, matrix)
        if suffix == ".h5" and _is_ismrmrd(path):
            from csmri.io.ismrmrd import read_ismrmrd_raw
            from csmri.io.raw_convert import scan_to_acquisition

            return scan_to_acquisition(read_ismrmrd_raw(path))
        if suffix == ".dat":
            from csmri.io.raw_convert import scan_to_acquisition
            from csmri.io.twix import read_twix

            return scan_to_acquisition(read_twix(path))
        if suffix == ".h5":
            from csmri.io.fastmri import read_fastmri

            return read_fastmri(path)
        if suffix in (".cfl", ".hdr"):
            from csmri.io.cfl import read_cfl_kspace

            return read_cfl_kspace(path)
        if suffix in (".npy", ".npz"):
            from csmri.io.numpy_files import read_numpy

            return read_numpy(path, coil_axis)
    raise InputError(
        f"unknown k-space format {suffix or '(no suffix)'}; "
        f"expected one of {', '.join(KSPACE_SUFFIXES)}",
        path,
    )


def is_kspace_file(path: str | Path) -> bool:
    """Whether a file holds k-space rather than images, from its suffix and header only.

    BART ``.cfl``/``.hdr``, Siemens ``.dat``, ``.h5`` with a ``kspace`` dataset (fastMRI) or an
    ISMRMRD ``dataset`` group, and ``.npz`` with SigPy's ``coord`` (radial/spiral).  Other
    ``.npy``/``.npz``/``.h5`` files are images (or unreadable: their reader says so).

    Parameters
    ----------
    path : str or Path
        Input file.

    Returns
    -------
    bool
        True for k-space.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".cfl", ".hdr", ".dat"):
        return True
    if suffix == ".npz":
        return _has_member(path, "coord.npy")
    if suffix != ".h5":
        return False
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return "kspace" in file or "dataset" in file
    except OSError:
        return False


def _has_member(path: Path, name: str) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return name in archive.namelist()
    except Exception:  # not a zip: the NumPy reader reports it in one line
        return False


def _read_noncartesian(
    path: Path, traj: str | Path | None, matrix: tuple[int, int] | None
) -> Acquisition:
    """Radial or spiral k-space with its trajectory (:mod:`csmri.io.noncartesian`)."""
    import numpy as np

    from csmri.acquisition import Trajectory
    from csmri.io.noncartesian import read_bart_noncartesian, read_npz_noncartesian

    reference = None
    if traj is None:
        scan = read_npz_noncartesian(path, matrix)
        if _has_member(path, "target.npy"):
            from csmri.io.validate import validate_target

            with np.load(path, allow_pickle=False) as archive:
                target = archive["target"]
            reference = validate_target(target, np.empty((len(scan.kspace), *scan.shape)), path)
    else:
        from csmri.io.cfl import cfl_pair
        from csmri.io.checks import require_file

        require_file(cfl_pair(traj)[0], "a BART trajectory .cfl file")
        scan = read_bart_noncartesian(path, traj, matrix)
    sampling = Trajectory(scan.traj, tuple(int(s) for s in scan.shape), scan.weights)
    return Acquisition(np.asarray(scan.kspace, dtype=np.complex64), None, source=path,
                       reference=reference, trajectory=sampling)


def _is_ismrmrd(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return "kspace" not in file and "dataset" in file
    except Exception:  # unreadable: the fastMRI reader reports it in one line
        return False


def write_acquisition(path: str | Path, acq: Acquisition) -> None:
    """Write an acquisition in the format named by the suffix.

    ``.h5``: fastMRI's layout (:func:`csmri.io.fastmri.write_fastmri`); ``.cfl``: BART
    (k-space only: the mask is re-inferred on reading); ``.npz``/``.npy``: NumPy.

    Parameters
    ----------
    path : str or Path
        Destination (written as is; wrap in :func:`csmri.io.atomic.atomic_path`).
    acq : Acquisition
        Contents.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".h5":
        from csmri.io.fastmri import write_fastmri

        write_fastmri(path, acq)
    elif suffix == ".cfl":
        from csmri.io.cfl import coil_stack_to_bart, write_cfl

        write_cfl(path, coil_stack_to_bart(acq.kspace))
    elif suffix in (".npz", ".npy"):
        from csmri.io.numpy_files import write_numpy

        write_numpy(path, acq)
    else:
        raise InputError(f"unknown k-space format {suffix}; use .h5, .cfl, .npz or .npy", path)


def output_crop(acq: Acquisition, image_shape: tuple[int, int]) -> tuple[int, int] | None:
    """The recon-matrix crop of the output images, fastMRI's ``center_crop`` size, or None.

    :func:`csmri.mri.matrix.recon_crop` of the header's recon matrix and the reference's
    shape (fastMRI's rule: an axis where the recon matrix does not fit the image is clamped,
    with a warning; without one, the reference's size when it fits; else no crop).

    Parameters
    ----------
    acq : Acquisition
        The input.
    image_shape : tuple of int
        ``(H, W)`` of the reconstructed images (the encoded grid).

    Returns
    -------
    tuple of int or None
        ``(h, w)`` to crop to, None when that is the whole image.
    """
    from csmri.mri.matrix import recon_crop

    reference = None if acq.reference is None else acq.reference.shape
    return recon_crop(image_shape, acq.header.recon_matrix, reference, acq.source)
