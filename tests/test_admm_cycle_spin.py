"""ADMM with a cycle-spun wavelet term: the image-domain split is exact, and spinning pays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from csmri.app.reconstruct import reconstruct
from csmri.linop import Cartesian
from csmri.metrics import psnr
from csmri.mri.fft import fft2c
from csmri.regularizers import WaveletL1
from csmri.solvers import admm, fista, least_squares
from csmri.solvers.splitting import SpunWaveletSplit


class UnshiftedSpin(WaveletL1):
    """A "cycle-spun" wavelet whose shifts are all zero: the split of ADMM changes, the
    problem does not, so ADMM must reach the plain problem's optimum."""

    def _shifts(self, count: int) -> list[tuple[int, int]]:
        return [(0, 0)] * count


def blocks(h: int = 24, w: int = 20, slices: int = 2) -> np.ndarray:
    rng = np.random.default_rng(3)
    img = np.zeros((slices, h, w))
    img[:, 5:17, 4:15] = 1.0
    img[:, 9:13, 7:11] = 0.4
    return img + 0.03 * rng.standard_normal(img.shape)


def problem(h: int = 24, w: int = 20):
    mask = np.zeros(w, bool)
    mask[::3] = True
    mask[w // 2 - 2 : w // 2 + 2] = True
    return Cartesian(mask), fft2c(blocks(h, w)) * mask


@pytest.mark.parametrize("like", ["numpy", "torch"])
def test_image_domain_split_reaches_the_plain_wavelet_optimum(like):
    op, y = problem()
    y = y.astype(np.complex128)
    data_y = torch.from_numpy(y) if like == "torch" else y
    shape = y.shape[-2:]
    spun = UnshiftedSpin(shape, "db2", 2, cycle_spin=True, slice_seeds=[0, 1])
    x_admm, h_admm = admm(least_squares(op, data_y), spun, 0.02, max_iter=400)
    plain = WaveletL1(shape, "db2", 2, cycle_spin=False)
    x_fista, h_fista = fista(least_squares(op, y), plain, 0.02, max_iter=400)
    assert h_admm[0].objective[-1] == pytest.approx(h_fista[0].objective[-1], rel=1e-5)
    # l1 problems need not have a unique minimiser: the images agree to the solvers' accuracy
    gap = np.linalg.norm(np.asarray(x_admm) - x_fista) / np.linalg.norm(x_fista)
    assert gap < 2e-2


def test_admm_builds_the_image_domain_split_only_for_spun_wavelets():
    from csmri.solvers.admm import make_splits

    shape = (16, 16)
    spun = WaveletL1(shape, "haar", 2, cycle_spin=True)
    plain = WaveletL1(shape, "haar", 2, cycle_spin=False)
    assert isinstance(make_splits([(spun, 0.1)])[0][0], SpunWaveletSplit)
    assert not isinstance(make_splits([(plain, 0.1)])[0][0], SpunWaveletSplit)


def test_cycle_spinning_lifts_admm_wavelets_to_the_fista_quality():
    rng = np.random.default_rng(0)
    truth = blocks(48, 40, 2)
    mask = rng.random(40) < 0.3
    mask[18:22] = True
    kspace = fft2c(truth) * mask + 0.01 * mask * (
        rng.standard_normal((2, 48, 40)) + 1j * rng.standard_normal((2, 48, 40))
    )
    common = {"reg": "wavelet", "lam": 0.01, "wavelet": "haar", "max_iter": 150, "seed": 0}
    scores = {}
    for name, options in {
        "admm": {"solver": "admm", "cycle_spin": False},
        "admm-spin": {"solver": "admm", "cycle_spin": True},
        "fista-spin": {"solver": "fista", "cycle_spin": True},
    }.items():
        out = reconstruct(kspace, mask, **common, **options).images
        scores[name] = np.mean([psnr(np.abs(t), np.abs(o)) for t, o in zip(truth, out)])
    assert scores["admm-spin"] > scores["admm"] + 0.5
    assert scores["admm-spin"] > scores["fista-spin"] - 1.0
