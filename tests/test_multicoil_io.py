"""Multi-coil readers: fastMRI .h5, BART .cfl, .npy/.npz, ISMRMRD, maps; and their refusals."""

from pathlib import Path

import h5py
import numpy as np
import pytest

from csmri.acquisition import Acquisition, Header
from csmri.errors import InputError
from csmri.io import read_acquisition, write_acquisition
from csmri.io.cfl import coil_stack_to_bart, write_cfl
from csmri.io.ismrmrd import write_ismrmrd
from csmri.io.maps import read_maps, write_maps
from tests.conftest import random_complex

DATA = Path(__file__).parent / "data"
REAL = DATA / "sigpy_cartesian_ksp.npy"


@pytest.fixture
def stack(rng):
    kspace = random_complex(rng, (2, 3, 16, 12))
    mask = np.zeros(12, bool)
    mask[::3] = mask[4:8] = True
    return kspace * mask, mask


def test_real_8coil_file_reads_with_coil_axis_and_2d_poisson_mask():
    assert (DATA / "sigpy_cartesian_ksp.LICENSE").read_text().startswith("BSD 3-Clause")
    data = read_acquisition(REAL, coil_axis=0)
    assert data.kspace.shape == (1, 8, 230, 180) and data.mask.shape == (230, 180)
    assert 0.10 < data.mask.mean() < 0.15  # about 8x, Poisson disk: a 2-D mask, not columns
    assert not np.all(data.mask == data.mask[:1])
    assert data.mask[115 - 12 : 115 + 12, 90 - 12 : 90 + 12].all()  # fully sampled centre
    single = read_acquisition(REAL)  # without --coil-axis a 3-D array is single-coil slices
    assert single.kspace.shape == (8, 1, 230, 180)


def test_fastmri_h5_roundtrip_with_header_target_and_maps(tmp_path, stack, rng):
    kspace, mask = stack
    target = np.abs(rng.standard_normal((2, 10, 8))).astype(np.float32)
    maps = random_complex(rng, (2, 3, 16, 12))
    path = tmp_path / "mc.h5"
    write_acquisition(
        path,
        Acquisition(kspace, mask, maps=maps, reference=target, header=Header((16, 12), (10, 8))),
    )
    data = read_acquisition(path)
    np.testing.assert_array_equal(data.kspace, kspace)
    np.testing.assert_array_equal(data.mask, np.broadcast_to(mask, (16, 12)))
    np.testing.assert_array_equal(data.reference, target)
    np.testing.assert_array_equal(data.maps, maps)
    assert not data.mask_inferred


