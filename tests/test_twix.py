"""Siemens twix reader on real files (a Pulseq brain scan, twixtools' GRE) and edited copies."""

import contextlib
import copy
import io
import sys
from pathlib import Path

import numpy as np
import pytest

from csmri.errors import InputError, UsageError
from csmri.io.twix import read_twix

twixtools = pytest.importorskip("twixtools")

DATA = Path(__file__).parent / "data"
PULSEQ = DATA / "pulseq_brain16ch.dat"  # 16 coils, 128 x 128, placeholder protocol (64 x 64)
GRE = DATA / "twixtools_gre.dat"  # 2 coils, 320 x 160 with readout oversampling 2


def _quiet(function, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return function(*args, **kwargs)


def _mapped(path, remove_os=False):
    """twixtools' own k-space of the image scan, ``(C, Col, Lin)``: an independent reference."""
    scans = _quiet(twixtools.read_twix, str(path), verbose=False)
    image = _quiet(twixtools.map_twix, scans[-1], verbose=False)["image"]
    image.flags["remove_os"] = remove_os
    assert image.non_singleton_dims == ["Lin", "Cha", "Col"]
    return np.transpose(image[:].squeeze(), (1, 2, 0))


def _read_pulseq():
    with pytest.warns(UserWarning, match=r"header encoded matrix 64x64x1 does not hold the data "
                      r"\(128x128x1\); the data decide"):
        return read_twix(PULSEQ)


def _blocks(path):
    """A measurement's blocks as local (editable) copies, and its scan dict."""
    scans = _quiet(twixtools.read_twix, str(path), verbose=False, keep_acqend=True)
    return scans[-1], [mdb.convert_to_local() for mdb in scans[-1]["mdb"]]


@pytest.fixture(scope="module")
def pulseq_mdbs():
    return _blocks(PULSEQ)


def _write_variant(path, blocks, edit):
    """Write a copy of a measurement (:func:`_blocks`) whose block list ``edit`` rewrote."""
    scan, mdbs = blocks
    blocks = edit([copy.deepcopy(mdb) for mdb in mdbs])
    variant = {"hdr_str": scan["hdr_str"], "mdb": blocks, "raidfile_hdr": scan["raidfile_hdr"]}
    _quiet(twixtools.write_twix, [variant], str(path), version_is_ve=True)
    return path


def test_pulseq_scan_reads_as_twixtools_maps_it_and_the_data_override_the_protocol():
    scan = _read_pulseq()
    assert scan.kspace.shape == (1, 16, 128, 128) and scan.kspace.dtype == np.complex64
    np.testing.assert_array_equal(scan.kspace[0], _mapped(PULSEQ))
    assert scan.mask.all() and scan.acceleration == 1.0 and scan.partial_fourier == (1, 1, 1)
    assert scan.encoded_matrix == (128, 128, 1) and scan.recon_matrix is None
    assert scan.header["header_encoded_matrix"] == (64, 64, 1) and not scan.is_3d
    assert scan.calibration is None and scan.noise is None
    assert scan.fov_mm == (256.0, 256.0, 3.0) and scan.header["dwell_us"] == 20.0


def test_readout_oversampling_is_reported_or_removed_as_twixtools_removes_it():
    scan = read_twix(GRE)
    assert scan.encoded_matrix == (320, 160, 1) and scan.recon_matrix == (160, 160, 1)
    assert scan.header["readout_oversampling"] == 2.0
    np.testing.assert_array_equal(scan.kspace[0], _mapped(GRE))
    cropped = read_twix(GRE, remove_oversampling=True)
    assert cropped.encoded_matrix == (160, 160, 1) and cropped.kspace.shape == (1, 2, 160, 160)
    np.testing.assert_allclose(cropped.kspace[0], _mapped(GRE, remove_os=True),
                               atol=1e-6 * np.abs(scan.kspace).max())
    assert cropped.header["dwell_us"] == pytest.approx(2 * scan.header["dwell_us"])
    assert cropped.fov_mm[0] == pytest.approx(scan.fov_mm[0] / 2)


def test_refscan_and_noise_blocks_are_returned_and_the_image_undersampled(tmp_path, pulseq_mdbs):
    rng = np.random.default_rng(0)
    noise = (rng.standard_normal((16, 128)) + 1j * rng.standard_normal((16, 128))) * 1e-6

    def edit(blocks):
        image, acqend = blocks[:-1], blocks[-1]
        refs = [copy.deepcopy(b) for b in image[60:68]]
        for ref in refs:
            ref.add_flag("PATREFSCAN")
        adjust = copy.deepcopy(image[0])
        adjust.clear_all_flags()
        adjust.add_flag("NOISEADJSCAN")
        adjust.data = noise.astype(np.complex64)
        return [adjust, *image[::2], *refs, acqend]  # every other line, then the refscan

    path = _write_variant(tmp_path / "pat.dat", pulseq_mdbs, edit)
    with pytest.warns(UserWarning, match="the data decide"):
        scan = read_twix(path)
    full = _read_pulseq().kspace
    np.testing.assert_array_equal(scan.kspace[..., ::2], full[..., ::2])
    assert not scan.kspace[..., 1::2].any()
    assert scan.acceleration == 2.0 and scan.calibration_region == ((60, 68),)
    np.testing.assert_array_equal(scan.calibration, full[..., 60:68])
    np.testing.assert_array_equal(scan.noise, noise.astype(np.complex64))
    assert scan.header["noise_dwell_us"] == 20.0


def test_slices_partitions_and_partial_fourier_follow_the_counters(tmp_path, pulseq_mdbs):
    def two_slices(blocks):
        for block in blocks[:-1]:
            if block.mdh.Counter.Lin >= 48:  # 5/8 partial Fourier, two slices of it
                block.mdh.Counter.Sli = block.mdh.Counter.Lin % 2
        return [b for b in blocks[:-1] if b.mdh.Counter.Lin >= 48] + blocks[-1:]

    with pytest.warns(UserWarning, match="the data decide"):
        scan = read_twix(_write_variant(tmp_path / "slices.dat", pulseq_mdbs, two_slices))
    full = _read_pulseq().kspace[0]
    assert scan.kspace.shape == (2, 16, 128, 128)
    np.testing.assert_array_equal(scan.kspace[1][..., 49::2], full[..., 49::2])
    assert scan.partial_fourier[1] == pytest.approx(80 / 128)

    def partitions(blocks):
        for block in blocks[:-1]:
            line = block.mdh.Counter.Lin
            block.mdh.Counter.Lin, block.mdh.Counter.Par = line // 4, line % 4
        return blocks

    with pytest.warns(UserWarning, match="the data decide"):
        volume = read_twix(_write_variant(tmp_path / "3d.dat", pulseq_mdbs, partitions))
    # the protocol's 64 lines hold the 32 lines (so W stays 64); its single partition does not
    assert volume.is_3d and volume.kspace.shape == (16, 128, 64, 4)
    assert volume.mask[:, :32].all() and not volume.mask[:, 32:].any()
    np.testing.assert_array_equal(volume.kspace[:, :, 5, 3], full[..., 23])


def test_partial_fourier_lines_numbered_from_zero_go_by_the_centre_line(tmp_path):
    def late_lines(blocks):
        kept = [b for b in blocks[:-1] if b.mdh.Counter.Lin >= 60]  # 100 of 160 lines
        for block in kept:
            block.mdh.Counter.Lin -= 60  # numbered from 0, the centre line 80 now 20
            block.mdh.CenterLin = 20
        return kept + blocks[-1:]

    scan = read_twix(_write_variant(tmp_path / "pf.dat", _blocks(GRE), late_lines))
    full = read_twix(GRE).kspace
    assert scan.kspace.shape == full.shape
    np.testing.assert_array_equal(scan.kspace[..., 60:], full[..., 60:])
    assert not scan.kspace[..., :60].any()
    assert scan.partial_fourier == (1.0, 0.625, 1.0)


def test_truncated_file_no_image_and_garbage_are_refused(tmp_path, pulseq_mdbs):
    data = PULSEQ.read_bytes()
    for fraction in (0.5, 0.999):
        (tmp_path / "cut.dat").write_bytes(data[: int(len(data) * fraction)])
        with pytest.raises(InputError, match=r"cut.dat: truncated twix file"):
            read_twix(tmp_path / "cut.dat")
    (tmp_path / "junk.dat").write_bytes(data[:2000])
    with pytest.raises(InputError, match=r"junk.dat: not a readable Siemens twix file"):
        read_twix(tmp_path / "junk.dat")

    def noise_only(blocks):
        for block in blocks[:-1]:
            block.clear_all_flags()
            block.add_flag("NOISEADJSCAN")
        return blocks

    path = _write_variant(tmp_path / "noise.dat", pulseq_mdbs, noise_only)
    with pytest.raises(InputError, match=r"noise.dat: the last measurement has no imaging scan"):
        read_twix(path)
    with pytest.raises(InputError, match="no such file"):
        read_twix(tmp_path / "missing.dat")


def test_missing_twixtools_asks_for_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "twixtools", None)
    with pytest.raises(UsageError, match=r"needs the twix extra: pip install 'csmri\[twix\]'"):
        read_twix(GRE)
