"""Partial Fourier: homodyne and POCS beat zero-filling; POCS recovers a real image exactly."""

import numpy as np
import pytest

from csmri.errors import InputError, UsageError
from csmri.io.images import shepp_logan
from csmri.metrics import psnr
from csmri.mri.coil_sim import simulate_multicoil
from csmri.mri.fft import fft2c, ifft2c
from csmri.mri.partial_fourier import homodyne, partial_fourier_baseline, phase_estimate, pocs
from csmri.mri.simulate import smooth_phase


def _truncate(kspace, count, axis, side):
    out = np.array(kspace)
    index = [slice(None)] * out.ndim
    size = out.shape[axis]
    index[axis] = slice(count, None) if side == "low" else slice(0, size - count)
    out[tuple(index)] = 0
    return out


@pytest.mark.parametrize("axis", [-1, -2])
@pytest.mark.parametrize("side", ["low", "high"])
def test_homodyne_and_pocs_beat_zero_filling_on_a_smooth_phase_image(axis, side):
    magnitude = shepp_logan(64).astype(np.float64)
    image = magnitude * np.exp(1j * smooth_phase((64, 64), np.random.default_rng(0)))
    kspace = _truncate(fft2c(image), 40, axis, side)  # 5/8 partial Fourier
    zero = psnr(magnitude, np.abs(ifft2c(kspace)))
    ramp = psnr(magnitude, np.abs(homodyne(kspace, 0.625, axis)))
    step = psnr(magnitude, np.abs(homodyne(kspace, 0.625, axis, filter="step")))
    projected = psnr(magnitude, np.abs(pocs(kspace, 0.625, axis, iterations=10)))
    assert min(ramp, step, projected) > zero + 6, (zero, ramp, step, projected)


@pytest.mark.parametrize("size", [64, 63])
def test_pocs_recovers_a_real_image_exactly_and_homodyne_nearly(size):
    real = shepp_logan(size).astype(np.float64)
    kspace = _truncate(fft2c(real), round(0.625 * size), -1, "low")
    zero_error = np.linalg.norm(ifft2c(kspace) - real) / np.linalg.norm(real)
    error = np.linalg.norm(pocs(kspace, 0.625, iterations=40) - real) / np.linalg.norm(real)
    homodyne_error = np.linalg.norm(homodyne(kspace, 0.625) - real) / np.linalg.norm(real)
    assert zero_error > 0.3 and error < 1e-8 and homodyne_error < 1e-2
    # measured samples are kept exactly
    count = round(0.625 * size)
    measured = fft2c(pocs(kspace, 0.625))[:, :count]
    np.testing.assert_allclose(measured, kspace[:, :count], atol=1e-10)


def test_phase_estimate_is_the_true_phase_for_a_smooth_phase():
    yy, xx = np.mgrid[-1:1:64j, -1:1:64j]
    magnitude = 1.5 + np.exp(-(xx**2 + yy**2) / 0.2)  # smooth and positive everywhere
    phase = 0.8 * xx - 0.5 * yy**2
    kspace = _truncate(fft2c(magnitude * np.exp(1j * phase)), 40, -1, "low")
    estimate = np.angle(phase_estimate(kspace, 0.625))
    assert np.abs(np.angle(np.exp(1j * (estimate - phase))))[8:-8, 8:-8].max() < 0.05


def test_multicoil_baselines_gain_from_completion_per_coil():
    sim = simulate_multicoil(shepp_logan(48), coils=4, acceleration=1, center_fraction=0.5, seed=2)
    assert sim.mask.all()
    kspace = _truncate(sim.kspace, 30, -1, "low")
    target = sim.reference[0]
    scores = {}
    for method in ("zero-filled", "homodyne", "pocs"):
        rss = partial_fourier_baseline(kspace, 0.625, method=method)[0]
        adjoint = partial_fourier_baseline(kspace, 0.625, method=method, maps=sim.maps)[0]
        scores[method] = (psnr(target, rss), psnr(target, np.abs(adjoint)))
    for method in ("homodyne", "pocs"):
        assert scores[method][0] > scores["zero-filled"][0] + 3, scores
        assert scores[method][1] > scores["zero-filled"][1] + 3, scores


