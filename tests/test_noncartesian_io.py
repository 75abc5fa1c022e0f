"""Readers of non-Cartesian k-space: SigPy-style npz, BART ksp/traj; bad input names the file."""

import numpy as np
import pytest

from csmri.errors import InputError
from csmri.io.cfl import write_cfl
from csmri.io.noncartesian import read_bart_noncartesian, read_npz_noncartesian
from csmri.mri.trajectories import radial

N, SPOKES, COILS = 16, 5, 3


def scan(rng):
    traj = radial(N, SPOKES)
    kspace = rng.standard_normal((COILS, 2 * N, SPOKES)) + 1j * rng.standard_normal(
        (COILS, 2 * N, SPOKES))
    return traj, kspace.astype(np.complex64)


def write_npz(path, traj, kspace, **extra):
    np.savez(path, kspace=kspace, coord=np.moveaxis(traj[:2], 0, -1), **extra)
    return path


def test_npz_with_sigpy_coord_reads_back_in_bart_convention(tmp_path, rng):
    traj, kspace = scan(rng)
    weights = rng.uniform(0, 1, traj.shape[1:])
    result = read_npz_noncartesian(write_npz(tmp_path / "s.npz", traj, kspace, weights=weights))
    np.testing.assert_allclose(result.traj, traj)
    np.testing.assert_array_equal(result.kspace, kspace[None])
    assert result.shape == (N, N)  # 2 max|k| = N - 0.5, rounded up to even
    np.testing.assert_allclose(result.weights, weights)


def test_bart_ksp_and_traj_read_back(tmp_path, rng):
    traj, kspace = scan(rng)
    write_cfl(tmp_path / "traj", traj.astype(np.complex64))
    # BART dims [1, readout, spokes, coils]
    write_cfl(tmp_path / "ksp", np.transpose(kspace, (1, 2, 0))[None])
    result = read_bart_noncartesian(tmp_path / "ksp", tmp_path / "traj", shape=(20, 20))
    np.testing.assert_array_equal(result.kspace, kspace[None])
    np.testing.assert_allclose(result.traj, traj, atol=1e-6)
    assert result.shape == (20, 20) and result.weights is None


@pytest.mark.parametrize(("change", "message"), [
    (lambda t, k, e: (t, k[:, :-1], e), "samples"),
    (lambda t, k, e: (t, k, {"shape": np.array([8, 8])}), "> 4"),
    (lambda t, k, e: (t, np.where(np.arange(k.size).reshape(k.shape) == 3, np.nan, k), e), "NaN"),
    (lambda t, k, e: (t * 0, k, e), "no matrix size"),
    (lambda t, k, e: (t, k, {"weights": np.ones((3, 3))}), "density weights of shape"),
    (lambda t, k, e: (t, k, {"weights": -np.ones(t.shape[1:])}), "non-negative"),
])
def test_bad_npz_input_is_refused_naming_the_file(tmp_path, rng, change, message):
    traj, kspace, extra = change(*scan(rng), {})
    path = write_npz(tmp_path / "bad.npz", traj, kspace, **extra)
    with pytest.raises(InputError, match=message) as info:
        read_npz_noncartesian(path)
    assert "bad.npz" in str(info.value) and "\n" not in str(info.value)


def test_bart_trajectory_outside_the_claimed_grid_is_refused(tmp_path, rng):
    traj, kspace = scan(rng)
    write_cfl(tmp_path / "traj", traj.astype(np.complex64))
    write_cfl(tmp_path / "ksp", np.transpose(kspace, (1, 2, 0))[None])
    with pytest.raises(InputError, match=r"ksp.*> 6"):
        read_bart_noncartesian(tmp_path / "ksp", tmp_path / "traj", shape=(12, 12))
