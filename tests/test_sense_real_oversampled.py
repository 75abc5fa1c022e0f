"""SENSE-TV on a real brain in fastMRI's multi-coil layout (2x oversampled readout) at 4x.

The case of a user report: ESPIRiT maps cropped at BART's 0.8 made SENSE-TV fall below the
zero-filled RSS as it iterated.  The data: a real fully sampled 8-coil slice
(``tests/data/pulseq_brain8ch_kspace.npy``, MIT), its coil images zero-padded along the
readout to twice the matrix (the object in the central half, as every fastMRI multi-coil
file), a fastMRI random column mask (4x, centre fraction 0.08); PSNR against the RSS of the
fully sampled coil images cropped to the recon matrix.
"""

from pathlib import Path

import numpy as np
import pytest

from csmri.app.autolambda import auto_lambda
from csmri.app.reconstruct import reconstruct
from csmri.metrics import center_crop, psnr
from csmri.mri.baseline import rss_zero_filled
from csmri.mri.coils import estimate_maps
from csmri.mri.espirit import espirit
from csmri.mri.fft import fft2c, ifft2c
from csmri.mri.masks import random_mask

DATA = Path(__file__).parent / "data" / "pulseq_brain8ch_kspace.npy"
CHECKS = (1, 5, 10, 25, 50)


@pytest.fixture(scope="module")
def case():
    """Oversampled masked k-space ``(1, 8, 256, 128)``, column mask and the reference."""
    images = ifft2c(np.load(DATA))
    h, w = images.shape[-2:]
    padded = np.zeros((*images.shape[:2], 2 * h, w), np.complex64)
    padded[..., h // 2 : h // 2 + h, :] = images
    mask = random_mask(w, 0.08, 4, seed=1).mask
    kspace = (fft2c(padded) * mask).astype(np.complex64)
    reference = np.sqrt(np.sum(np.abs(images) ** 2, axis=1))
    return kspace, mask, reference


def _scores_over_iterations(kspace, mask, reference, maps) -> dict[int, float]:
    shape = reference.shape[-2:]
    scores = {}

    def record(it, _slices, _objective, images):
        if it in CHECKS:
            scores[it] = psnr(reference, center_crop(np.abs(images), shape))

    lam = auto_lambda(kspace, mask, "tv").lam  # the automatic lambda of ``csmri solve``
    reconstruct(kspace, mask, reg="tv", lam=lam, max_iter=max(CHECKS), maps=maps,
                callback=record)
    return scores


@pytest.fixture(scope="module")
def espirit_scores(case):
    kspace, mask, reference = case
    maps = estimate_maps(kspace, np.broadcast_to(mask, kspace.shape[-2:]), "espirit")
    return _scores_over_iterations(kspace, mask, reference, maps)


def test_sense_tv_never_falls_below_zero_filled_as_it_iterates(case, espirit_scores):
    kspace, _, reference = case
    zero_filled = psnr(reference, center_crop(rss_zero_filled(kspace), reference.shape[-2:]))
    scores = espirit_scores
    assert sorted(scores) == list(CHECKS)
    assert min(scores.values()) > zero_filled, (zero_filled, scores)
    assert scores[max(CHECKS)] > zero_filled + 4, (zero_filled, scores)


def test_espirit_maps_beat_lowres_maps_with_a_narrow_calibration(case, espirit_scores):
    """10 calibration columns: the low-resolution maps are too blurred along the phase
    encoding (about zero-filled quality); ESPIRiT's are not."""
    kspace, mask, reference = case
    maps = estimate_maps(kspace, np.broadcast_to(mask, kspace.shape[-2:]), "lowres")
    lowres = _scores_over_iterations(kspace, mask, reference, maps)
    assert espirit_scores[max(CHECKS)] > lowres[max(CHECKS)] + 4, (espirit_scores, lowres)


def test_cropping_the_maps_at_bart_default_is_what_broke_it(case):
    """The regression's cause, kept as a guard: crop 0.8 ends below zero-filled, 0 does not."""
    kspace, mask, reference = case
    mask2d = np.broadcast_to(mask, kspace.shape[-2:])
    zero_filled = psnr(reference, center_crop(rss_zero_filled(kspace), reference.shape[-2:]))
    cropped = espirit(kspace, mask2d, crop=0.8).numpy()
    scores = _scores_over_iterations(kspace, mask, reference, cropped)
    assert scores[max(CHECKS)] < zero_filled < scores[1]
