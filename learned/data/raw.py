"""Training slices from raw k-space: the complex image a scanner measured, not a magnitude.

Training on magnitude images with a synthetic phase is the "implicit data crime" of
Shimron et al. (PNAS 2022): processed magnitudes are smoother and cleaner than what a
scanner measures, and models trained on them lose on real scans.  A fully sampled k-space
file (fastMRI ``.h5``, single- or multi-coil, or ISMRMRD) gives instead, per slice:

* one coil: the complex image ``ifft2c(kspace)``;
* several coils: the SENSE-combined complex image ``sum_c conj(S_c) ifft2c(y_c)`` with
  ESPIRiT maps of the fully sampled data, so real phase and real coil noise stay in;

centre-cropped to the recon matrix as fastMRI does (header, or the reference's size).  The
training pipeline then masks it afresh for every example; no synthetic phase is added.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from csmri.errors import InputError


def has_kspace(path: Path) -> bool:
    """Whether an ``.h5`` file holds k-space (fastMRI ``kspace`` or ISMRMRD ``dataset``)."""
    if path.suffix.lower() != ".h5":
        return False
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return "kspace" in file or "dataset" in file
    except OSError:
        return False


def kspace_images(path: Path) -> tuple[np.ndarray, str]:
    """Complex training slices ``(S, h, w)`` from a k-space file, and what they are.

    Parameters
    ----------
    path : Path
        fastMRI or ISMRMRD ``.h5`` k-space.

    Returns
    -------
    images : ndarray of complex64, shape (S, h, w)
        Fully sampled: the (coil-combined) complex images.  Undersampled with a reference:
        the reference magnitudes (as before 0.2: the file's own processed image).
    kind : str
        ``"kspace"`` or ``"reference"``, for the manifest.

    Raises
    ------
    InputError
        For undersampled k-space without a reference.
    """
    from csmri.io import output_crop, read_acquisition
    from csmri.metrics import center_crop
    from csmri.mri.baseline import sense_adjoint
    from csmri.mri.coils import ensure_maps
    from csmri.mri.fft import ifft2c

    acq = read_acquisition(path)
    if not acq.mask.all():
        if acq.reference is None:
            raise InputError(
                "undersampled k-space without a reference: supervised training needs fully "
                "sampled data (self-supervised training from undersampled data is not built "
                "yet)",
                path,
            )
        return acq.reference.astype(np.complex64), "reference"
    if acq.num_coils == 1:
        images = ifft2c(acq.kspace[:, 0])
    else:
        images = sense_adjoint(acq.kspace, ensure_maps(acq, "espirit"))
    crop = output_crop(acq, images.shape[-2:])
    if crop is not None:
        images = center_crop(images, crop)
    return np.ascontiguousarray(images, dtype=np.complex64), "kspace"
