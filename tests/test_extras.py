"""Optional extras: a feature whose extra is missing stops with one line naming the extra.

Each test blocks the extra's module (``sys.modules[name] = None`` makes ``import`` fail as
if it were not installed), runs the command that needs it, and checks the exit status, the
one-line message and that nothing was written.
"""

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.errors import UsageError
from csmri.extras import require


def _block(monkeypatch, *names):
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def _only_line(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def _expected(feature, extra):
    return f"csmri: error: {feature} needs the {extra} extra: pip install 'csmri[{extra}]'"


def test_require_returns_the_module_when_installed():
    assert require("json", "none", "parsing JSON") is sys.modules["json"]


def test_require_names_the_extra_when_the_module_is_missing(monkeypatch):
    _block(monkeypatch, "nibabel")
    with pytest.raises(UsageError) as info:
        require("nibabel", "images", "reading NIfTI volumes")
    assert str(info.value) == ("reading NIfTI volumes needs the images extra: "
                               "pip install 'csmri[images]'")
    assert info.value.exit_code == 2


def test_png_without_images_extra_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    pytest.importorskip("PIL.Image")
    from PIL import Image

    Image.fromarray(np.full((32, 24), 128, np.uint8)).save(tmp_path / "img.png")
    _block(monkeypatch, "PIL", "PIL.Image")
    out = tmp_path / "k.h5"
    result = CliRunner().invoke(csmri, ["simulate", str(tmp_path / "img.png"), "-o", str(out)])
    assert result.exit_code == 2
    assert _only_line(result) == _expected("reading PNG images", "images")
    assert not out.exists()


def test_nifti_without_images_extra_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    nib = pytest.importorskip("nibabel")
    volume = np.zeros((24, 20, 3), np.float32)
    volume[6:18, 5:15] = 1
    nib.save(nib.Nifti1Image(volume, np.eye(4)), tmp_path / "vol.nii.gz")
    _block(monkeypatch, "nibabel")
    out = tmp_path / "k.h5"
    result = CliRunner().invoke(csmri, ["simulate", str(tmp_path / "vol.nii.gz"), "-o", str(out)])
    assert result.exit_code == 2
    assert _only_line(result) == _expected("reading NIfTI volumes", "images")
    assert not out.exists()


def test_mrd_without_mrd_extra_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    pytest.importorskip("ismrmrd")
    from csmri.io.ismrmrd import write_ismrmrd

    rng = np.random.default_rng(0)
    kspace = (rng.standard_normal((1, 2, 16, 12))
              + 1j * rng.standard_normal((1, 2, 16, 12))).astype(np.complex64)
    mask = np.zeros(12, bool)
    mask[::2] = True
    mask[5:7] = True
    write_ismrmrd(tmp_path / "raw.h5", kspace * mask, mask)
    _block(monkeypatch, "ismrmrd")
    out = tmp_path / "out.h5"
    result = CliRunner().invoke(csmri, ["solve", str(tmp_path / "raw.h5"), "-o", str(out),
                                        "--iters", "2"])
    assert result.exit_code == 2
    assert _only_line(result) == _expected("reading ISMRMRD/MRD raw data", "mrd")
    assert not out.exists()


def test_dask_scheduler_without_dask_extra_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(2):
        result = CliRunner().invoke(csmri, ["simulate", "-o", str(inputs / f"c{i}.h5"),
                                            "--slices", f"{i}:{i + 1}", "--seed", str(i)])
        assert result.exit_code == 0, result.output
    _block(monkeypatch, "distributed")
    out = tmp_path / "out"
    result = CliRunner().invoke(csmri, ["solve", str(inputs / "c0.h5"), str(inputs / "c1.h5"),
                                        "-o", str(out), "--scheduler", "local", "--iters", "2"])
    assert result.exit_code == 2
    assert _only_line(result) == _expected("a Dask cluster (--scheduler)", "dask")
    assert not out.exists() or not any(out.iterdir())


def test_non_cartesian_without_nufft_extra_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    _block(monkeypatch, "finufft", "torchkbnufft")
    out = tmp_path / "radial.npz"
    result = CliRunner().invoke(csmri, ["simulate", "-o", str(out), "--trajectory", "radial",
                                        "--slices", "0:1"])
    assert result.exit_code == 2
    assert _only_line(result) == _expected("non-Cartesian k-space", "nufft")
    assert not out.exists()
