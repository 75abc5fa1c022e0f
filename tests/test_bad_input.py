"""Bad input through the command line: one line naming the file and the problem, no output.

Every case runs ``csmri`` through click's runner and checks the whole contract of
issue 6: the exit status (2 for usage, 1 for data), exactly one line on stderr
that names the offending file and the problem, no traceback, and a folder whose
files (inputs included) are byte-for-byte what they were before the run: no
output, no temporary file, no input touched.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.io.cfl import write_cfl
from csmri.io.images import shepp_logan
from csmri.mri.simulate import simulate

CSMRI_SCRIPT = Path(sys.executable).with_name("csmri")
HAVE_UNET_METHOD = importlib.util.find_spec("learned.method") is not None
NEEDS_UNET = pytest.mark.skipif(
    not HAVE_UNET_METHOD, reason="learned.method (UnetMethod) is not written yet"
)

IMAGES = np.stack([shepp_logan(32), shepp_logan(32)[::-1]])
GOOD = simulate(IMAGES, acceleration=2, center_fraction=0.25, seed=0, noise=0.0)


# --------------------------------------------------------------------------- files


def write_h5(path: Path, *, drop: tuple[str, ...] = (), **datasets: object) -> Path:
    """A fastMRI-like file: the good simulation, with datasets replaced or dropped."""
    contents = {
        "kspace": GOOD.kspace,
        "mask": GOOD.mask.astype(np.float32),
        "reconstruction_esc": GOOD.target,
    }
    contents.update(datasets)
    with h5py.File(path, "w") as file:
        for key, value in contents.items():
            if key not in drop and value is not None:
                file.create_dataset(key, data=value)
    return path


def good_h5(d: Path) -> Path:
    return write_h5(d / "in.h5")


def truncated_h5(d: Path) -> Path:
    full = write_h5(d / "full.h5").read_bytes()
    (d / "full.h5").unlink()
    path = d / "in.h5"
    path.write_bytes(full[: len(full) // 2])
    return path


def huge_h5(d: Path) -> Path:
    """A chunked dataset whose header claims 16 TB; the file itself is a few kB."""
    path = d / "in.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset(
            "kspace", shape=(2**16, 2**12, 2**12), dtype=np.complex64, chunks=(1, 64, 64)
        )
    return path


def huge_npy(d: Path) -> Path:
    """A .npy header that claims 8 TB of complex64 followed by no data."""
    path = d / "in.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<c8", "fortran_order": False, "shape": (2**14, 2**13, 2**13)}
        )
    return path


def huge_cfl(d: Path) -> Path:
    (d / "in.hdr").write_text("# Dimensions\n1048576 1048576 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n")
    (d / "in.cfl").write_bytes(b"\0" * 64)
    return d / "in.cfl"


def multicoil_cfl(d: Path) -> Path:
    """4 coils, 32 x 32, every 4th column sampled: no fully sampled centre for ESPIRiT."""
    kspace = np.zeros((32, 32, 1, 4), dtype=np.complex64)
    kspace[:, ::4] = 1
    write_cfl(d / "in.cfl", kspace)
    return d / "in.cfl"


def npy(array: np.ndarray) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        np.save(d / "in.npy", array)
        return d / "in.npy"

    return make


def h5(**datasets: object) -> Callable[[Path], Path]:
    drop = tuple(key for key, value in datasets.items() if value is None)
    return lambda d: write_h5(d / "in.h5", drop=drop, **datasets)


def raw(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / name).write_bytes(content)
        return d / name

    return make


def folder(d: Path) -> Path:
    (d / "in.h5").mkdir()
    return d / "in.h5"


def missing(d: Path) -> Path:
    return d / "in.h5"


def with_nan(value: complex, dtype: type = np.complex64) -> np.ndarray:
    kspace = GOOD.kspace.astype(dtype)
    kspace[0, 3, 4] = value
    return kspace


def png_bytes(size: int) -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    noise = np.random.default_rng(0).integers(0, 255, (size, size), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="PNG")
    return buffer.getvalue()


# --------------------------------------------------------------------------- models


def pickle_model(d: Path) -> Path:
    """A pickle whose unpickling would create ``pwned`` beside it."""

    class Payload:
        def __reduce__(self) -> tuple:
            return (open, (str(d / "pwned"), "w"))

    path = d / "model.safetensors"
    path.write_bytes(pickle.dumps({"state_dict": Payload()}, protocol=4))
    return path


def corrupt_model(d: Path) -> Path:
    path = d / "model.safetensors"
    claimed = {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4000000]}
    header = json.dumps({"w": claimed})
    path.write_bytes(len(header).to_bytes(8, "little") + header.encode() + b"\0" * 100)
    return path


def foreign_model(d: Path) -> Path:
    """A well-formed safetensors file of another network (a tiny classifier)."""
    from safetensors.numpy import save_file

    path = d / "model.safetensors"
    save_file(
        {"fc.weight": np.zeros((10, 784), np.float32), "fc.bias": np.zeros(10, np.float32)},
        str(path),
        metadata={"format": json.dumps("csmri-unet"), "config": json.dumps({"chans": 8})},
    )
    return path


def tiny_model(kind: str, manifest: bool = True) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        from learned.data.manifest import build_manifest
        from learned.models.checkpoint import save_model
        from learned.models.unet import NormUnet, UNetConfig
        from learned.models.unrolled import UnrolledConfig, UnrolledNet

        model = (NormUnet(UNetConfig(chans=4, depth=2)) if kind == "unet"
                 else UnrolledNet(UnrolledConfig(cascades=1, chans=4, depth=2)))
        source = {"subject": "s", "file": "s.nii", "sha256": "d" * 64,
                  "train_slices": {}, "val_slices": {}}
        metadata = {"manifest": build_manifest([source], {}, [], "t")} if manifest else {}
        return save_model(d / "model.safetensors", model, model.config, metadata)

    return make


def solve_unet(make_model: Callable[[Path], Path], method: str = "unet"
               ) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        good = good_h5(d)
        return ["solve", str(good), "-o", str(d / "out.h5"), "--method", method,
                "--model", str(make_model(d))]

    return make


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One bad invocation: how to build it and what the one-line answer must say."""

    id: str
    make: Callable[[Path], list[str]]
    code: int
    says: str
    names: str | None = "in."  # the offending file's name must appear in the line


