"""ISMRMRD/MRD raw data (``.h5``) -> Cartesian 2-D multi-coil k-space.

Each imaging acquisition is one readout line of all coils.  Lines are placed by
``idx.kspace_encode_step_1`` relative to the header's encoding-limit centre
(row ``W // 2`` of the encoded matrix) and slices by ``idx.slice``; the
readout's ``center_sample`` goes to column ``H // 2`` (asymmetric echoes are
zero-filled).  Noise, navigator, calibration-only and phase-correction lines
are skipped; repeated lines (averages) are averaged; several contrasts,
repetitions, cardiac phases or sets are refused.  The layout matches
fastMRI: ``(S, C, H, W)`` with ``H`` the readout and ``W`` the phase encoding.
Non-Cartesian trajectories and 3-D encodings are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.errors import InputError
from csmri.extras import require

_SKIP_FLAGS = (
    "ACQ_IS_NOISE_MEASUREMENT",
    "ACQ_IS_NAVIGATION_DATA",
    "ACQ_IS_PHASECORR_DATA",
    "ACQ_IS_PARALLEL_CALIBRATION",
    "ACQ_IS_DUMMYSCAN_DATA",
    "ACQ_IS_RTFEEDBACK_DATA",
    "ACQ_IS_HPFEEDBACK_DATA",
)


def read_ismrmrd(path: str | Path):  # -> MulticoilData (imported lazily: no cycle)
    """Read a Cartesian 2-D ISMRMRD file into :class:`csmri.io.multicoil.MulticoilData`.

    Parameters
    ----------
    path : str or Path
        ISMRMRD ``.h5`` with a ``dataset`` group (XML header and acquisitions).

    Returns
    -------
    MulticoilData
        k-space ``(S, C, H, W)``, the sampled mask, and the header's matrix sizes in
        ``attrs`` (``encoded_matrix``, ``recon_matrix``).
    """
    ismrmrd = require("ismrmrd", "mrd", "reading ISMRMRD/MRD raw data")

    from csmri.io.multicoil import MulticoilData, validate_multicoil

    path = Path(path)
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
    encoding = header.encoding[0]
    trajectory = getattr(encoding.trajectory, "value", str(encoding.trajectory))
    if str(trajectory).lower() != "cartesian":
        raise InputError(
            f"{trajectory} trajectory: only Cartesian ISMRMRD data can be reconstructed", path
        )
    h, w, depth = (
        encoding.encodedSpace.matrixSize.x,
        encoding.encodedSpace.matrixSize.y,
        encoding.encodedSpace.matrixSize.z,
    )
    if depth > 1:
        raise InputError(f"3-D encoding (matrix z = {depth}): only 2-D slices are supported", path)
    limits = encoding.encodingLimits
    step1 = limits.kspace_encoding_step_1
    centre = step1.center if step1 is not None and step1.center is not None else w // 2
    slices = limits.slice.maximum + 1 if limits.slice is not None else 1
    skip = 0
    for name in _SKIP_FLAGS:
        skip |= 1 << (getattr(ismrmrd, name) - 1)
    lines = [a for a in acquisitions if not (a.flags & skip)]
    if not lines:
        raise InputError("no imaging acquisitions (only noise or calibration lines)", path)
    coils = {a.active_channels for a in lines}
    if len(coils) != 1:
        raise InputError(f"coil counts differ between acquisitions: {sorted(coils)}", path)
    n_coils = coils.pop()
    for counter in ("contrast", "repetition", "phase", "set"):
        values = {getattr(a.idx, counter) for a in lines}
        if len(values) > 1:
            raise InputError(
                f"{len(values)} different {counter} indices: only one image per slice is "
                "supported (extract one first)",
                path,
            )
    kspace = np.zeros((slices, n_coils, h, w), dtype=np.complex128)
    counts = np.zeros((slices, w), dtype=np.int64)
    for acq in lines:
        if acq.trajectory_dimensions > 0 and np.any(acq.traj != 0):
            raise InputError("acquisitions carry a non-Cartesian trajectory; refused", path)
        n = acq.number_of_samples
        start = h // 2 - acq.center_sample
        row = acq.idx.kspace_encode_step_1 - centre + w // 2
        s = acq.idx.slice
        if start < 0 or start + n > h or not 0 <= row < w or not 0 <= s < slices:
            raise InputError(
                f"header contradicts data: a readout of {n} samples (centre "
                f"{acq.center_sample}) at line {acq.idx.kspace_encode_step_1}, slice {s} "
                f"does not fit the encoded matrix {h}x{w} with {slices} slices",
                path,
            )
        kspace[s, :, start : start + n, row] += acq.data
        counts[s, row] += 1
    kspace /= np.maximum(counts, 1)[:, None, None, :]
    recon = encoding.reconSpace.matrixSize
    kspace, mask, _, inferred = validate_multicoil(kspace.astype(np.complex64), None, None, path)
    attrs = {"encoded_matrix": [h, w], "recon_matrix": [recon.x, recon.y], "format": "ismrmrd"}
    return MulticoilData(kspace, mask, None, None, attrs, inferred)


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
