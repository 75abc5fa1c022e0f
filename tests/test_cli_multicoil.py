"""CLI end to end on multi-coil files: fastMRI .h5, BART .cfl, ISMRMRD, .npy; solve and compare."""

import csv
import io
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.io import read_acquisition
from csmri.io.cfl import coil_stack_to_bart, write_cfl
from csmri.io.images import shepp_logan
from csmri.io.ismrmrd import write_ismrmrd
from csmri.io.maps import read_maps
from csmri.mri.coil_sim import simulate_multicoil

REAL = Path(__file__).parent / "data" / "sigpy_cartesian_ksp.npy"


def _run(*args, ok=True):
    result = CliRunner().invoke(csmri, [str(a) for a in args])
    assert (result.exit_code == 0) == ok, result.output
    return result


def _psnr(text):
    return float(text.split("PSNR ")[1].split(" dB")[0])


@pytest.fixture(scope="module")
def fastmri_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mc") / "mc.h5"
    _run(
        "simulate",
        "-o",
        path,
        "--coils",
        "4",
        "--slices",
        "6:7",
        "--noise",
        "0.002",
        "--coil-correlation",
        "0.3",
    )
    return path


@pytest.fixture(scope="module")
def full_kspace():
    data = simulate_multicoil(shepp_logan(48), coils=4, acceleration=1, center_fraction=0.5, seed=0)
    assert data.mask.all()
    return data.kspace


def test_simulate_writes_fastmri_multicoil_layout(fastmri_file):
    with h5py.File(fastmri_file, "r") as f:
        assert f["kspace"].shape == (1, 4, 217, 181)
        assert f["reconstruction_rss"].shape == (1, 217, 181)
        assert b"<encodedSpace><matrixSize><x>217</x><y>181</y>" in f["ismrmrd_header"][()]
        assert f["mask"].shape == (181,) and "sens_maps" not in f


def test_solve_fastmri_multicoil_sense_beats_rss_and_saves_maps(tmp_path, fastmri_file):
    zf = _run("solve", fastmri_file, "-o", tmp_path / "zf.h5", "--method", "zero-filled").output
    cs = _run(
        "solve",
        fastmri_file,
        "-o",
        tmp_path / "cs.h5",
        "--iters",
        "25",
        "--save-maps",
        tmp_path / "maps.cfl",
    ).output
    assert "zero-filled: 1 slices, 4 coils" in zf and "tv-admm: 1 slices, 4 coils" in cs
    assert _psnr(cs) > _psnr(zf) + 3
    assert read_maps(tmp_path / "maps.cfl", (1, 4, 217, 181)).shape == (1, 4, 217, 181)
    again = _run(
        "solve",
        fastmri_file,
        "-o",
        tmp_path / "cs2.h5",
        "--iters",
        "25",
        "--maps",
        tmp_path / "maps.cfl",
    ).output
    assert abs(_psnr(again) - _psnr(cs)) < 0.01  # the saved maps give the same reconstruction
    with h5py.File(tmp_path / "cs.h5", "r") as f:
        assert f["reconstruction"].shape == (1, 217, 181) and f.attrs["coils"] == 4
    small = _run(
        "solve", fastmri_file, "-o", tmp_path / "cc.h5", "--iters", "25", "--coils", "2"
    ).output
    assert "2 coils" in small and _psnr(small) > _psnr(zf)


def test_solve_bart_cfl_and_ismrmrd_agree(tmp_path, full_kspace):
    mask = np.zeros(48, bool)
    mask[::2] = True
    mask[18:30] = True
    write_cfl(tmp_path / "k", coil_stack_to_bart(full_kspace * mask))
    write_ismrmrd(tmp_path / "raw.h5", full_kspace, mask)
    outs = []
    for name in ("k.cfl", "raw.h5"):
        _run(
            "solve",
            tmp_path / name,
            "-o",
            tmp_path / f"{name}.npy",
            "--iters",
            "10",
            "--reg",
            "wavelet",
        )
        outs.append(np.load(tmp_path / f"{name}.npy"))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-3, atol=1e-3 * outs[0].max())


def test_solve_real_8coil_npy_with_coil_axis(tmp_path):
    out = _run("solve", REAL, "-o", tmp_path / "r.npy", "--coil-axis", "0", "--iters", "5").output
    assert "1 slices, 8 coils" in out and "PSNR" not in out
    image = np.load(tmp_path / "r.npy")
    assert image.shape == (1, 230, 180) and np.isfinite(image).all() and image.max() > 0