@pytest.mark.parametrize(
    "encoded,recon,message",
    [
        ((16, 14), (10, 8), "encoded matrix 16x14 contradicts the k-space 16x12"),
        ((16, 12), (12, 8), "recon matrix 12x8 contradicts the target 10x8"),
    ],
)
def test_header_contradicting_data_is_refused(tmp_path, stack, encoded, recon, message):
    kspace, mask = stack
    path = tmp_path / "bad.h5"
    target = np.ones((2, 10, 8), np.float32)
    write_acquisition(
        path, Acquisition(kspace, mask, reference=target, header=Header(encoded, recon))
    )
    with pytest.raises(InputError, match=message) as error:
        read_acquisition(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_maps_of_wrong_shape_or_coil_count_are_refused(tmp_path, stack, rng):
    kspace, _ = stack
    path = tmp_path / "k.npz"
    np.savez(path, kspace=kspace, sens_maps=random_complex(rng, (2, 4, 16, 12)))
    with pytest.raises(InputError, match="coil maps have 4 coils, the k-space has 3"):
        read_acquisition(path)
    np.savez(path, kspace=kspace, sens_maps=random_complex(rng, (2, 3, 16, 11)))
    with pytest.raises(InputError, match=r"do not fit k-space \(2, 3, 16, 12\)"):
        read_acquisition(path)
    maps = tmp_path / "m.npy"
    np.save(maps, random_complex(rng, (3, 3, 16, 12)))
    with pytest.raises(InputError, match="coil maps have 3 slices, the k-space has 2"):
        read_maps(maps, kspace.shape)


def test_bart_cfl_coil_dimension_and_maps_roundtrip(tmp_path, stack, rng):
    kspace, _ = stack
    write_cfl(tmp_path / "k", coil_stack_to_bart(kspace))
    data = read_acquisition(tmp_path / "k.cfl")
    np.testing.assert_array_equal(data.kspace, kspace)
    assert data.mask_inferred
    maps = random_complex(rng, (2, 3, 16, 12))
    write_maps(tmp_path / "m.cfl", maps)
    np.testing.assert_array_equal(read_maps(tmp_path / "m.cfl", kspace.shape), maps)


def test_npy_coil_axis_moves_coils(tmp_path, stack):
    kspace, _ = stack
    np.save(tmp_path / "k.npy", np.moveaxis(kspace, 1, 0))  # (C, S, H, W)
    data = read_acquisition(tmp_path / "k.npy", coil_axis=0)
    np.testing.assert_array_equal(data.kspace, kspace)
    with pytest.raises(InputError, match="--coil-axis 2 is not a leading axis"):
        read_acquisition(tmp_path / "k.npy", coil_axis=2)


def test_ismrmrd_cartesian_read_and_non_cartesian_refused(tmp_path, stack):
    kspace, mask = stack
    write_ismrmrd(tmp_path / "raw.h5", kspace, mask)
    data = read_acquisition(tmp_path / "raw.h5")
    np.testing.assert_allclose(data.kspace, kspace)
    np.testing.assert_array_equal(data.mask[0], mask)
    assert data.header.encoded_matrix == (16, 12)
    write_ismrmrd(tmp_path / "radial.h5", kspace, mask, trajectory="radial")
    with pytest.raises(InputError, match="radial trajectory: only Cartesian"):
        read_acquisition(tmp_path / "radial.h5")


def test_ismrmrd_line_outside_encoded_matrix_is_refused(tmp_path, stack):
    kspace, mask = stack
    path = tmp_path / "raw.h5"
    write_ismrmrd(path, kspace, mask)
    with h5py.File(path, "r+") as file:  # a copy made by this test, not an input
        data = file["dataset/data"][()]
        data[0]["head"]["idx"]["kspace_encode_step_1"] = 40
        file["dataset/data"][0] = data[0]
    with pytest.raises(InputError, match=r"header contradicts data|sampled differently"):
        read_acquisition(path)


def test_coil_counts_differing_between_acquisitions_are_refused(tmp_path, stack):
    import ismrmrd

    kspace, mask = stack
    path = tmp_path / "raw.h5"
    write_ismrmrd(path, kspace, mask)
    with ismrmrd.Dataset(str(path), "dataset", mode="a") as dataset:
        acq = ismrmrd.Acquisition.from_array(np.ones((2, 16), np.complex64))
        acq.center_sample = 8
        dataset.append_acquisition(acq)
    pattern = r"coil counts differ between (acquisitions|imaging lines): \[2, 3\]"
    with pytest.raises(InputError, match=pattern):
        read_acquisition(path)


def test_ismrmrd_with_several_repetitions_is_refused(tmp_path, stack):
    import ismrmrd

    kspace, mask = stack
    path = tmp_path / "raw.h5"
    write_ismrmrd(path, kspace, mask)
    with ismrmrd.Dataset(str(path), "dataset", mode="a") as dataset:
        acq = ismrmrd.Acquisition.from_array(np.ones((3, 16), np.complex64))
        acq.center_sample = 8
        acq.idx.repetition = 1
        dataset.append_acquisition(acq)
    with pytest.raises(InputError, match="2 different repetition indices"):
        read_acquisition(path)
