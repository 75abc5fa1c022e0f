"""GRAPPA: the kernel is the Tikhonov least-squares solution, exact where its model is, and
better than zero-filled on a real 8-coil brain."""

from pathlib import Path

import numpy as np
import pytest

from csmri.app.grappa import Grappa
from csmri.errors import InputError
from csmri.metrics import psnr
from csmri.mri.baseline import rss_zero_filled
from csmri.mri.fft import fft2c, ifft2c
from csmri.mri.grappa import acs_region, calibration_system, geometries, grappa, solve_kernel
from csmri.mri.masks import equispaced_mask
from tests.conftest import random_complex

DATA = Path(__file__).parent / "data" / "pulseq_brain8ch_kspace.npy"


def _column_mask(w: int, spacing: int, acs: int) -> np.ndarray:
    mask = np.zeros(w, bool)
    mask[::spacing] = True
    mask[w // 2 - acs // 2 : w // 2 - acs // 2 + acs] = True
    return mask


def test_kernel_is_the_tikhonov_least_squares_solution_of_the_calibration_matrix(rng):
    k = random_complex(rng, (3, 10, 16))
    mask = np.broadcast_to(_column_mask(16, 2, 8), (10, 16))
    _, groups = geometries(mask, (1, 3), 4)
    _, offsets = max(groups, key=lambda g: len(g[1]))
    acs = acs_region(mask)
    # The calibration matrix written out position by position.
    rows, targets = [], []
    for y in range(acs[0].start, acs[0].stop):
        for x in range(acs[1].start, acs[1].stop):
            shifted = [(y + dy, x + dx) for dy, dx in offsets]
            inside = all(acs[0].start <= a < acs[0].stop and acs[1].start <= b < acs[1].stop
                         for a, b in shifted)
            if inside:
                rows.append([k[c, a, b] for a, b in shifted for c in range(3)])
                targets.append(k[:, y, x])
    a, b = np.array(rows), np.array(targets)
    a_built, b_built = calibration_system(k, acs, offsets)
    np.testing.assert_allclose(a_built, a)
    np.testing.assert_allclose(b_built, b)
    lam = 0.05
    s_max = np.linalg.svd(a, compute_uv=False)[0]
    augmented = np.vstack([a, lam * s_max * np.eye(a.shape[1])])
    direct = np.linalg.lstsq(augmented, np.vstack([b, np.zeros((a.shape[1], 3))]), rcond=None)[0]
    np.testing.assert_allclose(solve_kernel(a, b, lam), direct, atol=1e-5)


def _shifted_coils(rng, shape, shifts) -> np.ndarray:
    """Coils whose k-spaces are shifted copies of one compactly supported k-space: the
    GRAPPA model (each coil a linear combination of neighbours of the others) is exact."""
    h, w = shape  # zero within 2 samples of the edges: no shifted sample leaves the grid
    base = np.zeros((h + 8, w + 8), np.complex64)
    base[6:-6, 6:-6] = random_complex(rng, (h - 4, w - 4))
    padded = np.stack([np.roll(base, s, axis=(0, 1)) for s in shifts])
    return padded[:, 4:-4, 4:-4]


def test_exact_recovery_with_a_column_mask(rng):
    k = _shifted_coils(rng, (24, 33), [(0, 0), (0, 1), (1, 0)])
    mask = _column_mask(33, 2, 12)
    filled, rss = grappa(k * mask, mask, lam=1e-7)
    assert np.linalg.norm(filled - k) < 1e-4 * np.linalg.norm(k)
    np.testing.assert_allclose(rss, np.sqrt((np.abs(ifft2c(k)) ** 2).sum(0)), atol=1e-3)


def test_exact_recovery_with_a_2d_mask(rng):
    """A CAIPIRINHA-like (ky, kz) checkerboard: sources in the target's own column too."""
    k = _shifted_coils(rng, (24, 24), [(0, 0), (0, 1)])
    yy, xx = np.mgrid[:24, :24]
    mask = (yy + xx) % 2 == 0
    mask[8:16, 8:16] = True
    mask[:, [0, -1]] = True  # every missing point has a source column on both sides
    filled, _ = grappa(k * mask, mask, kernel=(3, 2), lam=1e-7)
    assert np.linalg.norm(filled - k) < 1e-4 * np.linalg.norm(k)


def test_sampled_points_are_kept_and_batches_equal_single_slices(rng):
    k = random_complex(rng, (2, 3, 16, 20))
    mask = _column_mask(20, 3, 8)
    filled, _ = grappa(k, mask)
    np.testing.assert_array_equal(filled[..., mask], k[..., mask])
    np.testing.assert_allclose(grappa(k[1], mask)[0], filled[1], atol=1e-6)


def test_grappa_beats_zero_filled_on_the_real_brain_at_4x():
    kspace = np.load(DATA)
    reference = np.sqrt(np.sum(np.abs(ifft2c(kspace)) ** 2, axis=1))
    mask = equispaced_mask(kspace.shape[-1], 0.19, 4, seed=0).mask
    result = Grappa().run(kspace * mask, mask)
    zero_filled = psnr(reference, rss_zero_filled(kspace * mask))
    assert psnr(reference, result.images) > zero_filled + 3, (psnr(reference, result.images),
                                                               zero_filled)


def test_no_calibration_region_is_refused(rng):
    k = random_complex(rng, (2, 8, 8))
    mask = np.zeros(8, bool)
    mask[::2] = True
    with pytest.raises(InputError, match="ACS"):
        grappa(fft2c(k) * mask, mask)


def test_cli_solve_method_grappa_writes_the_method_s_images(tmp_path):
    from click.testing import CliRunner

    from cli.main import csmri

    kspace = np.load(DATA)
    mask = equispaced_mask(kspace.shape[-1], 0.19, 4, seed=0).mask
    np.save(tmp_path / "k.npy", kspace * mask)
    result = CliRunner().invoke(csmri, ["solve", str(tmp_path / "k.npy"), "-o",
                                        str(tmp_path / "g.npy"), "--method", "grappa",
                                        "--coil-axis", "1"])
    assert result.exit_code == 0, result.output
    expected = Grappa().run(kspace * mask, mask).images
    np.testing.assert_allclose(np.load(tmp_path / "g.npy"), expected, rtol=1e-4,
                               atol=1e-4 * expected.max())
