"""Lazy raw k-space training slices (learned.data.kspace_slices): same numbers, one slice read."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import learned.data.kspace_slices as kspace_slices
from csmri.acquisition import Acquisition, Header
from csmri.errors import InputError
from csmri.io import output_crop, read_acquisition, write_acquisition
from csmri.io.images import shepp_logan
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.fft import fft2c
from csmri.mri.masks import random_mask
from learned.data.kspace_slices import KspaceSlice, KspaceSlices
from learned.data.manifest import subject_of
from learned.data.maps_cache import kspace_sha256

H, W = 48, 32  # readout oversampled as fastMRI's: the recon matrix is 32 x 32


def volume(slices: int, coils: int, seed: int = 0) -> np.ndarray:
    """Fully sampled (S, C, H, W) k-space of phantoms with smooth phase and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W] / W
    base = np.pad(shepp_logan(W), ((8, 8), (0, 0)))
    images = np.stack([base * (1 + 0.1 * s) * np.exp(1j * (0.5 * xx - 0.3 * yy + s))
                       for s in range(slices)])
    kspace = fft2c(images[:, None] * birdcage_maps((H, W), coils)[None])
    kspace += 1e-3 * (rng.standard_normal(kspace.shape) + 1j * rng.standard_normal(kspace.shape))
    return kspace.astype(np.complex64)


def write_fastmri(path, slices=3, coils=4, seed=0, mask=None, **attrs):
    kspace = volume(slices, coils, seed)
    if mask is not None:
        kspace = kspace * mask
    full = np.ones((H, W), dtype=bool) if mask is None else np.broadcast_to(mask, (H, W))
    reference = np.abs(np.fft.ifft2(kspace)).sum(1)[:, 8:-8].astype(np.float32)
    acq = Acquisition(kspace, full.copy(), reference=reference, attrs=attrs,
                      header=Header(encoded_matrix=(H, W), recon_matrix=(32, 32)))
    write_acquisition(path, acq)
    return path


def undersampled_columns(seed: int = 0) -> np.ndarray:
    return random_mask(W, 0.35, 2.5, seed=seed).mask


