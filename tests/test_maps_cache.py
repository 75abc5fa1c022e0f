"""Coil maps cache (learned.data.maps_cache): estimated once, reused, refused on other data."""

from __future__ import annotations

import numpy as np
import pytest

import csmri.mri.coils as coils
from csmri.errors import InputError
from csmri.io.images import shepp_logan
from csmri.mri.coil_sim import birdcage_maps
from csmri.mri.fft import fft2c
from learned.data import maps_cache
from learned.data.maps_cache import MapsCache, cache_file_name

SIZE = 32


def slice_kspace(coil_count: int = 4, scale: float = 1.0) -> np.ndarray:
    """Fully sampled (C, H, W) k-space of a phantom with smooth phase."""
    yy, xx = np.mgrid[:SIZE, :SIZE] / SIZE
    image = shepp_logan(SIZE) * np.exp(1j * (0.7 * xx - 0.4 * yy)) * scale
    return fft2c(image[None] * birdcage_maps((SIZE, SIZE), coil_count)).astype(np.complex64)


@pytest.fixture
def counted(monkeypatch):
    """Count the ESPIRiT estimates made through the cache."""
    calls = []
    original = coils.estimate_maps

    def estimate(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(coils, "estimate_maps", estimate)
    return calls


def test_second_call_loads_the_stored_maps_without_estimating(tmp_path, counted) -> None:
    kspace = slice_kspace()
    cache = MapsCache(tmp_path / "maps")
    first = cache.maps(kspace, "/data/file_a.h5:0:3")
    assert len(counted) == 1 and counted[0] == (1, 4, SIZE, SIZE)
    assert first.shape == kspace.shape and first.dtype == np.complex64
    np.testing.assert_allclose(np.sum(np.abs(first) ** 2, axis=0), 1, atol=1e-4)
    files = list((tmp_path / "maps").iterdir())
    assert [f.name for f in files] == [cache_file_name("/data/file_a.h5:0:3")]
    again = MapsCache(tmp_path / "maps").maps(kspace, "/data/file_a.h5:0:3")
    assert len(counted) == 1
    np.testing.assert_array_equal(again, first)
    other = cache.maps(kspace, "/data/file_a.h5:0:4")  # another key: a miss
    assert len(counted) == 2 and len(list((tmp_path / "maps").iterdir())) == 2
    np.testing.assert_array_equal(other, first)


def test_same_key_with_other_kspace_is_refused_naming_the_file(tmp_path, counted) -> None:
    cache = MapsCache(tmp_path)
    cache.maps(slice_kspace(), "scan:0:0")
    with pytest.raises(InputError, match=r"maps cache .* does not match its data \(sha256") as e:
        cache.maps(slice_kspace(scale=2.0), "scan:0:0")
    assert e.value.path == str(cache.path("scan:0:0"))
    assert len(counted) == 1


def test_entry_of_another_estimator_is_refused(tmp_path, counted) -> None:
    kspace = slice_kspace()
    MapsCache(tmp_path, method="lowres").maps(kspace, "scan:0:0")
    with pytest.raises(InputError, match="holds lowres maps, not espirit"):
        MapsCache(tmp_path).maps(kspace, "scan:0:0")


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch) -> None:
    import safetensors.numpy

    def broken(tensors, filename, metadata=None):
        with open(filename, "wb") as handle:
            handle.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(safetensors.numpy, "save_file", broken)
    with pytest.raises(KeyboardInterrupt):
        MapsCache(tmp_path).maps(slice_kspace(), "scan:0:0")
    assert list(tmp_path.iterdir()) == []


def test_successful_write_leaves_only_the_entry(tmp_path) -> None:
    MapsCache(tmp_path).maps(slice_kspace(), "scan:0:0")
    assert [p.name for p in tmp_path.iterdir()] == [cache_file_name("scan:0:0")]


def test_without_a_directory_maps_are_computed_every_time_and_nothing_written(
    tmp_path, monkeypatch, counted
) -> None:
    monkeypatch.chdir(tmp_path)
    cache = MapsCache(None)
    kspace = slice_kspace()
    first, second = cache.maps(kspace, "scan:0:0"), cache.maps(kspace, "scan:0:0")
    assert len(counted) == 2 and cache.path("scan:0:0") is None
    np.testing.assert_array_equal(first, second)
    assert list(tmp_path.iterdir()) == []


def test_one_coil_needs_no_estimate(tmp_path, counted) -> None:
    maps = MapsCache(tmp_path).maps(slice_kspace(1), "scan:0:0")
    np.testing.assert_array_equal(maps, np.ones((1, SIZE, SIZE), np.complex64))
    assert not counted and list(tmp_path.iterdir()) == []


def test_keys_that_sanitise_alike_get_different_files() -> None:
    a, b = cache_file_name("/d/a/b_c.h5:0:1"), cache_file_name("/d/a_b/c.h5:0:1")
    assert a != b and a.startswith("d_a_b_c.h5_0_1-") and a.endswith(".safetensors")
    assert len(cache_file_name("x" * 1000)) < 255


def test_small_calibration_region_is_refused_naming_the_key(tmp_path) -> None:
    full, centre = slice_kspace(), slice(SIZE // 2 - 2, SIZE // 2 + 2)
    kspace = full.copy()
    kspace[:, :, ::2] = 0
    kspace[:, :, centre] = full[:, :, centre]  # a 4-column calibration region
    with pytest.raises(InputError, match="scan:0:7: calibration region too small"):
        MapsCache(tmp_path).maps(kspace, "scan:0:7")
    assert list(tmp_path.iterdir()) == []


def test_digest_is_of_complex64_bytes() -> None:
    kspace = slice_kspace()
    assert maps_cache.kspace_sha256(kspace) == maps_cache.kspace_sha256(
        kspace.astype(np.complex128))
    assert maps_cache.kspace_sha256(kspace) != maps_cache.kspace_sha256(kspace[:, ::-1])
