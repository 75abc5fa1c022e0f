"""A process forked after csmri ran its parallel kernels can still reconstruct (serial twins)."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from csmri.app.reconstruct import reconstruct
from csmri.io.images import shepp_logan
from csmri.mri.simulate import simulate

SIM = simulate(shepp_logan(32)[None], 4, 0.08, seed=0)


def solve(reg: str) -> np.ndarray:
    return reconstruct(SIM.kspace, SIM.mask, reg=reg, max_iter=5).images


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform"
)
def test_forked_children_reconstruct_after_the_parent_did() -> None:
    # GNU OpenMP is not fork-safe: without the serial twins Numba terminates the children.
    expected = [solve("tv"), solve("wavelet")]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(solve, ["tv", "wavelet"])
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)
