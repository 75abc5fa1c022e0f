"""One data type for every acquisition: readers return it, the operator comes from it, and
single-coil data is the one-coil case of the same pipeline."""

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.acquisition import Acquisition, Header, single_coil
from csmri.app.methods import CompressedSensing, run_stack
from csmri.app.reconstruct import reconstruct
from csmri.app.solve import solve_acquisition
from csmri.io import read_acquisition, write_acquisition
from csmri.io.images import shepp_logan
from csmri.linop import Cartesian, Sense, adjointness_test, forward_operator
from csmri.mri.coil_sim import simulate_multicoil
from csmri.mri.coils import ensure_maps
from csmri.mri.simulate import simulate


@pytest.fixture(scope="module")
def single():
    return simulate(shepp_logan(32)[None].repeat(2, 0), 4, 0.25, "random", 0, 0.0, True)


@pytest.fixture(scope="module")
def multi():
    return simulate_multicoil(shepp_logan(32), coils=3, acceleration=4, center_fraction=0.25,
                              seed=0)


def test_single_coil_is_the_one_coil_case(tmp_path, single):
    write_acquisition(tmp_path / "s.h5", single_coil(single.kspace, single.mask, single.target))
    acq = read_acquisition(tmp_path / "s.h5")
    assert acq.kspace.shape == (2, 1, 32, 32) and acq.num_coils == 1 and not acq.is_multicoil
    kspace, mask, maps = acq.solver_inputs()
    np.testing.assert_array_equal(kspace, single.kspace)
    np.testing.assert_array_equal(mask, single.mask)
    assert maps is None and isinstance(forward_operator(acq), Cartesian)
    np.testing.assert_array_equal(acq.reference, single.target)
    assert acq.source == tmp_path / "s.h5" and len(acq.sha256) == 64


def test_multicoil_operator_comes_from_the_acquisition_and_is_adjoint(multi):
    acq = Acquisition(multi.kspace, multi.mask)
    assert acq.is_multicoil and acq.maps is None
    with pytest.raises(Exception, match="coil maps"):
        forward_operator(acq)
    acq.maps = multi.maps
    op = forward_operator(acq.select([0]))
    assert isinstance(op, Sense)
    assert adjointness_test(op, (1, 32, 32)) < 1e-5


def test_maps_are_estimated_once_and_cached(multi):
    acq = Acquisition(multi.kspace, multi.mask)
    first = ensure_maps(acq, "lowres")
    seconds = acq.maps_seconds
    assert first is acq.maps and acq.maps_source == "lowres" and seconds > 0
    assert ensure_maps(acq, "espirit") is first and acq.maps_seconds == seconds


def test_sha256_is_provenance_of_kspace_and_mask(multi):
    a, b = Acquisition(multi.kspace, multi.mask), Acquisition(multi.kspace.copy(), multi.mask)
    assert a.sha256 == b.sha256
    changed = multi.kspace.copy()
    changed[0, 0, 0, 0] += 1
    assert Acquisition(changed, multi.mask).sha256 != a.sha256
    assert a.select([0]).sha256 == a.sha256  # one slice of one slice: the same bytes


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_write_then_read_round_trips(tmp_path, single, multi, kind):
    if kind == "single":
        acq = single_coil(single.kspace, single.mask, single.target)
    else:
        acq = Acquisition(multi.kspace, multi.mask, reference=multi.reference,
                          header=Header((32, 32), (32, 32)))
    write_acquisition(tmp_path / "a.h5", acq)
    back = read_acquisition(tmp_path / "a.h5")
    np.testing.assert_array_equal(back.kspace, acq.kspace)
    np.testing.assert_array_equal(back.mask, acq.mask)
    np.testing.assert_allclose(back.reference, acq.reference)
    assert back.sha256 == acq.sha256
    if kind == "multi":
        assert back.header.recon_matrix == (32, 32)


def test_single_coil_method_on_an_acquisition_equals_reconstruct(single):
    acq = single_coil(single.kspace, single.mask)
    method = CompressedSensing(reg="tv", lam=0.003, max_iter=20)
    result, crop = solve_acquisition(acq, method)
    direct = reconstruct(single.kspace, single.mask, reg="tv", lam=0.003, max_iter=20)
    assert crop is None
    np.testing.assert_array_equal(result.images, np.abs(direct.images).astype(np.float32))


def test_sense_method_on_an_acquisition_equals_run_stack_with_maps(multi):
    acq = Acquisition(multi.kspace, multi.mask, maps=multi.maps)
    method = CompressedSensing(reg="tv", lam=0.003, max_iter=10)
    result, _ = solve_acquisition(acq, method)
    direct = run_stack(method, multi.kspace, multi.mask, maps=multi.maps)
    np.testing.assert_array_equal(result.images, direct.images)


def test_solve_writes_the_recon_matrix_of_an_oversampled_file(tmp_path):
    """fastMRI layout: the encoded readout is twice the recon matrix; solve writes the crop."""
    image = np.zeros((64, 32), np.float32)
    image[16:48] = shepp_logan(32)  # the object fills the central half of the readout FOV
    sim = simulate_multicoil(image, coils=4, acceleration=2, center_fraction=0.3, seed=0)
    acq = Acquisition(sim.kspace, sim.mask, reference=sim.reference[:, 16:48],
                      header=Header((64, 32), (32, 32)))
    write_acquisition(tmp_path / "os.h5", acq)
    result = CliRunner().invoke(csmri, ["solve", str(tmp_path / "os.h5"), "-o",
                                       str(tmp_path / "r.h5"), "--iters", "10"])
    assert result.exit_code == 0, result.output
    assert "cropped to 32x32" in result.output and "PSNR" in result.output
    with h5py.File(tmp_path / "r.h5", "r") as file:
        assert file["reconstruction"].shape == (1, 32, 32)
        assert list(file.attrs["recon_matrix"]) == [32, 32]
        assert list(file.attrs["encoded_matrix"]) == [64, 32]
        assert file.attrs["kspace_sha256"] == read_acquisition(tmp_path / "os.h5").sha256