def test_bad_fractions_axes_and_ambiguous_sides_are_refused():
    kspace = fft2c(shepp_logan(16).astype(np.complex128))
    with pytest.raises(UsageError, match=r"fraction must be in \(0.5, 1\]"):
        homodyne(kspace, 0.5)
    with pytest.raises(UsageError, match="one of the last two"):
        pocs(kspace[None], 0.75, axis=0)
    with pytest.raises(InputError, match="cannot tell the measured side"):
        pocs(kspace, 0.75)  # nothing zero-filled: not partial Fourier data
    with pytest.raises(UsageError, match="filter must be 'ramp' or 'step'"):
        homodyne(_truncate(kspace, 12, -1, "low"), 0.75, filter="hann")
    with pytest.raises(UsageError, match="unknown partial Fourier method"):
        partial_fourier_baseline(kspace[None, None], 0.75, method="fista")


def test_a_partial_fourier_file_read_as_raw_is_completed_by_pocs(tmp_path):
    from csmri.io.ismrmrd import read_ismrmrd_raw
    from tests.test_ismrmrd_raw import _write

    real = shepp_logan(16).astype(np.float64)
    kspace = fft2c(real).astype(np.complex128)[None]  # one coil
    lines = [(kspace[:, :, r].astype(np.complex64), 8, r, 0, 0) for r in range(6, 16)]
    _write(tmp_path / "pf.h5", lines)
    scan = read_ismrmrd_raw(tmp_path / "pf.h5")
    fraction = scan.partial_fourier[1]
    assert fraction == 0.625
    image = pocs(scan.kspace[0, 0].astype(np.complex128), fraction, axis=-1, iterations=60)
    assert np.abs(image - real).max() < 1e-5 * real.max()


def test_pocs_with_the_sampling_mask_keeps_unmeasured_lines_free():
    real = shepp_logan(32).astype(np.float64)
    rows = np.random.default_rng(0).random(32) < 0.6
    rows[12:20] = True
    mask = np.zeros((32, 32), dtype=bool)
    mask[rows, :20] = True  # 5/8 partial Fourier, rows undersampled as well
    kspace = fft2c(real) * mask
    errors = [
        np.linalg.norm(pocs(kspace, 0.625, iterations=100, mask=m) - real) / np.linalg.norm(real)
        for m in (None, mask)
    ]
    assert errors[1] < errors[0] - 0.05, errors
    kept = fft2c(pocs(kspace, 0.625, mask=mask))[mask]
    np.testing.assert_allclose(kept, kspace[mask], atol=1e-10)


def test_baselines_complete_an_asymmetric_echo_and_leave_symmetric_masks_alone():
    """zero-filled and sense-adjoint use POCS on partial-Fourier data (what a scanner shows);
    a random column mask is never mistaken for partial Fourier."""
    from csmri.app.methods import SenseAdjoint, ZeroFilled
    from csmri.io.images import shepp_logan
    from csmri.metrics import psnr
    from csmri.mri.coil_sim import simulate_multicoil
    from csmri.mri.masks import make_mask
    from csmri.mri.partial_fourier import detect_partial_fourier

    for seed in range(20):
        columns = make_mask("random", 181, 0.04, 8, seed).mask
        assert detect_partial_fourier(np.broadcast_to(columns, (217, 181))) is None
    sim = simulate_multicoil(shepp_logan(64), coils=4, acceleration=1, center_fraction=0.5,
                             seed=0)
    mask = np.ones((64, 64), bool)
    mask[:24] = False  # 5/8 of the readout
    assert detect_partial_fourier(mask) == (-2, 0.625)
    kspace = sim.kspace * mask
    plain = np.sqrt(np.sum(np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(
        kspace, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))) ** 2, axis=1))
    completed = ZeroFilled().run(kspace, mask).images
    assert psnr(sim.reference, completed) > psnr(sim.reference, plain) + 3
    combined = SenseAdjoint().run(kspace, mask, sim.maps).images
    assert psnr(sim.reference, combined) > psnr(sim.reference, plain) + 3
