import h5py
import numpy as np
import pytest

from csmri.acquisition import single_coil
from csmri.io import read_acquisition, write_acquisition
from csmri.io.cfl import read_cfl, write_cfl
from csmri.io.images import load_sample, read_images, shepp_logan
from csmri.mri.baseline import zero_filled
from csmri.mri.fft import fft2c
from csmri.mri.simulate import simulate


@pytest.fixture(scope="module")
def simulated():
    return simulate(load_sample()[:2], acceleration=4, center_fraction=0.08, seed=3, noise=0.01)


def test_sample_is_real_anatomy_in_unit_range():
    sample = load_sample()
    assert sample.shape == (12, 217, 181)
    assert sample.dtype == np.float32
    assert sample.max() == pytest.approx(1.0) and sample.min() >= 0
    # a head: roughly a third of the field of view is tissue, not a blank slate
    assert 0.2 < (sample[6] > 0.1).mean() < 0.8


def test_shepp_logan_has_expected_contrast():
    phantom = shepp_logan(128)
    assert phantom.shape == (128, 128)
    assert phantom.max() == pytest.approx(1.0)
    assert phantom[0, 0] == 0
    assert np.isclose(phantom[64, 64], 0.2, atol=0.05)


def test_simulation_is_deterministic_under_seed():
    images = load_sample()[:1]
    a = simulate(images, seed=5, noise=0.01)
    b = simulate(images, seed=5, noise=0.01)
    c = simulate(images, seed=6, noise=0.01)
    np.testing.assert_array_equal(a.kspace, b.kspace)
    assert not np.array_equal(a.kspace, c.kspace)


def test_simulated_kspace_is_masked_fft_of_phased_image():
    images = load_sample()[:1]
    result = simulate(images, seed=1, noise=0.0, phase=True)
    assert np.all(result.kspace[..., ~result.mask] == 0)
    image = zero_filled(result.kspace, np.ones_like(result.mask))
    # phase is smooth and unit-modulus: magnitudes survive the round trip where sampled fully
    full = simulate(images, acceleration=1.0001, center_fraction=0.5, seed=1, phase=True)
    np.testing.assert_allclose(np.abs(zero_filled(full.kspace, full.mask)), images, atol=2e-4)
    assert image.dtype == np.complex64


def test_noise_level_is_relative_to_image_maximum():
    images = np.zeros((1, 64, 64), dtype=np.float32)
    images[0, 20:40, 20:40] = 5.0
    result = simulate(
        images, acceleration=1.0001, center_fraction=0.5, seed=0, noise=0.1, phase=False
    )
    residual = result.kspace - fft2c(images.astype(np.complex64)) * result.mask
    measured = np.sqrt(np.mean(np.abs(residual[..., result.mask]) ** 2))
    assert measured == pytest.approx(0.5, rel=0.05)


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_kspace_round_trip_keeps_kspace_mask_and_target(tmp_path, simulated, suffix):
    path = tmp_path / f"k{suffix}"
    write_acquisition(path, single_coil(simulated.kspace, simulated.mask, simulated.target,
                                        attrs={"seed": 3}))
    data = read_acquisition(path)
    np.testing.assert_array_equal(data.kspace[:, 0], simulated.kspace)
    np.testing.assert_array_equal(data.columns, simulated.mask)
    np.testing.assert_array_equal(data.reference, simulated.target)
    assert not data.mask_inferred


@pytest.mark.parametrize("suffix", [".cfl", ".npy"])
def test_kspace_without_mask_gets_it_inferred_from_nonzero_columns(tmp_path, simulated, suffix):
    path = tmp_path / f"k{suffix}"
    write_acquisition(path, single_coil(simulated.kspace, simulated.mask))
    data = read_acquisition(path)
    np.testing.assert_array_equal(data.kspace[:, 0], simulated.kspace)
    np.testing.assert_array_equal(data.columns, simulated.mask)
    assert data.mask_inferred


def test_cfl_is_column_major_with_bart_header(tmp_path):
    array = np.arange(6, dtype=np.complex64).reshape(2, 3) * (1 + 1j)
    write_cfl(tmp_path / "x", array)
    header = (tmp_path / "x.hdr").read_text().splitlines()
    assert header[1].split() == ["2", "3"] + ["1"] * 14
    raw = np.fromfile(tmp_path / "x.cfl", dtype=np.complex64)
    np.testing.assert_array_equal(raw, array.ravel(order="F"))
    np.testing.assert_array_equal(read_cfl(tmp_path / "x.cfl"), array)


def test_fastmri_h5_layout_is_what_h5py_users_expect(tmp_path, simulated):
    path = tmp_path / "k.h5"
    write_acquisition(path, single_coil(simulated.kspace, simulated.mask, simulated.target,
                                        attrs={"acceleration": 4.0}))
    with h5py.File(path, "r") as f:
        assert f["kspace"].dtype == np.complex64 and f["kspace"].shape == (2, 217, 181)
        assert f["mask"].shape == (181,)
        assert f["reconstruction_esc"].dtype == np.float32
        assert f.attrs["acceleration"] == 4.0
        assert f.attrs["max"] == pytest.approx(simulated.target.max())


def test_single_and_multicoil_h5_are_read_by_the_same_reader(tmp_path):
    path = tmp_path / "multi.h5"
    with h5py.File(path, "w") as f:
        f["kspace"] = np.ones((2, 4, 16, 16), dtype=np.complex64)
    assert read_acquisition(path).kspace.shape == (2, 4, 16, 16)
    with h5py.File(path, "w") as f:
        f["kspace"] = np.ones((2, 16, 16), dtype=np.complex64)
    assert read_acquisition(path).kspace.shape == (2, 1, 16, 16)


def test_image_readers_agree_on_npy_png_and_nifti(tmp_path):
    import nibabel as nib
    from PIL import Image

    image = (load_sample()[5] * 255).round().astype(np.uint8)
    np.save(tmp_path / "a.npy", image)
    Image.fromarray(image).save(tmp_path / "a.png")
    volume = np.stack([np.rot90(image, -1)] * 3, axis=2)  # RAS-like (X, Y, Z)
    nib.save(nib.Nifti1Image(volume.astype(np.float32), np.eye(4)), tmp_path / "a.nii.gz")
    from_npy = read_images(tmp_path / "a.npy")
    from_png = read_images(tmp_path / "a.png")
    from_nii = read_images(tmp_path / "a.nii.gz", axis=2, slices=slice(1, 2))
    np.testing.assert_array_equal(from_npy, from_png)
    np.testing.assert_array_equal(from_npy, from_nii)
