"""What to do with a :class:`csmri.io.raw.RawScan`: prewhiten it, hand it to the solvers.

:func:`prewhiten_scan` applies the scan's own noise scan (:mod:`csmri.mri.prewhiten`);
:func:`to_acquisition` turns a 2-D scan into the :class:`csmri.acquisition.Acquisition`
every reconstruction method takes.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from csmri.acquisition import Acquisition, Header
from csmri.errors import InputError
from csmri.io.raw import RawScan
from csmri.mri.prewhiten import bandwidth_scale, noise_covariance, whiten, whitening_matrix


def prewhiten_scan(scan: RawScan) -> tuple[RawScan, np.ndarray]:
    """Prewhiten a raw scan's k-space, calibration block and noise with its own noise scan.

    The whitening matrix comes from ``scan.noise`` with Gadgetron's bandwidth
    correction from the header facts (``dwell_us``, ``noise_dwell_us``,
    ``relative_receiver_noise_bandwidth``; 1 where missing).  Coil maps estimated
    later from the whitened calibration data belong to the whitened coils; maps
    estimated before must be whitened with the returned matrix
    (:func:`csmri.mri.prewhiten.whiten_sense`).

    Parameters
    ----------
    scan : RawScan
        From :func:`csmri.io.ismrmrd.read_ismrmrd_raw` or :func:`csmri.io.twix.read_twix`.

    Returns
    -------
    tuple
        A new :class:`~csmri.io.raw.RawScan` (``header["prewhitened"]`` True) and ``W``.

    Raises
    ------
    InputError
        The scan has no noise samples, too few, or a singular covariance.
    """
    if scan.noise is None:
        raise InputError("no noise scan to prewhiten with", scan.source or None)
    facts = scan.header
    scale = bandwidth_scale(
        facts.get("dwell_us"),
        facts.get("noise_dwell_us"),
        facts.get("relative_receiver_noise_bandwidth"),
    )
    source = scan.source or None
    matrix = whitening_matrix(noise_covariance(scan.noise, 0, source), scale, source)
    axis = 0 if scan.is_3d else 1
    calibration = None if scan.calibration is None else whiten(scan.calibration, matrix, axis)
    whitened = dataclasses.replace(
        scan,
        kspace=whiten(scan.kspace, matrix, axis),
        calibration=calibration,
        noise=whiten(scan.noise, matrix, 0),
        header={**facts, "prewhitened": True},
    )
    return whitened, matrix


def to_acquisition(scan: RawScan) -> Acquisition:
    """A 2-D raw scan as an :class:`csmri.acquisition.Acquisition` (what the solvers take).

    The header carries the encoded and recon matrices, the field of view and the
    partial-Fourier fractions (readout, phase); ``noise_covariance`` is the noise
    scan's covariance referred to the imaging data (divided by the square of
    :func:`csmri.mri.prewhiten.bandwidth_scale`), so that
    ``whitening_matrix(acq.noise_covariance)`` whitens ``acq.kspace``.  The
    calibration block is not carried (an Acquisition has no field for it): its
    region and the scan's facts go to ``attrs``.

    Parameters
    ----------
    scan : RawScan
        A 2-D scan (``is_3d`` False) whose slices share one sampling pattern.

    Returns
    -------
    Acquisition

    Raises
    ------
    InputError
        3-D data, or slices sampled differently.
    """
    source = scan.source or None
    if scan.is_3d:
        raise InputError("3-D k-space: an Acquisition holds 2-D slices (use the RawScan)", source)
    if not np.all(scan.mask == scan.mask[:1]):
        raise InputError("slices are sampled differently: one mask cannot describe them", source)
    covariance = None
    if scan.noise is not None:
        facts = scan.header
        scale = bandwidth_scale(
            facts.get("dwell_us"),
            facts.get("noise_dwell_us"),
            facts.get("relative_receiver_noise_bandwidth"),
        )
        covariance = noise_covariance(scan.noise, 0, source) / scale**2
    recon = None if scan.recon_matrix is None else tuple(int(v) for v in scan.recon_matrix[:2])
    header = Header(
        encoded_matrix=(int(scan.encoded_matrix[0]), int(scan.encoded_matrix[1])),
        recon_matrix=recon,
        fov_mm=None if scan.fov_mm is None else (scan.fov_mm[0], scan.fov_mm[1]),
        partial_fourier=(scan.partial_fourier[0], scan.partial_fourier[1]),
    )
    attrs = {
        **{k: v for k, v in scan.header.items() if isinstance(v, (str, int, float, tuple))},
        "acceleration": scan.acceleration,
        "calibration_region": scan.calibration_region,
    }
    return Acquisition(
        scan.kspace,
        scan.mask[0],
        noise_covariance=covariance,
        header=header,
        source=None if source is None else Path(source),
        attrs=attrs,
    )


def embed_calibration(scan: RawScan) -> RawScan:
    """The scan with its calibration-only lines put into the k-space where nothing was measured.

    Siemens GRAPPA scans measure the fully sampled centre as separate calibration lines;
    without them the imaging lines' centre is as undersampled as the rest and ESPIRiT has
    no calibration region.  Embedded, they serve the maps, GRAPPA and the data term (the
    effective mask includes them; ``acceleration`` stays the imaging lines' rate).

    Parameters
    ----------
    scan : RawScan
        A scan, 2-D or 3-D.

    Returns
    -------
    RawScan
        A new scan (the input is not modified); unchanged when it has no calibration.
    """
    if scan.calibration is None or scan.calibration_region is None:
        return scan
    kspace, mask = scan.kspace.copy(), scan.mask.copy()
    (first, last), *rest = scan.calibration_region
    if scan.is_3d:
        (low, high) = rest[0] if rest else (0, kspace.shape[-1])
        region = (slice(None), slice(first, last), slice(low, high))
        empty = ~mask[region]
        kspace[(slice(None), *region)][:, empty] = scan.calibration[:, empty]
        mask[region] |= np.abs(scan.calibration).sum(axis=0) > 0
    else:
        block = scan.calibration
        empty = ~mask[:, :, first:last]
        target = kspace[:, :, :, first:last]
        target[np.broadcast_to(empty[:, None], target.shape)] = block[
            np.broadcast_to(empty[:, None], block.shape)]
        mask[:, :, first:last] |= np.abs(block).sum(axis=1) > 0
    header = {**scan.header, "calibration_embedded": True}
    return dataclasses.replace(scan, kspace=kspace, mask=mask, header=header)


def scan_to_acquisition(scan: RawScan, prewhiten: bool = True) -> Acquisition:
    """What ``read_acquisition`` gives for raw scanner data (ISMRMRD, twix).

    1. prewhitening with the scan's own noise scan, when it has one and ``prewhiten``
       (:func:`prewhiten_scan`; ``attrs["prewhitened"]`` says what was used);
    2. calibration lines embedded (:func:`embed_calibration`);
    3. 3-D scans: an inverse FFT along the fully sampled readout turns the volume into
       independent 2-D ``(ky, kz)`` problems, one "slice" per readout position
       (``(H, C, W, D)`` with a ``(W, D)`` mask), solved like slices;
    4. :func:`to_acquisition`.

    Parameters
    ----------
    scan : RawScan
        From a raw reader.
    prewhiten : bool
        Whiten with the noise scan.

    Returns
    -------
    Acquisition
        The acquisition (noise covariance the identity after whitening).
    """
    note = "no noise scan: not prewhitened"
    if scan.noise is not None and prewhiten:
        scan, _ = prewhiten_scan(scan)
        note = f"prewhitened with the scan's noise ({scan.noise.shape[1]} samples per coil)"
    elif scan.noise is not None:
        note = "noise scan not used (prewhitening off)"
    scan = embed_calibration(scan)
    if scan.is_3d:
        from csmri.mri.cartesian3d import readout_to_planes

        mask = scan.mask.any(axis=0)  # (W, D): a (ky, kz) sample measures every readout point
        slices = readout_to_planes(scan.kspace)  # (H, C, W, D): one (ky, kz) plane per x
        scan = dataclasses.replace(
            scan, kspace=slices, mask=np.broadcast_to(mask, (slices.shape[0], *mask.shape)),
            is_3d=False, encoded_matrix=(*scan.encoded_matrix[1:3], 1),
            recon_matrix=None if scan.recon_matrix is None else tuple(scan.recon_matrix[1:3]),
            partial_fourier=(*scan.partial_fourier[1:3], 1.0),
            header={**scan.header, "split_3d": "inverse FFT along the readout: (ky, kz) slices"},
        )
    acq = to_acquisition(scan)
    acq.attrs["prewhitening"] = note
    return acq