def solve_on(make_input: Callable[[Path], Path], *options: str) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        return ["solve", str(make_input(d)), "-o", str(d / "out.h5"), "--iters", "2", *options]

    return make


def simulate_on(make_input: Callable[[Path], Path], *options: str) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        return ["simulate", str(make_input(d)), "-o", str(d / "out.h5"), *options]

    return make


def solve_to(output: str, *options: str) -> Callable[[Path], list[str]]:
    def make(d: Path) -> list[str]:
        good = good_h5(d)
        (d / "old.h5").write_bytes(b"an earlier result")
        (d / "old.png").write_bytes(b"an earlier picture")
        target = str(good) if output == "IN" else str(d / output)
        return ["solve", str(good), "-o", target, "--iters", "2", *options]

    return make


CASES = [
    # the input file itself
    Case("missing-file", solve_on(missing), 1, "no such file"),
    Case("directory", solve_on(folder), 1, "directory"),
    Case("not-hdf5", solve_on(raw("in.h5", b"just some text\n" * 20)), 1, "HDF5"),
    Case("truncated-hdf5", solve_on(truncated_h5), 1, "HDF5"),
    Case("empty-file", solve_on(raw("in.h5", b"")), 1, "HDF5"),
    Case("unknown-format", solve_on(raw("in.txt", b"kspace")), 1, "format"),
    Case("no-kspace-dataset", solve_on(h5(kspace=None)), 1, "kspace"),
    Case("kspace-is-a-group", solve_on(lambda d: _group_h5(d)), 1, "kspace"),
    Case("real-kspace", solve_on(h5(kspace=GOOD.kspace.real)), 1, "complex"),
    Case("integer-kspace", solve_on(h5(kspace=np.ones((2, 32, 32), np.int16))), 1, "complex"),
    Case("integer-kspace-npy", solve_on(npy(np.ones((2, 32, 32), np.int32))), 1, "complex"),
    Case("rank-1-kspace", solve_on(h5(kspace=GOOD.kspace[0, 0])), 1, "shape"),
    Case("rank-5-kspace", solve_on(h5(kspace=GOOD.kspace.reshape(1, 1, 2, 32, 32))), 1, "shape"),
    Case(
        "multi-coil-h5-maps-coils",
        solve_on(
            h5(
                kspace=GOOD.kspace.reshape(2, 1, 32, 32),
                sens_maps=np.ones((2, 3, 32, 32), np.complex64),
            )
        ),
        1,
        "coil maps have 3 coils, the k-space has 1",
    ),
    Case("multi-coil-cfl-small-calibration", solve_on(multicoil_cfl), 1, "need at least 10"),
    Case("mask-too-short", solve_on(h5(mask=GOOD.mask[:-1].astype(np.float32))), 1, "mask"),
    Case("mask-of-strings", solve_on(h5(mask=np.array([b"x"] * 32))), 1, "mask"),
    Case("all-zero-mask", solve_on(h5(mask=np.zeros(32, np.float32))), 1, "mask"),
    Case("all-zero-kspace", solve_on(npy(np.zeros((2, 32, 32), np.complex64))), 1, "mask"),
    Case("nan-kspace", solve_on(h5(kspace=with_nan(complex(np.nan, 0)))), 1, "NaN"),
    Case("inf-kspace", solve_on(h5(kspace=with_nan(complex(0, np.inf)))), 1, "Inf"),
    Case("overflowing-kspace", solve_on(npy(with_nan(1e300 + 0j, np.complex128))), 1, "Inf"),
    Case(
        "target-larger-than-image",
        solve_on(h5(reconstruction_esc=np.ones((2, 64, 64), np.float32))),
        1,
        "cropped",
    ),
    Case(
        "target-wrong-slice-count",
        solve_on(h5(reconstruction_esc=np.ones((3, 32, 32), np.float32))),
        1,
        "target",
    ),
    Case("target-of-strings", solve_on(h5(reconstruction_esc=np.array([b"x"] * 4))), 1, "target"),
    # sizes
    Case("1x1-kspace", solve_on(npy(np.ones((1, 1, 1), np.complex64))), 1, "too small"),
    Case("terabyte-h5-header", solve_on(huge_h5), 1, "too large"),
    Case("terabyte-npy-header", solve_on(huge_npy), 1, "too large"),
    Case("terabyte-cfl-header", solve_on(huge_cfl), 1, "elements"),
    Case("pickled-npy", solve_on(npy(np.array([{"a": 1}], dtype=object))), 1, "pickle"),
    # slice selection
    Case("empty-slice-selection", solve_on(good_h5, "--slices", "1:1"), 1, "empty"),
    Case("slice-out-of-range", solve_on(good_h5, "--slices", "7"), 1, "slice"),
    Case("negative-slice-out-of-range", solve_on(good_h5, "--slices", "-9:"), 1, "slice"),
    Case("malformed-slice-selection", solve_on(good_h5, "--slices", "one:two"), 2, "slice", None),
    # options
    Case("negative-lambda", solve_on(good_h5, "--lam", "-1"), 2, "lam", None),
    Case("nan-lambda", solve_on(good_h5, "--lam", "nan"), 2, "lam", None),
    Case("infinite-lambda", solve_on(good_h5, "--lam", "inf"), 2, "lam", None),
    Case("zero-iterations", solve_on(good_h5, "--iters", "0"), 2, "iters", None),
    Case("negative-iterations", solve_on(good_h5, "--iters", "-3"), 2, "iters", None),
    Case("nan-tolerance", solve_on(good_h5, "--tol", "nan"), 2, "tol", None),
    Case("unknown-regulariser", solve_on(good_h5, "--reg", "l0"), 2, "reg", None),
    Case("unknown-solver", solve_on(good_h5, "--solver", "newton"), 2, "solver", None),
    Case(
        "unknown-wavelet",
        solve_on(good_h5, "--reg", "wavelet", "--wavelet", "nosuch"),
        2,
        "wavelet",
        None,
    ),
    Case("unknown-method", solve_on(good_h5, "--method", "magic"), 2, "method", None),
    # outputs
    Case("output-in-missing-folder", solve_to("nosuch/out.h5"), 2, "does not exist", "nosuch"),
    Case("output-is-input", solve_to("IN"), 2, "same file", "in.h5"),
    Case("output-is-input-with-overwrite", solve_to("IN", "--overwrite"), 2, "same file", "in.h5"),
    Case("output-exists", solve_to("old.h5"), 2, "--overwrite", "old.h5"),
    Case("png-exists", solve_to("old.npy", "--png"), 2, "--overwrite", "old.png"),
    Case("output-unknown-suffix", solve_to("out.txt"), 2, "output", "out.txt"),
    Case("output-is-a-folder", solve_to("."), 2, "output", None),
    # model files
    Case("pickle-model", solve_unet(pickle_model), 1, "pickle", "model.safetensors"),
    Case("corrupt-model", solve_unet(corrupt_model), 1, "safetensors", "model.safetensors"),
    Case("foreign-architecture-model", solve_unet(foreign_model), 1, "", "model.safetensors"),
    Case("missing-model", solve_unet(lambda d: d / "model.safetensors"), 1, "no such",
         "model.safetensors"),
    Case("model-without-manifest", solve_unet(tiny_model("unet", manifest=False)), 1,
         "no training manifest", "model.safetensors"),
    Case("unrolled-weights-for-unet", solve_unet(tiny_model("unrolled")), 1,
         "use it with --method unrolled", "model.safetensors"),
    Case("unet-weights-for-unrolled", solve_unet(tiny_model("unet"), "unrolled"), 1,
         "use it with --method unet", "model.safetensors"),
    # compare and train read the same files
    Case(
        "compare-missing-input",
        lambda d: ["compare", str(d / "in.h5"), "--methods", "zero-filled"],
        1,
        "no such file",
    ),
    Case(
        "compare-truncated-hdf5",
        lambda d: ["compare", str(truncated_h5(d)), "--methods", "zero-filled"],
        1,
        "HDF5",
    ),
    Case(
        "compare-nan-lambda",
        lambda d: ["compare", "--lam", "nan", "--methods", "zero-filled"],
        2,
        "nan",
        None,
    ),
    Case(
        "train-missing-data",
        lambda d: ["train", "--data", str(d / "in.nii"), "-o", str(d / "m.safetensors")],
        1,
        "no such",
    ),
    Case(
        "train-truncated-data",
        lambda d: ["train", "--data", str(truncated_h5(d)), "-o", str(d / "m.safetensors")],
        1,
        "HDF5",
    ),
    Case(
        "train-output-in-missing-folder",
        lambda d: ["train", "--data", str(good_h5(d)), "-o", str(d / "no" / "m.safetensors")],
        2,
        "does not exist",
        "no",
    ),
    # simulate's image input
    Case("simulate-missing-image", simulate_on(lambda d: d / "in.png"), 1, "no such file"),
    Case("simulate-corrupt-png", simulate_on(raw("in.png", png_bytes(64)[:2000])), 1, "PNG"),
    Case("simulate-text-as-png", simulate_on(raw("in.png", b"hello")), 1, "PNG"),
    Case("simulate-1x1-image", simulate_on(raw("in.png", png_bytes(1))), 1, "too small"),
    Case("simulate-nan-image", simulate_on(npy(np.full((16, 16), np.nan, np.float32))), 1, "NaN"),
    Case(
        "simulate-rank-4-image", simulate_on(npy(np.ones((2, 2, 16, 16), np.float32))), 1, "shape"
    ),
    Case("simulate-string-image", simulate_on(npy(np.array([["a"] * 16] * 16))), 1, "numeric"),
    Case("simulate-corrupt-nifti", simulate_on(raw("in.nii", b"\0" * 400)), 1, "NIfTI"),
    Case("simulate-h5-without-target", simulate_on(h5(reconstruction_esc=None)), 1, "target"),
    Case("simulate-empty-slices", simulate_on(npy(IMAGES), "--slices", "2:"), 1, "slice"),
    Case(
        "simulate-output-not-h5",
        lambda d: ["simulate", "-o", str(d / "out.npy")],
        2,
        ".h5",
        "out.npy",
    ),
    Case(
        "simulate-accel-below-one",
        lambda d: ["simulate", "-o", str(d / "o.h5"), "--accel", "0.5"],
        2,
        "accel",
        None,
    ),
    Case(
        "simulate-centre-fraction-above-one",
        lambda d: ["simulate", "-o", str(d / "o.h5"), "--center-fraction", "1.5"],
        2,
        "center-fraction",
        None,
    ),
    Case(
        "simulate-negative-noise",
        lambda d: ["simulate", "-o", str(d / "o.h5"), "--noise", "-1"],
        2,
        "noise",
        None,
    ),
]

