"""Coil maps from radial k-space: ESPIRiT on the gridded centre, low-resolution fallback."""

import numpy as np
import pytest

from csmri.io.images import shepp_logan
from csmri.linop.nufft import SenseNUFFT, check_trajectory
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.nufft_maps import calibration_size, nufft_maps
from csmri.mri.trajectories import radial

N = 32


def map_correlation(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-pixel ``|<s_est, s_true>| / (|s_est| |s_true|)`` over coils (phase-blind)."""
    num = np.abs((estimate.conj() * truth).sum(0))
    return num / (np.linalg.norm(estimate, axis=0) * np.linalg.norm(truth, axis=0) + 1e-12)


@pytest.mark.parametrize(("spokes", "mode"), [(40, "espirit"), (10, "espirit"), (10, "lowres")])
def test_maps_from_radial_data_match_the_simulated_maps(spokes, mode):
    image = shepp_logan(N).astype(np.complex128)
    truth = birdcage_maps((N, N), 4)
    traj = radial(N, spokes, ordering="golden")
    maps = nufft_maps(SenseNUFFT(truth, traj).forward(image), traj, (N, N), mode=mode)
    assert maps.shape == (1, 4, N, N)
    inside = np.abs(image) > 0.1
    correlation = map_correlation(maps[0], truth)[inside]
    # ESPIRiT on a 32x32 grid leaves a few edge pixels near 0.9; the bulk must match.
    assert correlation.mean() > 0.995
    assert np.percentile(correlation, 5) > 0.98


def test_calibration_size_follows_the_nyquist_radius_of_a_radial_scan():
    # Spokes are one pixel apart out to radius spokes / pi.
    for spokes in (8, 20, 40):
        size = calibration_size(check_trajectory(radial(N, spokes), (N, N)), calib=24)
        assert size % 2 == 0
        assert 2 * spokes / np.pi * 0.6 <= size <= min(24, 2 * spokes / np.pi + 2)
