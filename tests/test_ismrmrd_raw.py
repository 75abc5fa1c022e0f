"""ISMRMRD raw reader: calibration and noise lines, partial Fourier, 3-D, header vs data."""

import ismrmrd
import numpy as np
import pytest

from csmri.errors import InputError
from csmri.io.ismrmrd import read_ismrmrd_raw
from csmri.io.raw import sampled_fraction

CALIB = ismrmrd.ACQ_IS_PARALLEL_CALIBRATION
BOTH = ismrmrd.ACQ_IS_PARALLEL_CALIBRATION_AND_IMAGING
NOISE = ismrmrd.ACQ_IS_NOISE_MEASUREMENT


def _write(path, lines, matrix=(16, 16, 1), centre=None, noise=(), recon=None):
    """Write acquisitions ``(data, center_sample, step1, step2, flag)``; noise ``(C, n)`` blocks."""
    xsd = ismrmrd.xsd
    x, y, z = matrix
    space = xsd.encodingSpaceType(
        matrixSize=xsd.matrixSizeType(x=x, y=y, z=z),
        fieldOfView_mm=xsd.fieldOfViewMm(x=200.0, y=180.0, z=5.0),
    )
    rx, ry, rz = recon or matrix
    recon_space = xsd.encodingSpaceType(
        matrixSize=xsd.matrixSizeType(x=rx, y=ry, z=rz),
        fieldOfView_mm=xsd.fieldOfViewMm(x=100.0, y=180.0, z=5.0),
    )
    step1 = xsd.limitType(minimum=0, maximum=y - 1, center=y // 2 if centre is None else centre)
    step2 = xsd.limitType(minimum=0, maximum=z - 1, center=z // 2)
    encoding = xsd.encodingType(
        encodedSpace=space,
        reconSpace=recon_space,
        encodingLimits=xsd.encodingLimitsType(kspace_encoding_step_1=step1,
                                              kspace_encoding_step_2=step2),
        trajectory=xsd.trajectoryType("cartesian"),
        parallelImaging=xsd.parallelImagingType(
            accelerationFactor=xsd.accelerationFactorType(kspace_encoding_step_1=2,
                                                          kspace_encoding_step_2=1)
        ),
    )
    header = xsd.ismrmrdHeader(
        experimentalConditions=xsd.experimentalConditionsType(H1resonanceFrequency_Hz=63500000),
        encoding=[encoding],
        acquisitionSystemInformation=xsd.acquisitionSystemInformationType(
            receiverChannels=4, relativeReceiverNoiseBandwidth=0.79
        ),
    )
    with ismrmrd.Dataset(str(path), "dataset", mode="w") as dataset:
        dataset.write_xml_header(ismrmrd.xsd.ToXML(header))
        for block in noise:
            acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(block))
            acq.set_flag(NOISE)
            acq.sample_time_us = 5.0
            dataset.append_acquisition(acq)
        for data, center, line, part, flag in lines:
            acq = ismrmrd.Acquisition.from_array(np.ascontiguousarray(data))
            acq.center_sample = center
            acq.idx.kspace_encode_step_1 = line
            acq.idx.kspace_encode_step_2 = part
            acq.sample_time_us = 10.0
            if flag:
                acq.set_flag(flag)
            dataset.append_acquisition(acq)


@pytest.fixture()
def full(rng):
    return (rng.standard_normal((4, 16, 16)) + 1j * rng.standard_normal((4, 16, 16))).astype(
        np.complex64
    )


def test_calibration_only_lines_form_their_own_block_and_not_the_image(tmp_path, full, rng):
    imaging = [(full[:, :, r], 8, r, 0, 0) for r in range(0, 16, 2)]
    calib = [(full[:, :, r], 8, r, 0, CALIB) for r in range(6, 10)]
    noise = [rng.standard_normal((4, 32)).astype(np.complex64) for _ in range(2)]
    _write(tmp_path / "raw.h5", imaging + calib, noise=noise)
    scan = read_ismrmrd_raw(tmp_path / "raw.h5")
    assert scan.kspace.shape == (1, 4, 16, 16) and not scan.is_3d
    rows = np.zeros(16, dtype=bool)
    rows[::2] = True
    np.testing.assert_array_equal(scan.kspace[0][..., rows], full[..., rows])
    assert not scan.kspace[0][..., ~rows].any()
    np.testing.assert_array_equal(scan.mask[0], np.broadcast_to(rows, (16, 16)))
    np.testing.assert_array_equal(scan.calibration[0], full[:, :, 6:10])
    assert scan.calibration_region == ((6, 10),)
    assert scan.acceleration == 2.0  # imaging lines only; the calibration block is extra
    np.testing.assert_array_equal(scan.noise, np.concatenate(noise, axis=1))
    assert scan.header["noise_dwell_us"] == 5.0 and scan.header["dwell_us"] == 10.0
    assert scan.header["relative_receiver_noise_bandwidth"] == pytest.approx(0.79)
    assert scan.header["header_acceleration"] == (2, 1)
    assert scan.fov_mm == (200.0, 180.0, 5.0) and scan.recon_matrix == (16, 16, 1)
    assert scan.partial_fourier == (1.0, 1.0, 1.0)


def test_calibration_and_imaging_lines_fill_both(tmp_path, full):
    lines = [(full[:, :, r], 8, r, 0, 0) for r in (0, 2, 4, 10, 12, 14)]
    lines += [(full[:, :, r], 8, r, 0, BOTH) for r in range(6, 10)]
    _write(tmp_path / "raw.h5", lines)
    scan = read_ismrmrd_raw(tmp_path / "raw.h5")
    sampled = [0, 2, 4, 6, 7, 8, 9, 10, 12, 14]
    np.testing.assert_array_equal(scan.kspace[0][..., sampled], full[..., sampled])
    np.testing.assert_array_equal(scan.calibration[0], full[:, :, 6:10])


def test_coil_counts_must_agree_between_imaging_calibration_and_noise(tmp_path, full):
    lines = [(full[:, :, r], 8, r, 0, 0) for r in range(16)]
    _write(tmp_path / "a.h5", [*lines, (full[:3, :, 8], 8, 8, 0, CALIB)])
    with pytest.raises(InputError, match=r"a.h5: calibration lines have \[3\] coils but imaging"):
        read_ismrmrd_raw(tmp_path / "a.h5")
    _write(tmp_path / "b.h5", lines, noise=[np.ones((2, 8), np.complex64)])
    with pytest.raises(InputError, match=r"b.h5: noise scan has \[2\] coils"):
        read_ismrmrd_raw(tmp_path / "b.h5")
    _write(tmp_path / "c.h5", [(full[:, :, 8], 8, 8, 0, CALIB)])
    with pytest.raises(InputError, match="no imaging lines"):
        read_ismrmrd_raw(tmp_path / "c.h5")


def test_partial_fourier_in_readout_and_phase_is_detected_and_placed(tmp_path, full):
    # 5/8 asymmetric echo: 10 of 16 samples, the centre at sample 2 (row 8 of the matrix)
    # 5/8 phase encoding: lines 6..15 of 16
    lines = [(full[:, 6:, r], 2, r, 0, 0) for r in range(6, 16)]
    _write(tmp_path / "pf.h5", lines)
    scan = read_ismrmrd_raw(tmp_path / "pf.h5")
    assert scan.partial_fourier == (0.625, 0.625, 1.0)
    assert scan.header["phase_limits"] == (0, 15, 8)
    np.testing.assert_array_equal(scan.kspace[0][:, 6:, 6:], full[:, 6:, 6:])
    assert not scan.kspace[0][:, :6].any() and not scan.kspace[0][..., :6].any()
    assert scan.mask[0].sum() == 100 and scan.acceleration == 1.0


def test_sampled_fraction_counts_undersampling_gaps_as_symmetric():
    assert sampled_fraction(np.arange(0, 128, 4), 64, tolerance=4) == 1.0
    assert sampled_fraction(np.arange(48, 128), 64) == 0.625
    assert sampled_fraction(np.arange(0, 80), 64) == 0.625


def test_three_d_encoding_reads_into_coils_readout_ky_kz(tmp_path, rng):
    full = (rng.standard_normal((4, 16, 8, 4)) + 1j).astype(np.complex64)
    lines = [(full[:, :, r, p], 8, r, p, 0) for r in range(8) for p in range(4)]
    _write(tmp_path / "3d.h5", lines, matrix=(16, 8, 4))
    scan = read_ismrmrd_raw(tmp_path / "3d.h5")
    assert scan.is_3d and scan.encoded_matrix == (16, 8, 4)
    np.testing.assert_array_equal(scan.kspace, full)
    assert scan.mask.shape == (16, 8, 4) and scan.mask.all()


def test_three_d_slab_too_large_is_refused_before_allocating(tmp_path, rng):
    line = (rng.standard_normal((4, 2048)) + 0j).astype(np.complex64)
    _write(tmp_path / "big.h5", [(line, 1024, 0, 0, 0)], matrix=(2048, 2048, 2048))
    with pytest.raises(InputError, match=r"big.h5: 3-D slab of shape .* exceeds the limit"):
        read_ismrmrd_raw(tmp_path / "big.h5")


def test_header_smaller_than_the_data_warns_and_the_data_decide(tmp_path, full):
    lines = [(full[:, :, r], 8, r, 0, 0) for r in range(16)]
    _write(tmp_path / "small.h5", lines, matrix=(8, 8, 1), centre=0)
    with pytest.warns(UserWarning, match=r"small.h5: header encoded matrix 8x8x1 does not hold "
                      r"the data \(16x16x1\); the data decide") as caught:
        scan = read_ismrmrd_raw(tmp_path / "small.h5")
    assert len(caught) == 1
    assert scan.encoded_matrix == (16, 16, 1) and scan.header["header_encoded_matrix"] == (8, 8, 1)
    assert scan.recon_matrix is None
    np.testing.assert_array_equal(scan.kspace[0], full)


def test_header_centre_that_does_not_fit_warns_and_lines_go_by_their_step(tmp_path, full):
    lines = [(full[:, :, r], 8, r, 0, 0) for r in range(16)]
    _write(tmp_path / "centre.h5", lines, centre=0)
    with pytest.warns(UserWarning, match=r"phase centre 0 does not fit the sampled lines 0\.\.15"):
        scan = read_ismrmrd_raw(tmp_path / "centre.h5")
    np.testing.assert_array_equal(scan.kspace[0], full)


def test_partition_indices_make_3d_data_and_reversed_readouts_are_refused(tmp_path, rng):
    full = (rng.standard_normal((4, 16, 8, 2)) + 1j).astype(np.complex64)
    lines = [(full[:, :, r, p], 8, r, p, 0) for r in range(8) for p in range(2)]
    _write(tmp_path / "flat.h5", lines, matrix=(16, 8, 1))
    with pytest.warns(UserWarning, match=r"encoded matrix 16x8x1 does not hold the data "
                      r"\(16x8x2\)"):
        scan = read_ismrmrd_raw(tmp_path / "flat.h5")
    assert scan.is_3d
    np.testing.assert_array_equal(scan.kspace, full)
    _write(tmp_path / "epi.h5", [(full[:, :, 0, 0], 8, 0, 0, ismrmrd.ACQ_IS_REVERSE)])
    with pytest.raises(InputError, match=r"epi.h5: reversed \(EPI\) readouts"):
        read_ismrmrd_raw(tmp_path / "epi.h5")


def test_a_2d_raw_scan_becomes_an_acquisition_with_its_header_and_noise(tmp_path, full, rng):
    from csmri.io.raw_convert import to_acquisition
    from csmri.mri.prewhiten import bandwidth_scale, noise_covariance

    imaging = [(full[:, 6:, r], 2, r, 0, 0) for r in range(6, 16)]  # 5/8 in both axes
    noise = [rng.standard_normal((4, 64)).astype(np.complex64)]
    _write(tmp_path / "raw.h5", imaging, noise=noise, recon=(8, 16, 1))
    scan = read_ismrmrd_raw(tmp_path / "raw.h5")
    acq = to_acquisition(scan)
    np.testing.assert_array_equal(acq.kspace, scan.kspace)
    np.testing.assert_array_equal(acq.mask, scan.mask[0])
    assert acq.header.encoded_matrix == (16, 16) and acq.header.recon_matrix == (8, 16)
    assert acq.header.partial_fourier == (0.625, 0.625) and acq.header.fov_mm == (200.0, 180.0)
    scale = bandwidth_scale(10.0, 5.0, 0.79)
    np.testing.assert_allclose(acq.noise_covariance * scale**2, noise_covariance(noise[0]))
    assert acq.attrs["format"] == "ismrmrd" and acq.source.name == "raw.h5"
    volume = [(full[:, :, r], 8, r, p, 0) for r in range(16) for p in range(2)]
    _write(tmp_path / "3d.h5", volume, matrix=(16, 16, 2))
    with pytest.raises(InputError, match=r"3d.h5: 3-D k-space: an Acquisition holds 2-D"):
        to_acquisition(read_ismrmrd_raw(tmp_path / "3d.h5"))


def test_a_grappa_scan_with_separate_calibration_lines_reconstructs_end_to_end(tmp_path, rng):
    """The commonest clinical raw data: R = 3 imaging lines, the centre as separate
    calibration-only lines, a noise scan.  ``csmri solve`` with default options reads it
    (prewhitened, calibration embedded for the maps), and CS and GRAPPA beat zero-filling."""
    from click.testing import CliRunner

    from cli.main import csmri
    from csmri.io import read_acquisition
    from csmri.io.images import shepp_logan
    from csmri.metrics import psnr
    from csmri.mri.coil_sim import simulate_multicoil

    sim = simulate_multicoil(shepp_logan(48), coils=4, acceleration=1, center_fraction=0.5,
                             seed=2, noise=0.002)
    full = sim.kspace[0]  # (C, 48 readout, 48 phase)
    imaging = [(full[:, :, r], 24, r, 0, 0) for r in range(0, 48, 3)]
    calib = [(full[:, :, r], 24, r, 0, CALIB) for r in range(18, 30)]
    noise = [(0.01 * (rng.standard_normal((4, 256)) + 1j * rng.standard_normal((4, 256))))
             .astype(np.complex64)]
    _write(tmp_path / "grappa.h5", imaging + calib, matrix=(48, 48, 1), noise=noise)
    acq = read_acquisition(tmp_path / "grappa.h5")
    assert acq.attrs["acceleration"] == 3.0 and "prewhitened" in acq.attrs["prewhitening"]
    assert acq.mask[:, 18:30].all()  # the calibration lines are in, for maps and GRAPPA
    scores = {}
    for method in ("zero-filled", "grappa", "cs"):
        out = tmp_path / f"{method}.npy"
        result = CliRunner().invoke(csmri, ["solve", str(tmp_path / "grappa.h5"), "-o", str(out),
                                            "--method", method, "--iters", "30"])
        assert result.exit_code == 0, result.output
        image = np.load(out)
        assert image.shape == (1, 48, 48)
        scores[method] = psnr(sim.reference, image / image.max() * sim.reference.max())
    assert scores["cs"] > scores["zero-filled"] + 2 and scores["grappa"] > scores["zero-filled"]


def test_a_header_whose_recon_matrix_exceeds_its_encoded_matrix_is_refused(tmp_path, full):
    from click.testing import CliRunner

    from cli.main import csmri

    lines = [(full[:, :, r], 8, r, 0, 0) for r in range(16)]
    _write(tmp_path / "bad.h5", lines, recon=(32, 16, 1))
    out = tmp_path / "out.h5"
    result = CliRunner().invoke(csmri, ["solve", str(tmp_path / "bad.h5"), "-o", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert "header recon matrix 32x16 is larger than its encoded matrix 16x16" in result.output
    assert len(result.output.strip().splitlines()) == 1