MODEL_CASES = {"pickle-model", "corrupt-model", "foreign-architecture-model", "missing-model"}


def _group_h5(d: Path) -> Path:
    path = d / "in.h5"
    with h5py.File(path, "w") as file:
        file.create_group("kspace")
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden temporaries included) with its SHA-256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def error_lines(text: str) -> list[str]:
    """Non-blank lines as a terminal shows them: a progress bar redrawn with CR is overwritten."""
    shown = (line.rsplit("\r", 1)[-1] for line in text.split("\n"))
    return [line for line in shown if line.strip()]


def _params() -> list:
    return [
        pytest.param(case, id=case.id, marks=[NEEDS_UNET] if case.id in MODEL_CASES else [])
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_bad_input_is_refused_with_one_line_and_no_output(case: Case, tmp_path: Path) -> None:
    args = case.make(tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(csmri, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__} escaped: {result.exception}"
    )
    lines = error_lines(result.stderr)
    assert result.exit_code == case.code, result.stderr
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert "Traceback" not in result.output
    assert case.says.lower() in lines[0].lower(), lines[0]
    if case.names is not None:
        assert case.names in lines[0], lines[0]
    assert snapshot(tmp_path) == before, "the run wrote, removed or changed a file"
    assert not (tmp_path / "pwned").exists(), "code from the model file ran"


def test_zero_lambda_is_plain_least_squares_not_an_error(tmp_path: Path) -> None:
    good = good_h5(tmp_path)
    result = CliRunner().invoke(
        csmri, ["solve", str(good), "-o", str(tmp_path / "out.npy"), "--lam", "0", "--iters", "2"]
    )
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "out.npy").shape == (2, 32, 32)


