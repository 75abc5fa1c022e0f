"""Compile csmri's Numba kernels once, into their on-disk cache (run by ``make setup``).

Numba compiles each kernel the first time it is called and caches the machine
code next to the source (``__pycache__``), so a fresh checkout pays about 40 s of
compilation once, here, instead of inside the first ``csmri solve`` or
``make demo``.  Every regulariser and solver is run for 3 iterations on a
32 x 32 phantom, which compiles the ``complex64`` kernels the solvers use, and the
wavelet once more on 30 x 30 (a padded wavelet domain takes the generic gradient).
"""

from __future__ import annotations

import time

from csmri.app.reconstruct import reconstruct
from csmri.io.images import shepp_logan
from csmri.mri.simulate import simulate


def main() -> None:
    """Run every regulariser and solver once on a tiny problem."""
    start = time.perf_counter()
    sim = simulate(shepp_logan(32)[None], 4, 0.08, seed=0)
    for reg in ("tv", "tv-aniso", "wavelet"):
        for solver in ("fista", "ista", "admm"):
            reconstruct(sim.kspace, sim.mask, reg=reg, solver=solver, max_iter=3)
    for reg in ("tv+wavelet", "tgv"):
        reconstruct(sim.kspace, sim.mask, reg=reg, solver="admm", max_iter=3)
    padded = simulate(shepp_logan(30)[None], 4, 0.08, seed=0)
    reconstruct(padded.kspace, padded.mask, reg="wavelet", solver="fista", max_iter=3)
    print(f"csmri kernels compiled and cached in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