@pytest.fixture(scope="module")
def scans(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scans")
    write_fastmri(folder / "sub-01_a.h5", slices=3, seed=0)
    write_fastmri(folder / "sub-02_b.h5", slices=2, seed=1, mask=undersampled_columns())
    return folder


def test_fastmri_slices_equal_read_acquisition(scans) -> None:
    data = KspaceSlices([scans / "sub-01_a.h5", scans / "sub-02_b.h5"])
    assert len(data) == 5 and data.num_coils == 4 and not data.fully_sampled
    index = 0
    for name in ("sub-01_a.h5", "sub-02_b.h5"):
        path = scans / name
        acq = read_acquisition(path)
        assert data.fingerprint[str(path)] == kspace_sha256(acq.kspace)
        assert data.files[str(path)] == subject_of(name)
        for local in range(acq.num_slices):
            item = data[index]
            assert isinstance(item, KspaceSlice)
            np.testing.assert_array_equal(item.kspace, acq.kspace[local] * acq.mask)
            np.testing.assert_array_equal(item.mask, acq.mask)
            assert item.recon_crop == output_crop(acq, acq.image_shape) == (32, 32)
            assert item.origin == data.origins[index] == f"{path}:0:{local}"
            assert item.subject == data.subjects[index] == subject_of(name)
            assert item.maps.shape == (4, H, W) and item.maps.dtype == np.complex64
            index += 1
    assert not data[3].kspace[:, :, ~undersampled_columns()].any()
    np.testing.assert_array_equal(data[-1].kspace, data[4].kspace)
    with pytest.raises(IndexError):
        data[5]


def test_getitem_reads_one_slice_and_construction_never_the_volume(scans, monkeypatch) -> None:
    reads = []
    original = h5py.Dataset.__getitem__

    def spy(self, key):
        reads.append((self.name, key))
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    data = KspaceSlices([scans])
    kspace_reads = [key for name, key in reads if name == "/kspace"]
    assert kspace_reads == [slice(0, 1), 0, 1, 2, slice(0, 1), 0, 1]  # one slice at a time
    holdings = [v for info in data._infos for v in vars(info).values()] + list(vars(data).values())
    arrays = [v for v in holdings if isinstance(v, np.ndarray)]
    assert arrays and all(a.dtype == bool and a.shape == (H, W) for a in arrays)
    assert data._recent is None
    reads.clear()
    item = data[1]
    assert reads == [("/kspace", 1)] and item.kspace.shape == (4, H, W)


def test_fingerprint_hashes_slice_by_slice_as_the_whole_array(tmp_path) -> None:
    path = write_fastmri(tmp_path / "x.h5", slices=4, coils=3)
    with h5py.File(path) as file:
        whole = file["kspace"][()]
    assert KspaceSlices([path]).fingerprint == {str(path): kspace_sha256(whole)}


def test_mask_is_inferred_over_all_slices_when_the_file_stores_none(tmp_path) -> None:
    kspace = volume(2, 3) * undersampled_columns(1)
    kspace[1, :, :, 0] = 1  # a column measured only in the second slice
    with h5py.File(tmp_path / "m.h5", "w") as file:
        file.create_dataset("kspace", data=kspace)
    data = KspaceSlices([tmp_path / "m.h5"])
    acq = read_acquisition(tmp_path / "m.h5")
    np.testing.assert_array_equal(data[0].mask, acq.mask)
    assert data[0].mask[:, 0].all() and data[0].recon_crop is None


def test_coil_counts_that_differ_are_refused_or_compressed(tmp_path) -> None:
    write_fastmri(tmp_path / "a.h5", slices=1, coils=6)
    write_fastmri(tmp_path / "b.h5", slices=1, coils=6, seed=1)
    write_fastmri(tmp_path / "c.h5", slices=1, coils=4, seed=2)
    with pytest.raises(InputError, match="has 4 coils where the others have 6: give --coils N"
                       ) as error:
        KspaceSlices([tmp_path])
    assert error.value.path == str(tmp_path / "c.h5")
    data = KspaceSlices([tmp_path], coils=3)
    assert data.num_coils == 3
    for item in (data[0], data[2]):
        assert item.kspace.shape == item.maps.shape == (3, H, W)
    from csmri.mri.coils import compress_coils

    raw = read_acquisition(tmp_path / "c.h5").kspace
    np.testing.assert_allclose(data[2].kspace, compress_coils(raw, 3)[0][0], rtol=1e-5,
                               atol=1e-6)
    with pytest.raises(InputError, match="--coils 5 is more than the 4 coils") as error:
        KspaceSlices([tmp_path], coils=5)
    assert error.value.path == str(tmp_path / "c.h5")


def test_maps_come_from_the_cache_once(tmp_path, monkeypatch) -> None:
    path = write_fastmri(tmp_path / "a.h5", slices=2, coils=4)
    data = KspaceSlices([path], maps_cache=tmp_path / "maps")
    first = data[1].maps
    assert len(list((tmp_path / "maps").iterdir())) == 1
    import csmri.mri.coils as coils

    monkeypatch.setattr(coils, "estimate_maps", lambda *a, **k: pytest.fail("recomputed"))
    np.testing.assert_array_equal(KspaceSlices([path], maps_cache=tmp_path / "maps")[1].maps,
                                  first)
    power = np.sum(np.abs(first) ** 2, axis=0)
    np.testing.assert_allclose(power, 1, atol=1e-4)


def test_other_formats_keep_only_the_last_file_read(tmp_path, monkeypatch) -> None:
    np.save(tmp_path / "p.npy", volume(2, 3, seed=4))
    write_acquisition(tmp_path / "q.cfl", Acquisition(volume(1, 3, seed=5), np.ones((H, W))))
    files = [tmp_path / "p.npy", tmp_path / "q.cfl"]
    data = KspaceSlices(files)
    assert len(data) == 3 and data.fully_sampled and data._recent is None
    loads = []
    original = kspace_slices._read_full
    monkeypatch.setattr(kspace_slices, "_read_full",
                        lambda path: loads.append(path.name) or original(path))
    items = [data[0], data[1], data[2], data[0]]
    assert loads == ["p.npy", "q.cfl", "p.npy"] and data._recent[0] == files[0]
    for item, (path, local) in zip(items, [(files[0], 0), (files[0], 1), (files[1], 0)]):
        acq = read_acquisition(path)
        np.testing.assert_array_equal(item.kspace, acq.kspace[local])
        assert item.recon_crop is None and item.origin == f"{path}:0:{local}"
        assert data.fingerprint[str(path)] == kspace_sha256(acq.kspace)


def test_single_coil_fastmri_has_unit_maps(tmp_path) -> None:
    kspace = volume(2, 1)
    write_acquisition(tmp_path / "s.h5", Acquisition(kspace, np.ones((H, W), dtype=bool)))
    data = KspaceSlices([tmp_path / "s.h5"])
    item = data[1]
    assert data.num_coils == 1 and item.kspace.shape == (1, H, W)
    np.testing.assert_array_equal(item.kspace, read_acquisition(tmp_path / "s.h5").kspace[1])
    np.testing.assert_array_equal(item.maps, np.ones((1, H, W), np.complex64))


def test_folders_expand_to_their_kspace_files_sorted(tmp_path) -> None:
    write_fastmri(tmp_path / "b.h5", slices=1)
    np.save(tmp_path / "a.npy", volume(1, 4, seed=3))
    np.save(tmp_path / "image.npy", np.ones((4, 8, 8), dtype=np.float32))  # images: skipped
    with h5py.File(tmp_path / "images.h5", "w") as file:
        file.create_dataset("images", data=np.ones((2, 8, 8)))
    (tmp_path / "notes.txt").write_text("not data")
    assert list(KspaceSlices([tmp_path]).files) == [str(tmp_path / "a.npy"),
                                                    str(tmp_path / "b.h5")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="folder holds no k-space files"):
        KspaceSlices([tmp_path / "empty"])
    with pytest.raises(InputError, match="no such file or folder"):
        KspaceSlices([tmp_path / "missing.h5"])


def test_patient_id_names_the_subject(tmp_path) -> None:
    write_fastmri(tmp_path / "file_brain_1.h5", slices=2, patient_id="p-42")
    data = KspaceSlices([tmp_path / "file_brain_1.h5"])
    assert data.subjects == ["p-42", "p-42"] and data[0].subject == "p-42"


def test_non_cartesian_file_is_refused_in_one_line(tmp_path) -> None:
    from csmri.mri.trajectories import radial

    traj = radial(16, 5)
    kspace = np.ones((3, 32, 5), dtype=np.complex64)
    np.savez(tmp_path / "r.npz", kspace=kspace, coord=np.moveaxis(traj[:2], 0, -1))
    with pytest.raises(InputError, match="non-Cartesian") as error:
        KspaceSlices([tmp_path / "r.npz"])
    assert error.value.path == str(tmp_path / "r.npz") and "\n" not in str(error.value)


def test_nan_kspace_is_refused_naming_the_file(tmp_path) -> None:
    kspace = volume(2, 3)
    kspace[1, 0, 3, 3] = np.nan
    with h5py.File(tmp_path / "n.h5", "w") as file:
        file.create_dataset("kspace", data=kspace)
    with pytest.raises(InputError, match="NaN or Inf") as error:
        KspaceSlices([tmp_path / "n.h5"])
    assert error.value.path == str(tmp_path / "n.h5")


def write_ismrmrd(path, kspace):
    """A minimal fully sampled 2-D ISMRMRD file: one line (C, readout) per phase step."""
    ismrmrd = pytest.importorskip("ismrmrd")
    xsd = ismrmrd.xsd
    _, readout, lines = kspace.shape
    space = xsd.encodingSpaceType(matrixSize=xsd.matrixSizeType(x=readout, y=lines, z=1),
                                  fieldOfView_mm=xsd.fieldOfViewMm(x=200.0, y=200.0, z=5.0))
    limits = xsd.encodingLimitsType(
        kspace_encoding_step_1=xsd.limitType(minimum=0, maximum=lines - 1, center=lines // 2))
    encoding = xsd.encodingType(encodedSpace=space, reconSpace=space, encodingLimits=limits,
                                trajectory=xsd.trajectoryType("cartesian"))
    header = xsd.ismrmrdHeader(
        experimentalConditions=xsd.experimentalConditionsType(H1resonanceFrequency_Hz=63500000),
        encoding=[encoding])
    with ismrmrd.Dataset(str(path), "dataset", mode="w") as dataset:
        dataset.write_xml_header(xsd.ToXML(header))
        for line in range(lines):
            acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(kspace[:, :, line]))
            acq.center_sample = readout // 2
            acq.idx.kspace_encode_step_1 = line
            dataset.append_acquisition(acq)
    return path


@pytest.mark.parametrize("suffix", [".h5", ".mrd"])
def test_ismrmrd_files_read_as_read_acquisition_reads_them(tmp_path, suffix) -> None:
    path = write_ismrmrd(tmp_path / f"raw{suffix}", volume(1, 3)[0])
    data = KspaceSlices([path])
    reference = read_acquisition(write_ismrmrd(tmp_path / "ref.h5", volume(1, 3)[0]))
    assert len(data) == 1 and data.num_coils == 3
    np.testing.assert_array_equal(data[0].kspace, reference.kspace[0] * reference.mask)
    np.testing.assert_array_equal(data[0].mask, reference.mask)


@pytest.mark.parametrize("coils", [0, -2, True, 2.5])
def test_coils_must_be_a_positive_integer(scans, coils) -> None:
    from csmri.errors import UsageError

    with pytest.raises(UsageError, match="--coils must be a positive integer"):
        KspaceSlices([scans], coils=coils)