def test_existing_output_is_replaced_only_with_overwrite(tmp_path: Path) -> None:
    good = good_h5(tmp_path)
    out = tmp_path / "out.npy"
    out.write_bytes(b"old")
    args = ["solve", str(good), "-o", str(out), "--method", "zero-filled"]
    refused = CliRunner().invoke(csmri, args)
    assert refused.exit_code == 2 and out.read_bytes() == b"old"
    replaced = CliRunner().invoke(csmri, [*args, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    assert np.load(out).shape == (2, 32, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.h5", "out.npy"]


def test_cfl_output_may_not_replace_the_input_pair(tmp_path: Path) -> None:
    write_cfl(tmp_path / "in.cfl", np.moveaxis(GOOD.kspace, 0, -1))
    before = snapshot(tmp_path)
    result = CliRunner().invoke(
        csmri,
        [
            "solve",
            str(tmp_path / "in.hdr"),
            "-o",
            str(tmp_path / "in.cfl"),
            "--overwrite",
            "--method",
            "zero-filled",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "same file" in result.stderr
    assert snapshot(tmp_path) == before


def test_unexpected_reader_exception_is_one_line_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library bug deep in h5py or nibabel still ends as one line and exit status 1."""
    from csmri import io as csmri_io

    def broken_reader(path: object, coil_axis: object = None) -> None:
        raise RuntimeError("H5Dread failed deep inside the library\nsecond line")

    monkeypatch.setattr(csmri_io, "read_acquisition", broken_reader)
    good = good_h5(tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(csmri, ["solve", str(good), "-o", str(tmp_path / "out.h5")])
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    assert len(error_lines(result.stderr)) == 1, result.stderr
    assert snapshot(tmp_path) == before


def test_disk_full_while_writing_leaves_no_partial_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cli.solve

    def half_write(path: Path, images: np.ndarray, attrs: dict | None = None) -> None:
        Path(path).write_bytes(b"half of the result")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.solve, "write_reconstruction", half_write)
    good = good_h5(tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(
        csmri, ["solve", str(good), "-o", str(tmp_path / "out.h5"), "--method", "zero-filled"]
    )
    assert snapshot(tmp_path) == before, "a partial output or a temporary file was left"
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "space" in lines[0], result.stderr


def test_interrupt_while_writing_leaves_no_partial_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cli.solve

    def interrupted_write(path: Path, images: np.ndarray, attrs: dict | None = None) -> None:
        Path(path).write_bytes(b"half of the result")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.solve, "write_reconstruction", interrupted_write)
    good = good_h5(tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(
        csmri, ["solve", str(good), "-o", str(tmp_path / "out.h5"), "--method", "zero-filled"]
    )
    assert result.exit_code == 130
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- real processes


def run_script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CSMRI_SCRIPT), *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_console_script_refuses_truncated_hdf5_with_one_line(tmp_path: Path) -> None:
    bad = truncated_h5(tmp_path)
    before = snapshot(tmp_path)
    done = run_script("solve", bad.name, "-o", "out.h5", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("csmri: error: in.h5:"), lines[0]
    assert "Traceback" not in done.stderr
    assert snapshot(tmp_path) == before


def test_console_script_refuses_nan_lambda_with_usage_status(tmp_path: Path) -> None:
    good = good_h5(tmp_path)
    done = run_script("solve", good.name, "-o", "out.h5", "--lam", "nan", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(error_lines(done.stderr)) == 1, done.stderr
    assert not (tmp_path / "out.h5").exists()


def test_console_script_shows_traceback_only_with_debug(tmp_path: Path) -> None:
    bad = truncated_h5(tmp_path)
    done = run_script("--debug", "solve", bad.name, "-o", "out.h5", cwd=tmp_path)
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert not (tmp_path / "out.h5").exists()
