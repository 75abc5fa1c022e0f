"""Fuzz the k-space and image readers: whatever the bytes, the only failure is InputError.

Three sources of bad files: random bytes behind a real format's magic number,
valid files truncated or with bytes flipped, and well-formed files holding
arrays of random shapes and dtypes.  A reader must either return data that
meets its contract or raise :class:`csmri.errors.InputError`; any other
exception (a warning too: the suite turns warnings into errors) is a bug.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csmri.acquisition import single_coil
from csmri.errors import InputError
from csmri.io import read_acquisition, write_acquisition
from csmri.io.cfl import stack_to_bart, write_cfl
from csmri.io.images import read_images

FUZZ = settings(
    max_examples=int(os.environ.get("CSMRI_FUZZ_EXAMPLES", "60")),  # raise it for a deep run
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

RNG = np.random.default_rng(7)
KSPACE = (RNG.standard_normal((2, 16, 16)) + 1j * RNG.standard_normal((2, 16, 16))).astype(
    np.complex64
)
MASK = np.zeros(16, dtype=bool)
MASK[::2] = True
KSPACE[..., ~MASK] = 0
TARGET = np.abs(KSPACE).astype(np.float32)


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


# --------------------------------------------------------------------------- templates


def _bytes_of(writer: Callable[[Path], None], name: str) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        writer(path)
        return {p.suffix: p.read_bytes() for p in Path(tmp).iterdir()}


def _h5(path: Path) -> None:
    write_acquisition(path, single_coil(KSPACE, MASK, TARGET, attrs={"patient": "fuzz"}))


def _npz(path: Path) -> None:
    np.savez(path, kspace=KSPACE, mask=MASK, target=TARGET)


def _png(path: Path) -> None:
    from PIL import Image

    Image.fromarray((TARGET[0] * 40).astype(np.uint8)).save(path)


def _nifti(path: Path) -> None:
    import nibabel as nib

    nib.save(nib.Nifti1Image(np.moveaxis(TARGET, 0, -1), np.eye(4)), path)


TEMPLATES: dict[str, bytes] = {
    "in.h5": _bytes_of(_h5, "in.h5")[".h5"],
    "in.npy": _bytes_of(lambda p: np.save(p, KSPACE), "in.npy")[".npy"],
    "in.npz": _bytes_of(_npz, "in.npz")[".npz"],
    "in.png": _bytes_of(_png, "in.png")[".png"],
    "in.nii": _bytes_of(_nifti, "in.nii")[".nii"],
    "in.nii.gz": _bytes_of(_nifti, "in.nii.gz")[".gz"],
}
CFL = _bytes_of(lambda p: write_cfl(p, stack_to_bart(KSPACE)), "in.cfl")
MAGIC = {
    "in.h5": b"\x89HDF\r\n\x1a\n",
    "in.npy": b"\x93NUMPY\x01\x00",
    "in.npz": b"PK\x03\x04",
    "in.png": b"\x89PNG\r\n\x1a\n",
    "in.nii": b"\x5c\x01\x00\x00",
    "in.nii.gz": b"\x1f\x8b\x08",
    "in.cfl": b"",
}
IMAGE_NAMES = ("in.png", "in.nii", "in.nii.gz", "in.npy", "in.h5")
KSPACE_NAMES = ("in.h5", "in.npy", "in.npz", "in.cfl")


def assert_names_the_file(error: InputError, path: Path) -> None:
    """One line that starts with the file (for a BART pair, either file of the pair)."""
    assert error.path is not None and Path(error.path).parent == path.parent, str(error)
    assert Path(error.path).name.startswith("in."), str(error)
    assert str(error).startswith(error.path) and "\n" not in str(error), str(error)


def check_kspace(path: Path) -> None:
    """Read k-space: a clean refusal, or data that meets the documented contract."""
    try:
        data = read_acquisition(path)
    except InputError as error:
        assert_names_the_file(error, path)
        return
    assert data.kspace.dtype == np.complex64 and data.kspace.ndim == 4
    assert data.mask.dtype == bool and data.mask.shape == data.kspace.shape[-2:]
    assert data.mask.any() and np.isfinite(data.kspace).all()
    if data.reference is not None:
        assert data.reference.dtype == np.float32 and np.isfinite(data.reference).all()


def check_images(path: Path) -> None:
    """Read images: a clean refusal, or a finite float32 stack."""
    try:
        images = read_images(path)
    except InputError as error:
        assert_names_the_file(error, path)
        return
    assert images.dtype == np.float32 and images.ndim == 3 and images.shape[0] >= 1
    assert np.isfinite(images).all()


def write(folder: Path, name: str, content: bytes) -> Path:
    for stale in folder.iterdir():
        stale.unlink()
    path = folder / name
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------- bytes


@FUZZ
@given(
    name=st.sampled_from(sorted(MAGIC)),
    magic=st.booleans(),
    payload=st.binary(max_size=600),
)
def test_random_bytes_are_refused_cleanly(
    folder: Path, name: str, magic: bool, payload: bytes
) -> None:
    content = (MAGIC[name] if magic else b"") + payload
    path = write(folder, name, content)
    if name == "in.cfl":
        (folder / "in.hdr").write_bytes(payload[:80])
        (folder / "in.cfl").write_bytes(payload[80:])
    if name in KSPACE_NAMES:
        check_kspace(path)
    if name in IMAGE_NAMES:
        check_images(path)


@FUZZ
@given(
    name=st.sampled_from(sorted(TEMPLATES)),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=6),
)
def test_damaged_valid_files_are_read_or_refused_cleanly(
    folder: Path, name: str, cut: float, flips: list[tuple[float, int]]
) -> None:
    content = bytearray(TEMPLATES[name])
    for where, value in flips:
        content[int(where * len(content))] = value
    content = bytes(content[: max(1, round(cut * len(content)))]) if cut < 1 else bytes(content)
    path = write(folder, name, content)
    if name in KSPACE_NAMES:
        check_kspace(path)
    if name in IMAGE_NAMES:
        check_images(path)


@FUZZ
@given(
    header=st.one_of(
        st.lists(st.integers(-3, 2**40), min_size=0, max_size=18).map(
            lambda dims: "# Dimensions\n" + " ".join(map(str, dims)) + "\n"
        ),
        st.text(max_size=60),
    ),
    data_bytes=st.sampled_from([0, 8, 16 * 16 * 8, 2 * 16 * 16 * 8, 1000]),
)
def test_bart_headers_and_sizes_are_checked_before_reading(
    folder: Path, header: str, data_bytes: int
) -> None:
    write(folder, "in.hdr", header.encode("utf-8", errors="surrogatepass"))
    (folder / "in.cfl").write_bytes(CFL[".cfl"][:data_bytes].ljust(data_bytes, b"\0"))
    check_kspace(folder / "in.cfl")
    check_kspace(folder / "in.hdr")


# --------------------------------------------------------------------------- arrays

DTYPES = [
    np.bool_,
    np.int8,
    np.uint16,
    np.int64,
    np.float16,
    np.float32,
    np.float64,
    np.complex64,
    np.complex128,
    "U3",
    "S2",
    "datetime64[s]",
    [("re", "f4"), ("im", "f4")],
]
SPECIALS = [0.0, np.nan, np.inf, -np.inf, 1e300, -1.0]


def random_array(
    seed: int, shape: tuple[int, ...], dtype: object, special: float | None
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape) * 10
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        array = (values + 1j * rng.standard_normal(shape)).astype(dtype)
    elif dtype.kind in "US":
        array = values.astype(int).astype(dtype)
    elif dtype.kind == "M":
        array = values.astype(np.int64).astype(dtype)
    elif dtype.kind == "V":
        array = np.zeros(shape, dtype=dtype)
    else:
        with np.errstate(all="ignore"):
            array = values.astype(dtype)
    if special is not None and array.size and dtype.kind in "fc":
        with np.errstate(all="ignore"):
            array.flat[seed % array.size] = special
    return array


ARRAYS = {
    "seed": st.integers(0, 2**16),
    "shape": st.lists(st.sampled_from([0, 1, 2, 7, 8, 16, 33]), min_size=0, max_size=5).map(tuple),
    "dtype": st.sampled_from(DTYPES),
    "special": st.none() | st.sampled_from(SPECIALS),
}


@FUZZ
@given(container=st.sampled_from(["npy", "npz", "h5", "h5-no-mask"]), **ARRAYS)
def test_random_arrays_as_kspace_are_read_or_refused_cleanly(
    folder: Path,
    container: str,
    seed: int,
    shape: tuple[int, ...],
    dtype: object,
    special: float | None,
) -> None:
    array = random_array(seed, shape, dtype, special)
    mask = random_array(
        seed + 1, shape[-1:] or (1,), [np.bool_, np.float32, np.int8][seed % 3], None
    )
    for stale in folder.iterdir():
        stale.unlink()
    if container == "npy":
        path = folder / "in.npy"
        np.save(path, array)
    elif container == "npz":
        path = folder / "in.npz"
        np.savez(
            path,
            kspace=array,
            mask=mask,
            target=np.abs(array.real) if array.dtype.kind in "fc" else array,
        )
    else:
        path = folder / "in.h5"
        with h5py.File(path, "w") as file:
            try:
                file.create_dataset("kspace", data=array)
            except (TypeError, ValueError):  # a dtype HDF5 cannot store: nothing to test
                return
            if container == "h5":
                file.create_dataset("mask", data=mask)
    check_kspace(path)


@FUZZ
@given(container=st.sampled_from(["npy", "nii", "h5"]), **ARRAYS)
def test_random_arrays_as_images_are_read_or_refused_cleanly(
    folder: Path,
    container: str,
    seed: int,
    shape: tuple[int, ...],
    dtype: object,
    special: float | None,
) -> None:
    array = random_array(seed, shape, dtype, special)
    for stale in folder.iterdir():
        stale.unlink()
    if container == "npy":
        path = folder / "in.npy"
        np.save(path, array)
    elif container == "nii":
        import nibabel as nib

        path = folder / "in.nii"
        try:
            nib.save(nib.Nifti1Image(array, np.eye(4)), path)
        except Exception:  # nibabel cannot store this array at all: nothing to read back
            return
    else:
        path = folder / "in.h5"
        with h5py.File(path, "w") as file:
            file.create_dataset("kspace", data=KSPACE)
            try:
                file.create_dataset("reconstruction_esc", data=array)
            except (TypeError, ValueError):
                return
    check_images(path)


def test_png_decompression_bomb_is_refused_before_decoding(folder: Path) -> None:
    """A tiny PNG that declares 40000 x 40000 pixels is refused from its header."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 40000, 40000, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    path = write(folder, "in.png", png + chunk(b"IEND", b""))
    with pytest.raises(InputError, match=r"too large|not a readable PNG"):
        read_images(path)


def test_npz_member_claiming_terabytes_is_refused_before_loading(folder: Path) -> None:
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<c8", "fortran_order": False, "shape": (2**14, 2**13, 2**13)}
    )
    path = folder / "in.npz"
    for stale in folder.iterdir():
        stale.unlink()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("kspace.npy", header.getvalue())
    with pytest.raises(InputError, match="too large"):
        read_acquisition(path)
