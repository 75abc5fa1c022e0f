"""Siemens twix raw data (``.dat``, VB and VD/VE) -> :class:`csmri.io.raw.RawScan`.

Read with ``twixtools`` (MIT; the optional ``twix`` extra, imported only here).
A multi-raid file holds several measurements (adjustments first): the last one
is the scan.  Its measurement data blocks (MDBs) are sorted as twixtools' own
categories do: imaging lines (``image``, including ``PATREFANDIMASCAN``),
separate calibration lines (``refscan``: ``PATREFSCAN``) and the noise scan
(``noise``: ``NOISEADJSCAN``, from the last measurement, else from an earlier
one); phase-correction, phase-stabilisation, feedback and sync blocks are skipped.

Lines go by their MDH counters: ``Lin`` (phase encoding) and ``Par``
(partition, 3-D) with the MDH's ``CenterLin`` / ``CenterPar`` at the matrix
centre (a partial Fourier scan may number its lines from 0), or by the
counters themselves where that centre does not fit (Pulseq writes 0);
``Sli`` (slice); ``Ave`` (averaged).  The readout's ``CenterCol`` goes to
row ``H // 2``.  The protocol gives the
encoded matrix (``lBaseResolution`` times the readout oversampling,
``lPhaseEncodingLines``, ``lPartitions``); a Pulseq sequence writes a
placeholder protocol, so where it does not hold the data the data decide, with
one warning.  The data are 3-D when the protocol says so (``ucDimension`` 3-D
with several partitions) or lines carry partition indices.

Readout oversampling (usually 2) is kept by default: ``encoded_matrix`` is the
oversampled one and ``recon_matrix`` the protocol's.  ``remove_oversampling``
crops the image to the central ``1 / os`` of the readout field of view, as
twixtools' ``remove_os`` flag does (same FFT scaling: sample amplitudes kept),
and multiplies the reported ``dwell_us`` by ``os`` so that
:func:`csmri.mri.prewhiten.bandwidth_scale` stays right for the noise scan.
"""

from __future__ import annotations

import contextlib
import gc
import io
import warnings
from pathlib import Path

import numpy as np

from csmri.errors import InputError, one_line
from csmri.extras import require
from csmri.io.raw import RawScan, ReadoutLine, assemble, place_lines, stack_noise

# siemens_to_ismrmrd's relativeReceiverNoiseBandwidth for Siemens receivers
SIEMENS_NOISE_BANDWIDTH = 0.793
_SKIPPED = ("SYNCDATA", "ACQEND", "RTFEEDBACK", "HPFEEDBACK", "PHASCOR", "PHASESTABSCAN",
            "REFPHASESTABSCAN", "noname60")


def _twixtools():
    return require("twixtools", "twix", "reading Siemens twix files")


def _load(path: Path) -> list[dict]:
    """Every measurement of a twix file; truncated or unreadable files are refused."""
    twixtools = _twixtools()
    if not path.is_file():
        raise InputError("no such file", path)
    chatter, failure = io.StringIO(), None
    with warnings.catch_warnings():
        # twixtools leaves its file open when parsing fails: the handle is closed by
        # the garbage collector, which must not warn inside a caller's test
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(io.StringIO()):
                scans = twixtools.read_twix(
                    str(path), verbose=False, keep_acqend=True, parse_pmu=False,
                    parse_geometry=False,
                )
        except MemoryError:
            raise
        except Exception as error:
            failure = one_line(error) or type(error).__name__
        gc.collect()
    if failure is not None or not scans:
        raise InputError(f"not a readable Siemens twix file ({failure or 'no measurement'})", path)
    last = scans[-1]
    if "Mdb parsing encountered an error" in chatter.getvalue() or not any(
        mdb.is_flag_set("ACQEND") for mdb in last["mdb"][-2:]
    ):
        raise InputError(
            "truncated twix file: the last measurement ends before its ACQEND block", path
        )
    if "MeasYaps" not in last.get("hdr", {}):
        raise InputError("twix measurement without a protocol header", path)
    return scans