def test_compare_fastmri_cfl_and_ismrmrd(tmp_path, fastmri_file, full_kspace):
    write_cfl(tmp_path / "full", coil_stack_to_bart(full_kspace))
    write_ismrmrd(tmp_path / "raw.h5", full_kspace)
    result = _run(
        "compare",
        fastmri_file,
        tmp_path / "full.cfl",
        tmp_path / "raw.h5",
        "--accel",
        "4",
        "--center-fraction",
        "0.25",
        "--methods",
        "zero-filled,sense-adjoint,tv-fista,unet",
        "--iters",
        "10",
        "--lam",
        "0.003",
        "--format",
        "csv",
        "-o",
        tmp_path / "out",
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    cases = {r["input"] for r in rows}
    assert cases == {"mc.h5", "full.cfl", "raw.h5"}
    for case in cases:
        scores = {r["method"]: float(r["psnr"]) for r in rows if r["input"] == case}
        assert set(scores) == {"zero-filled", "sense-adjoint", "tv-fista", "unet"}
        assert scores["tv-fista"] > scores["zero-filled"]
    for name in ("results.md", "reconstructions.png", "quality_vs_runtime.png",
                 "convergence.png"):
        assert (tmp_path / "out" / name).exists()
    full = [r for r in rows if r["input"] in ("full.cfl", "raw.h5") and r["method"] == "tv-fista"]
    assert abs(float(full[0]["psnr"]) - float(full[1]["psnr"])) < 1e-3  # same data, same scores


@pytest.mark.parametrize(
    "setup,message",
    [
        ("maps_coils", "coil maps have 3 coils, the k-space has 4"),
        ("small_calib", "calibration region too small for ESPIRiT"),
        ("undersampled_no_target", "without a reference (reconstruction_rss/_esc)"),
    ],
)
def test_bad_multicoil_input_one_line_nothing_written(tmp_path, full_kspace, setup, message):
    out = tmp_path / "out.h5"
    mask = np.zeros(48, bool)
    mask[::3] = True
    write_cfl(tmp_path / "k", coil_stack_to_bart(full_kspace * mask))
    if setup == "maps_coils":
        np.save(tmp_path / "m.npy", np.ones((1, 3, 48, 48), np.complex64))
        args = ["solve", tmp_path / "k.cfl", "-o", out, "--maps", tmp_path / "m.npy"]
    elif setup == "small_calib":
        args = ["solve", tmp_path / "k.cfl", "-o", out]
    else:
        args = ["compare", tmp_path / "k.cfl", "--methods", "zero-filled"]
    result = _run(*args, ok=False)
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists() and read_acquisition(tmp_path / "k.cfl").kspace.shape == (1, 4, 48, 48)


def test_compare_multicoil_tunes_lambda_and_writes_verdict_and_figures(tmp_path):
    """The multi-coil comparison is the single-coil one: tuned lambdas on unscored slices,
    learned rows (U-Net on RSS, unrolled with SENSE), the verdict and the three figures."""
    from csmri.acquisition import Header
    from csmri.io import write_acquisition

    images = np.stack([shepp_logan(48) * s for s in (1.0, 0.9, 0.8)])
    acq = simulate_multicoil(images, coils=3, acceleration=1, center_fraction=0.5, seed=0,
                             noise=0.005)
    acq.maps = None
    acq.header = Header((48, 48), (48, 48))
    write_acquisition(tmp_path / "full.h5", acq)
    result = _run("compare", tmp_path / "full.h5", "--accel", "3", "--center-fraction", "0.2",
                  "--iters", "5", "--tuning-slices", "1", "--methods",
                  "zero-filled,tv-admm,unet,unrolled", "-o", tmp_path / "out")
    assert "lambda tuned per method on 1 slice(s) that are never scored" in result.output
    assert "Learned versus CS:" in result.output and "3 coils, maps by espirit" in result.output
    baselines = _run("compare", tmp_path / "full.h5", "--accel", "3", "--center-fraction", "0.2",
                     "--iters", "2", "--lam", "0.01", "--methods",
                     "zero-filled,sense-adjoint,grappa", "--format", "csv").stdout
    scores = {r["method"]: float(r["psnr"]) for r in csv.DictReader(io.StringIO(baselines))}
    assert set(scores) == {"zero-filled", "sense-adjoint", "grappa"}
    assert scores["grappa"] > scores["zero-filled"]  # the scanner's baseline beats zero-filling
    for name in ("reconstructions.png", "quality_vs_runtime.png", "convergence.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "results.csv").read_text())))
    assert {r["method"] for r in rows} == {"zero-filled", "tv-admm", "unet", "unrolled"}
    assert all(r["slice"] != "1" for r in rows)  # the tuning slice is never scored
