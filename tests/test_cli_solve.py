import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.acquisition import single_coil
from csmri.io import read_acquisition, write_acquisition
from csmri.io.cfl import read_cfl
from csmri.metrics import psnr


@pytest.fixture(scope="module")
def kspace_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("solve")
    path = folder / "k.h5"
    result = CliRunner().invoke(
        csmri, ["simulate", "-o", str(path), "--slices", "5:7", "--noise", "0.005", "--seed", "1"]
    )
    assert result.exit_code == 0, result.output
    return path


def _solve(*args):
    result = CliRunner().invoke(csmri, ["solve", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize(
    "reg,solver",
    [("tv", "admm"), ("wavelet", "fista"), ("tv-aniso", "ista"), ("wavelet", "admm"),
     ("tv+wavelet", "admm"), ("tgv", "admm"), ("tv-reweighted", "admm"),
     ("tgv-reweighted", "admm")],
)
def test_solve_improves_on_zero_filled_and_reports_metrics(tmp_path, kspace_file, reg, solver):
    zf = tmp_path / "zf.h5"
    _solve(kspace_file, "-o", zf, "--method", "zero-filled")
    out = tmp_path / "cs.h5"
    # lambda given: the automatic one is calibrated for 100 iterations, not 15
    result = _solve(
        kspace_file, "-o", out, "--reg", reg, "--solver", solver, "--iters", "15", "--lam", "0.003"
    )
    assert "PSNR" in result.stdout and "SSIM" in result.stdout and "2 slices" in result.stdout
    assert "15 iterations per slice" in result.stdout and "final objective" in result.stdout
    target = read_acquisition(kspace_file).reference
    with h5py.File(out, "r") as f, h5py.File(zf, "r") as g:
        recon = f["reconstruction"][()]
        assert recon.shape == (2, 217, 181) and recon.dtype == np.float32
        assert f.attrs["method"] == f"{reg}-{solver}"
        assert psnr(target, recon) > psnr(target, g["reconstruction"][()]) + 0.1


def test_solve_writes_npy_cfl_and_png_with_the_same_images(tmp_path, kspace_file):
    common = ["--reg", "tv", "--solver", "admm", "--iters", "5", "--slices", "1:2"]
    _solve(kspace_file, "-o", tmp_path / "a.npy", *common, "--png")
    _solve(kspace_file, "-o", tmp_path / "a.cfl", *common)
    from_npy = np.load(tmp_path / "a.npy")
    from_cfl = read_cfl(tmp_path / "a.cfl")
    assert from_npy.shape == (1, 217, 181)
    np.testing.assert_array_equal(from_cfl.real.reshape(217, 181), from_npy[0])
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_solve_reads_bart_cfl_kspace_with_inferred_mask(tmp_path, kspace_file):
    data = read_acquisition(kspace_file)
    write_acquisition(tmp_path / "k.cfl", single_coil(data.kspace[:, 0], data.columns))
    _solve(tmp_path / "k.cfl", "-o", tmp_path / "from_cfl.npy", "--iters", "5", "--solver", "admm")
    _solve(kspace_file, "-o", tmp_path / "from_h5.npy", "--iters", "5", "--solver", "admm")
    np.testing.assert_allclose(
        np.load(tmp_path / "from_cfl.npy"), np.load(tmp_path / "from_h5.npy"), rtol=1e-5, atol=1e-6
    )


def test_solve_is_deterministic(tmp_path, kspace_file):
    for name in ("a.npy", "b.npy"):
        _solve(kspace_file, "-o", tmp_path / name, "--reg", "wavelet", "--iters", "5")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_solve_with_the_shipped_unet_beats_zero_filling(tmp_path, kspace_file):
    _solve(kspace_file, "-o", tmp_path / "zf.npy", "--method", "zero-filled")
    result = _solve(kspace_file, "-o", tmp_path / "unet.h5", "--method", "unet", "--device", "cpu")
    assert "unet: 2 slices, one pass per slice" in result.stdout
    target = read_acquisition(kspace_file).reference
    with h5py.File(tmp_path / "unet.h5", "r") as f:
        recon = f["reconstruction"][()]
        assert f.attrs["method"] == "unet"
    assert psnr(target, recon) > psnr(target, np.load(tmp_path / "zf.npy")) + 1.0


def test_train_command_writes_a_model_that_solve_can_use(tmp_path, kspace_file):
    from csmri.io.images import load_sample

    folder = tmp_path / "images"
    folder.mkdir()
    for i, image in enumerate(load_sample()[:6, 40:136, 40:136]):
        np.save(folder / f"s{i}.npy", image)
    model = tmp_path / "tiny.safetensors"
    args = [
        "train",
        "--data",
        folder,
        "-o",
        model,
        "--epochs",
        "1",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "2",
        "--patch",
        "64",
        "--chans",
        "4",
        "--depth",
        "2",
        "--val-fraction",
        "0.34",
        "--device",
        "cpu",
    ]
    result = CliRunner().invoke(csmri, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert model.exists() and model.with_suffix(".json").exists()
    _solve(
        kspace_file,
        "-o",
        tmp_path / "out.npy",
        "--method",
        "unet",
        "--model",
        model,
        "--slices",
        "0:1",
    )
    assert np.isfinite(np.load(tmp_path / "out.npy")).all()


def test_solve_device_cpu_is_the_numpy_backend_and_cuda_without_a_gpu_is_a_usage_error(
    tmp_path, kspace_file
):
    import torch

    common = ["--reg", "tv", "--iters", "5", "--slices", "0:1"]
    _solve(kspace_file, "-o", tmp_path / "auto.npy", *common)
    _solve(kspace_file, "-o", tmp_path / "cpu.npy", *common, "--device", "cpu")
    auto, cpu = np.load(tmp_path / "auto.npy"), np.load(tmp_path / "cpu.npy")
    if torch.cuda.is_available():  # auto ran on the GPU, as does cuda
        np.testing.assert_allclose(auto, cpu, rtol=1e-3, atol=1e-3)
        _solve(kspace_file, "-o", tmp_path / "gpu.npy", *common, "--device", "cuda")
        np.testing.assert_allclose(np.load(tmp_path / "gpu.npy"), cpu, rtol=1e-3, atol=1e-3)
    else:  # auto fell back to the NumPy backend
        np.testing.assert_array_equal(auto, cpu)
        args = ["solve", str(kspace_file), "-o", str(tmp_path / "gpu.npy"), *common]
        result = CliRunner().invoke(csmri, [*args, "--device", "cuda"])
        assert result.exit_code == 2 and "no CUDA GPU" in result.output
        assert not (tmp_path / "gpu.npy").exists()


def test_a_sum_of_terms_needs_admm(tmp_path, kspace_file):
    result = CliRunner().invoke(
        csmri, ["solve", str(kspace_file), "-o", str(tmp_path / "x.h5"), "--reg", "tv+wavelet",
                "--solver", "fista"],
    )
    assert result.exit_code != 0 and "admm" in result.output
    assert not (tmp_path / "x.h5").exists()