def _get(mapping: dict, *keys, default=None):
    for key in keys:
        if not isinstance(mapping, dict) or key not in mapping or mapping[key] == "":
            return default
        mapping = mapping[key]
    return mapping


def _dwell_us(hdr: dict) -> float | None:
    dwell = _get(hdr, "MeasYaps", "sRXSPEC", "alDwellTime")
    if isinstance(dwell, list):
        dwell = dwell[0] if dwell else None
    return None if not dwell else float(dwell) / 1000.0  # the protocol stores ns


def _kind(mdb) -> str | None:
    if mdb.is_flag_set("NOISEADJSCAN"):
        return "noise"
    if any(mdb.is_flag_set(flag) for flag in _SKIPPED):
        return None
    if mdb.is_flag_set("PATREFSCAN") and not mdb.is_flag_set("PATREFANDIMASCAN"):
        return "refscan"
    return "image" if mdb.is_image_scan() else None


def read_twix(path: str | Path, remove_oversampling: bool = False) -> RawScan:
    """Read the last measurement of a Siemens twix file (Cartesian 2-D or 3-D).

    Parameters
    ----------
    path : str or Path
        The ``.dat`` file.
    remove_oversampling : bool
        Crop the readout field of view by the protocol's oversampling factor.

    Returns
    -------
    RawScan
        2-D ``(S, C, H, W)`` or 3-D ``(C, H, W, D)`` k-space, the calibration
        (refscan) block, the noise scan ``(C, N)`` and the header facts:
        ``format`` ("twix"), ``dwell_us``, ``noise_dwell_us``,
        ``relative_receiver_noise_bandwidth`` (Siemens' 0.793),
        ``readout_oversampling``, ``oversampling_removed``,
        ``header_acceleration`` (``lAccelFactPE``, ``lAccelFact3D``),
        ``header_encoded_matrix``, ``header_recon_matrix``.

    Raises
    ------
    InputError
        Unreadable or truncated file, no imaging scan, reflected (EPI) readouts,
        several echoes, phases, repetitions or sets, coil counts that differ
        between image, refscan and noise, or a slab too large to hold.
    UsageError
        twixtools is not installed.
    """
    path = Path(path)
    scans = _load(path)
    last, hdr = scans[-1], scans[-1]["hdr"]
    groups: dict[str, list] = {"image": [], "refscan": [], "noise": []}
    for mdb in last["mdb"]:
        kind = _kind(mdb)
        if kind is not None:
            groups[kind].append(mdb)
    if not groups["image"]:
        raise InputError("the last measurement has no imaging scan", path)
    lines = groups["image"] + groups["refscan"]
    if any(mdb.is_flag_set("REFLECT") for mdb in lines):
        raise InputError("reflected (EPI) readouts need phase correction: not supported", path)
    for counter in ("cEco", "cPhs", "cRep", "cSet"):
        values = {getattr(mdb, counter) for mdb in groups["image"]}
        if len(values) > 1:
            raise InputError(
                f"{len(values)} different {counter[1:]} counters: only one image per slice is "
                "supported",
                path,
            )
    space = _get(hdr, "MeasYaps", "sKSpace", default={})
    oversampling = float(_get(hdr, "Dicom", "flReadoutOSFactor", default=1.0) or 1.0)
    base = int(_get(space, "lBaseResolution", default=0) or 0)
    partitions = int(_get(space, "lPartitions", default=1) or 1)
    is_3d = (_get(space, "ucDimension") == 4 and partitions > 1) or any(
        mdb.cPar > 0 for mdb in lines
    )
    matrix = (round(base * oversampling), int(_get(space, "lPhaseEncodingLines", default=0) or 0),
              partitions if is_3d else 1)
    slab = _get(hdr, "MeasYaps", "sSliceArray", "asSlice", default=[{}])[0]
    ro_fov, pe_fov = _get(slab, "dReadoutFOV"), _get(slab, "dPhaseFOV")
    recon = (base, round(base * pe_fov / ro_fov) if ro_fov and pe_fov else matrix[1],
             int(_get(space, "lImagesPerSlab", default=partitions) or 1) if is_3d else 1)
    noise_blocks, noise_dwell = [m.data for m in groups["noise"]], _dwell_us(hdr)
    for earlier in reversed(scans[:-1]) if not noise_blocks else ():
        found = [m.data for m in earlier["mdb"] if _kind(m) == "noise"]
        if found:
            noise_blocks, noise_dwell = found, _dwell_us(earlier.get("hdr", {}))
            break
    first = groups["image"][0].mdh
    rows = place_lines([m.cLin for m in lines], int(first.CenterLin), matrix[1], "line", path)
    parts = [0] * len(lines)
    if is_3d:
        parts = place_lines([m.cPar for m in lines], int(first.CenterPar), matrix[2],
                            "partition", path)
    readout = [
        ReadoutLine(
            data=mdb.data,
            center=int(mdb.mdh.CenterCol),
            row=row,
            partition=part,
            slice=int(mdb.cSlc),
            imaging=_kind(mdb) == "image",
            calibration=mdb.is_flag_set("PATREFSCAN") or mdb.is_flag_set("PATREFANDIMASCAN"),
        )
        for mdb, row, part in zip(lines, rows, parts, strict=True)
    ]
    pat = _get(hdr, "MeasYaps", "sPat", default={})
    facts = {
        "format": "twix",
        "dwell_us": _dwell_us(hdr),
        "noise_dwell_us": noise_dwell if noise_blocks else None,
        "relative_receiver_noise_bandwidth": SIEMENS_NOISE_BANDWIDTH,
        "readout_oversampling": oversampling,
        "oversampling_removed": False,
        "header_acceleration": (_get(pat, "lAccelFactPE", default=1),
                                _get(pat, "lAccelFact3D", default=1)),
        "header_encoded_matrix": matrix,
        "header_recon_matrix": recon,
    }
    thickness = float(_get(slab, "dThickness", default=0.0))
    fov = (float(ro_fov) * oversampling, float(pe_fov), thickness) if ro_fov and pe_fov else None
    scan = assemble(
        readout,
        matrix,
        is_3d,
        path,
        noise=stack_noise(noise_blocks, readout[0].data.shape[0], path),
        recon_matrix=recon,
        fov_mm=fov,
        header=facts,
    )
    if remove_oversampling and oversampling > 1:
        _remove_oversampling(scan, oversampling)
    return scan


