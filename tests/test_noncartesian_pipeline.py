"""Radial and spiral k-space through the one pipeline: simulate, read, solve, compare."""

import csv
import io

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.acquisition import Trajectory
from csmri.app.methods import CompressedSensing, SenseAdjoint, ZeroFilled
from csmri.io import read_acquisition, write_acquisition
from csmri.io.images import shepp_logan
from csmri.metrics import psnr
from csmri.mri.coils import ensure_maps
from csmri.mri.noncartesian_sim import simulate_noncartesian


def _run(*args):
    result = CliRunner().invoke(csmri, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("kind", ["golden", "spiral"])
def test_npz_round_trip_keeps_samples_trajectory_and_reference(tmp_path, kind):
    acq = simulate_noncartesian(shepp_logan(32)[None], kind, 3, seed=1, noise=0.01)
    write_acquisition(tmp_path / "k.npz", acq)
    back = read_acquisition(tmp_path / "k.npz")
    assert isinstance(back.trajectory, Trajectory) and back.mask is None
    np.testing.assert_array_equal(back.kspace, acq.kspace)
    np.testing.assert_allclose(back.trajectory.coords, acq.trajectory.coords)
    assert back.image_shape == (32, 32) and back.sha256 == acq.sha256
    np.testing.assert_allclose(back.reference, acq.reference)


def test_every_method_family_runs_on_radial_sense_and_cs_beats_gridding():
    acq = simulate_noncartesian(shepp_logan(48)[None], "golden", 4, seed=0, noise=0.005,
                                coils=3)
    acq.maps = None
    ensure_maps(acq, "espirit")
    assert acq.maps.shape == (1, 3, 48, 48) and acq.maps_seconds > 0
    kspace, sampling, maps = acq.solver_inputs()
    scores = {
        method.name: psnr(acq.reference, method.run(kspace, sampling, maps).images)
        for method in (ZeroFilled(), SenseAdjoint(),
                       CompressedSensing(reg="tv", lam=0.003, max_iter=30))
    }
    assert scores["tv-admm"] > max(scores["zero-filled"], scores["sense-adjoint"]) + 3


def test_simulate_solve_and_compare_a_golden_angle_file(tmp_path):
    image = np.stack([shepp_logan(40), 0.8 * shepp_logan(40), 0.6 * shepp_logan(40)])
    np.save(tmp_path / "img.npy", image)
    _run("simulate", tmp_path / "img.npy", "-o", tmp_path / "g.npz", "--trajectory", "golden",
         "--accel", "3", "--noise", "0.005")
    zf = _run("solve", tmp_path / "g.npz", "-o", tmp_path / "zf.npy", "--method", "zero-filled")
    tv = _run("solve", tmp_path / "g.npz", "-o", tmp_path / "tv.npy", "--iters", "20")
    assert "(auto: calibrated for tv at the realised 3.0x)" in tv

    def db(text):
        return float(text.split("PSNR ")[1].split(" dB")[0])

    assert db(tv) > db(zf) + 2 and np.load(tmp_path / "tv.npy").shape == (3, 40, 40)
    out = _run("compare", tmp_path / "g.npz", "--methods", "zero-filled,tv-admm,unrolled",
               "--iters", "10", "--tuning-slices", "1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["method"] for r in rows} == {"zero-filled", "tv-admm", "unrolled"}
    assert {r["slice"] for r in rows} == {"0", "2"}  # slice 1 tunes lambda, never scored


def test_tgv_and_reweighted_tgv_run_on_radial_data_through_the_general_solver():
    acq = simulate_noncartesian(shepp_logan(48)[None], "golden", 4, seed=0, noise=0.005)
    kspace, sampling, _ = acq.solver_inputs()
    zero = psnr(acq.reference, ZeroFilled().run(kspace, sampling).images)
    for reg in ("tgv", "tgv-reweighted"):
        result = CompressedSensing(reg=reg, lam=0.003, max_iter=30).run(kspace, sampling)
        assert psnr(acq.reference, result.images) > zero + 3 and result.iterations == [30]


def test_the_unrolled_network_adapts_to_radial_data_by_splitting_spokes():
    """Test-time adaptation on a trajectory: spokes are the units split into input, loss and
    held-out sets; the unrolled network adapts, the U-Net refuses with one line."""
    from csmri.errors import UsageError
    from learned.adapt import AdaptConfig, adapt_model
    from learned.method import UnetMethod, UnrolledMethod

    acq = simulate_noncartesian(shepp_logan(32)[None], "golden", 3, seed=0, noise=0.005)
    kspace, sampling, _ = acq.solver_inputs()
    method = UnrolledMethod.load(None, "cpu")
    result = adapt_model(method.model, kspace[0], sampling, AdaptConfig(steps=4, check_every=2))
    assert result.steps_run == 4 and len(result.checks) == 3
    assert all(np.isfinite(value) for _, value in result.checks)
    for (_, before), (_, after) in zip(result.checks, result.checks[1:]):
        assert after < before * 1.5  # the held-out k-space error does not blow up
    adapted = method.adapted(2).run(kspace, sampling)
    assert adapted.iterations == [2] and adapted.images.shape == (1, 32, 32)
    with pytest.raises(UsageError, match="only the unrolled network adapts"):
        UnetMethod.load(None, "cpu").adapted(2).run(kspace, sampling)
