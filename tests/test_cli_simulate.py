import h5py
import numpy as np
from click.testing import CliRunner

from cli.main import csmri
from csmri.io import read_acquisition
from csmri.io.images import load_sample
from csmri.mri.simulate import simulate


def test_simulate_writes_fastmri_single_coil_layout(tmp_path):
    out = tmp_path / "sample.h5"
    args = [
        "simulate",
        "-o",
        str(out),
        "--accel",
        "8",
        "--center-fraction",
        "0.04",
        "--seed",
        "3",
        "--noise",
        "0.01",
        "--slices",
        "2:5",
    ]
    result = CliRunner().invoke(csmri, args)
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        assert set(f) >= {"kspace", "mask", "reconstruction_esc"}
        assert f["kspace"].shape == (3, 217, 181) and f["kspace"].dtype == np.complex64
        assert f["mask"].shape == (181,)
        assert f["reconstruction_esc"].dtype == np.float32
        for key in ("acceleration", "center_fraction", "seed", "noise", "mask_type", "source"):
            assert key in f.attrs
        assert f.attrs["acceleration"] == 8.0 and f.attrs["mask_type"] == "random"


def test_simulate_then_read_gives_back_the_same_kspace_mask_and_target(tmp_path):
    out = tmp_path / "k.h5"
    result = CliRunner().invoke(
        csmri, ["simulate", "-o", str(out), "--seed", "7", "--noise", "0.005", "--slices", "0:2"]
    )
    assert result.exit_code == 0, result.output
    expected = simulate(load_sample()[0:2], 4, 0.08, "random", 7, 0.005, True)
    data = read_acquisition(out)
    np.testing.assert_array_equal(data.kspace[:, 0], expected.kspace)
    np.testing.assert_array_equal(data.columns, expected.mask)
    np.testing.assert_array_equal(data.reference, expected.target)


def test_simulate_from_user_npy_image_with_equispaced_mask(tmp_path):
    image = np.zeros((64, 48), dtype=np.float32)
    image[16:48, 12:36] = 1
    np.save(tmp_path / "img.npy", image)
    out = tmp_path / "k.h5"
    result = CliRunner().invoke(
        csmri,
        [
            "simulate",
            str(tmp_path / "img.npy"),
            "-o",
            str(out),
            "--mask",
            "equispaced",
            "--no-phase",
        ],
    )
    assert result.exit_code == 0, result.output
    data = read_acquisition(out)
    np.testing.assert_array_equal(data.reference[0], image)
    assert data.attrs["mask_type"] == "equispaced"
    assert data.attrs["phase"] == 0
