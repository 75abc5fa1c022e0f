import tracemalloc

import numpy as np
import pytest

from csmri.app.reconstruct import reconstruct, reconstruct_iter
from csmri.io.images import shepp_logan
from csmri.mri.simulate import simulate


def _stack(slices: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    images = np.repeat(shepp_logan(size)[None], slices, axis=0)
    sim = simulate(images, 4, 0.08, seed=0, noise=0.01, phase=True)
    return sim.kspace, sim.mask


def _peak_bytes(kspace: np.ndarray, mask: np.ndarray) -> int:
    tracemalloc.start()
    for result in reconstruct_iter(kspace, mask, reg="tv", solver="admm", max_iter=3, chunk=8):
        assert np.isfinite(result.image).all()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_a_stack_of_200_slices_streams_with_memory_independent_of_its_length():
    small = _peak_bytes(*_stack(16))
    large = _peak_bytes(*_stack(200))
    # working memory is bounded by the chunk, not by the number of slices
    assert large < 1.5 * small, (small, large)


@pytest.mark.parametrize("solver", ["fista", "admm"])
def test_tiny_and_huge_data_scales_give_the_same_reconstruction_up_to_scale(solver):
    kspace, mask = _stack(1)
    reference = reconstruct(kspace, mask, reg="tv", solver=solver, max_iter=10).images
    for factor in (1e-12, 1e12):
        scaled = reconstruct(kspace * factor, mask, reg="tv", solver=solver, max_iter=10).images
        np.testing.assert_allclose(scaled / factor, reference, rtol=1e-4, atol=1e-5)
