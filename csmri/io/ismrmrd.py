"""ISMRMRD/MRD raw data (``.h5``): :func:`read_ismrmrd_raw` and :func:`write_ismrmrd`.

:func:`read_ismrmrd_raw` reads a Cartesian file into :class:`csmri.io.raw.RawScan`: the
imaging lines (placed by ``idx.kspace_encode_step_1`` and ``idx.slice``, readouts by their
``center_sample``), calibration lines (on their own and with the image), the noise scan,
partial-Fourier fractions, 3-D encodings and the header facts, trusting the data (with a
warning) where the header contradicts them.  Repeated lines (averages) are averaged; several
contrasts, repetitions, cardiac phases or sets, and non-Cartesian trajectories, are refused.
:func:`csmri.io.read_acquisition` turns the scan into an Acquisition
(:func:`csmri.io.raw_convert.scan_to_acquisition`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.errors import InputError
from csmri.extras import require
from csmri.io.raw import RawScan, ReadoutLine, assemble, place_lines, stack_noise


def _read(path: Path) -> tuple:
    """The parsed XML header and every acquisition of an ISMRMRD file."""
    ismrmrd = require("ismrmrd", "mrd", "reading ISMRMRD/MRD raw data")

    try:
        with ismrmrd.Dataset(str(path), "dataset", mode="r") as dataset:
            xml = dataset.read_xml_header()
            header = ismrmrd.xsd.CreateFromDocument(xml.decode() if isinstance(xml, bytes) else xml)
            count = dataset.number_of_acquisitions()
            acquisitions = [dataset.read_acquisition(i) for i in range(count)]
    except InputError:
        raise
    except MemoryError:
        raise
    except Exception as error:
        text = str(error).strip().splitlines()
        raise InputError(
            f"not a readable ISMRMRD file ({text[0] if text else type(error).__name__})", path
        ) from None
    return header, acquisitions


_IGNORED_FLAGS = (
    "ACQ_IS_NAVIGATION_DATA",
    "ACQ_IS_PHASECORR_DATA",
    "ACQ_IS_DUMMYSCAN_DATA",
    "ACQ_IS_RTFEEDBACK_DATA",
    "ACQ_IS_HPFEEDBACK_DATA",
    "ACQ_IS_SURFACECOILCORRECTIONSCAN_DATA",
    "ACQ_IS_PHASE_STABILIZATION_REFERENCE",
    "ACQ_IS_PHASE_STABILIZATION",
)


def _limits(limit) -> tuple[int, int, int] | None:
    """``(minimum, maximum, center)`` of an encoding limit, None when absent."""
    return None if limit is None else (limit.minimum, limit.maximum, limit.center)


def _centre(limit, size: int) -> int:
    return limit.center if limit is not None and limit.center is not None else size // 2


def read_ismrmrd_raw(path: str | Path) -> RawScan:
    """Read a Cartesian ISMRMRD file with its calibration lines, noise scan and header facts.

    Imaging lines (and calibration-and-imaging lines) form the k-space;
    calibration-only lines (``ACQ_IS_PARALLEL_CALIBRATION``) form only the
    calibration block; noise acquisitions (``ACQ_IS_NOISE_MEASUREMENT``) are
    returned as ``noise``; navigator, phase-correction, dummy and feedback lines
    are skipped.  2-D encodings give ``(S, C, H, W)``, 3-D encodings (matrix
    ``z > 1`` or lines with ``kspace_encode_step_2``) ``(C, H, W, D)``.
    Placement and the header-versus-data rules are those of :mod:`csmri.io.raw`.

    Parameters
    ----------
    path : str or Path
        ISMRMRD ``.h5`` with a ``dataset`` group.

    Returns
    -------
    RawScan
        With ``header`` facts: ``format`` ("ismrmrd"), ``dwell_us``,
        ``noise_dwell_us``, ``relative_receiver_noise_bandwidth``,
        ``header_acceleration`` (the header's ``(step 1, step 2)`` factors or None),
        ``header_encoded_matrix``, ``phase_limits`` and ``partition_limits``
        (the encoding limits' ``(minimum, maximum, center)``; the
        ``partial_fourier`` fractions come from the lines actually sampled
        around that centre).

    Raises
    ------
    InputError
        Unreadable file, non-Cartesian trajectory, reversed (EPI) readouts, several
        contrasts, repetitions, phases or sets, coil counts that differ between
        imaging, calibration and noise lines, several 3-D slabs, or a slab too
        large to hold.
    """
    ismrmrd = require("ismrmrd", "mrd", "reading ISMRMRD/MRD raw data")

    path = Path(path)
    header, acquisitions = _read(path)
    encoding = header.encoding[0]
    trajectory = getattr(encoding.trajectory, "value", str(encoding.trajectory))
    if str(trajectory).lower() != "cartesian":
        raise InputError(
            f"{trajectory} trajectory: only Cartesian ISMRMRD data can be reconstructed", path
        )
    space = encoding.encodedSpace
    matrix = (space.matrixSize.x, space.matrixSize.y, space.matrixSize.z or 1)
    noise, kept = [], []
    for acq in acquisitions:
        if acq.is_flag_set(ismrmrd.ACQ_IS_NOISE_MEASUREMENT):
            noise.append(acq)
        elif not any(acq.is_flag_set(getattr(ismrmrd, name)) for name in _IGNORED_FLAGS):
            kept.append(acq)
    calibration_only = ismrmrd.ACQ_IS_PARALLEL_CALIBRATION
    imaging = [a for a in kept if not a.is_flag_set(calibration_only)]
    for counter in ("contrast", "repetition", "phase", "set"):
        values = {getattr(a.idx, counter) for a in imaging}
        if len(values) > 1:
            raise InputError(
                f"{len(values)} different {counter} indices: only one image per slice is "
                "supported (extract one first)",
                path,
            )
    if any(a.trajectory_dimensions > 0 and np.any(a.traj != 0) for a in kept):
        raise InputError("acquisitions carry a non-Cartesian trajectory; refused", path)
    if any(a.is_flag_set(ismrmrd.ACQ_IS_REVERSE) for a in kept):
        raise InputError("reversed (EPI) readouts need phase correction: not supported", path)
    # lines with partition indices make 3-D data even where the header says 2-D
    # (assemble then warns that the header's matrix does not hold them)
    is_3d = matrix[2] > 1 or any(a.idx.kspace_encode_step_2 > 0 for a in kept)
    limits = encoding.encodingLimits
    centre = _centre(limits.kspace_encoding_step_1, matrix[1])
    rows = place_lines([a.idx.kspace_encode_step_1 for a in kept], centre, matrix[1], "phase", path)
    parts = [0] * len(kept)
    if is_3d:
        centre = _centre(limits.kspace_encoding_step_2, matrix[2])
        steps = [a.idx.kspace_encode_step_2 for a in kept]
        parts = place_lines(steps, centre, matrix[2], "partition", path)
    lines = [
        ReadoutLine(
            data=a.data,
            center=a.center_sample,
            row=row,
            partition=part,
            slice=a.idx.slice,
            imaging=not a.is_flag_set(calibration_only),
            calibration=a.is_flag_set(calibration_only)
            or a.is_flag_set(ismrmrd.ACQ_IS_PARALLEL_CALIBRATION_AND_IMAGING),
        )
        for a, row, part in zip(kept, rows, parts, strict=True)
    ]
    coils = imaging[0].active_channels if imaging else None
    system = header.acquisitionSystemInformation
    parallel = encoding.parallelImaging
    factor = None if parallel is None else parallel.accelerationFactor
    recon = encoding.reconSpace
    fov = space.fieldOfView_mm
    facts = {
        "format": "ismrmrd",
        "dwell_us": float(imaging[0].sample_time_us) if imaging else None,
        "noise_dwell_us": float(noise[0].sample_time_us) if noise else None,
        "relative_receiver_noise_bandwidth": (
            None if system is None else system.relativeReceiverNoiseBandwidth
        ),
        "header_acceleration": (
            None if factor is None
            else (factor.kspace_encoding_step_1, factor.kspace_encoding_step_2)
        ),
        "header_encoded_matrix": tuple(int(m) for m in matrix),
        "phase_limits": _limits(limits.kspace_encoding_step_1),
        "partition_limits": _limits(limits.kspace_encoding_step_2),
    }
    return assemble(
        lines,
        matrix,
        is_3d,
        path,
        noise=stack_noise([a.data for a in noise], coils, path),
        recon_matrix=(recon.matrixSize.x, recon.matrixSize.y, recon.matrixSize.z or 1),
        fov_mm=(float(fov.x), float(fov.y), float(fov.z)),
        header=facts,
    )


def write_ismrmrd(
    path: str | Path,
    kspace: np.ndarray,
    mask: np.ndarray | None = None,
    trajectory: str = "cartesian",
) -> None:
    """Write ``(S, C, H, W)`` k-space as an ISMRMRD file, one acquisition per sampled line.

    Used by the tests and to export simulations.  Lines whose column is not in
    ``mask`` (a ``(W,)`` column mask) are not written.

    Parameters
    ----------
    path : str or Path
        Destination (a new file).
    kspace : ndarray, shape (S, C, H, W)
        k-space, readout along ``H``.
    mask : ndarray of bool, shape (W,), optional
        Phase-encoding lines to write (all when omitted).
    trajectory : str
        Header trajectory (``"cartesian"``; others only to test the refusal).
    """
    ismrmrd = require("ismrmrd", "mrd", "writing ISMRMRD/MRD raw data")

    s, c, h, w = kspace.shape
    xsd = ismrmrd.xsd
    space = xsd.encodingSpaceType(
        matrixSize=xsd.matrixSizeType(x=h, y=w, z=1),
        fieldOfView_mm=xsd.fieldOfViewMm(x=float(h), y=float(w), z=1.0),
    )
    limits = xsd.encodingLimitsType(
        kspace_encoding_step_1=xsd.limitType(minimum=0, maximum=w - 1, center=w // 2),
        slice=xsd.limitType(minimum=0, maximum=s - 1, center=0),
    )
    encoding = xsd.encodingType(
        encodedSpace=space,
        reconSpace=space,
        encodingLimits=limits,
        trajectory=xsd.trajectoryType(trajectory),
    )
    header = xsd.ismrmrdHeader(
        experimentalConditions=xsd.experimentalConditionsType(H1resonanceFrequency_Hz=63500000),
        encoding=[encoding],
        acquisitionSystemInformation=xsd.acquisitionSystemInformationType(receiverChannels=c),
    )
    columns = np.ones(w, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    with ismrmrd.Dataset(str(path), "dataset", mode="w") as dataset:
        dataset.write_xml_header(ismrmrd.xsd.ToXML(header))
        for z in range(s):
            for line in np.flatnonzero(columns):
                acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(kspace[z, :, :, line]))
                acq.center_sample = h // 2
                acq.idx.kspace_encode_step_1 = int(line)
                acq.idx.slice = z
                dataset.append_acquisition(acq)