def _crop_readout(data: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Centre crop of the readout field of view; twixtools' FFT scaling (amplitudes kept)."""
    image = np.fft.fftshift(np.fft.ifft(np.fft.ifftshift(data, axes=axis), axis=axis), axes=axis)
    start = (data.shape[axis] - size) // 2
    image = np.take(image, np.arange(start, start + size), axis=axis)
    return np.fft.fftshift(np.fft.fft(np.fft.ifftshift(image, axes=axis), axis=axis), axes=axis)


def _remove_oversampling(scan: RawScan, factor: float) -> None:
    """Crop the readout by ``factor`` in place of ``scan`` (k-space, mask, calibration)."""
    h = scan.kspace.shape[-3] if scan.is_3d else scan.kspace.shape[-2]
    size = round(h / factor)
    step = round(factor)
    axis, mask_axis = (1, 0) if scan.is_3d else (2, 1)
    # the kept samples sit every os-th row, the centre row h // 2 mapping to size // 2
    offset = h // 2 - step * (size // 2)
    kept = np.take(scan.mask, offset + step * np.arange(size), axis=mask_axis)
    coil_mask = kept[None] if scan.is_3d else kept[:, None]
    scan.kspace = (_crop_readout(scan.kspace, axis, size) * coil_mask).astype(np.complex64)
    scan.mask = kept
    if scan.calibration is not None:
        scan.calibration = _crop_readout(scan.calibration, axis, size).astype(np.complex64)
    scan.encoded_matrix = (size, *scan.encoded_matrix[1:])
    scan.header["oversampling_removed"] = True
    if scan.header.get("dwell_us"):
        scan.header["dwell_us"] *= factor  # half the bandwidth, half the noise power
    if scan.fov_mm is not None:
        scan.fov_mm = (scan.fov_mm[0] / factor, *scan.fov_mm[1:])
