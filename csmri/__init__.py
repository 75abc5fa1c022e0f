"""csmri: compressed-sensing MRI reconstruction, side by side with learned one-shot reconstruction.

The folders tell the story: :mod:`csmri.acquisition` (one data type for an acquisition),
``io`` (file formats), ``mri`` (FFT, masks, coils, ESPIRiT, simulation), ``linop`` (the
forward model's operators, on NumPy or torch), ``regularizers`` (with their proximal
operators), ``solvers``, and ``app`` (the applications that compose them:
:func:`reconstruct`, methods, automatic lambda, batch, cluster, verdict), plus ``metrics``.

``import csmri`` is light (no SciPy, Numba or torch): :func:`reconstruct`, and with it
the Numba kernels from their on-disk cache, is imported on first use
(:mod:`csmri.lazy`); ``csmri.reconstruct`` is always the function, even after
``from csmri.app.reconstruct import ...`` has imported the module of the same name.
"""

from __future__ import annotations

from csmri._version import __version__
from csmri.lazy import lazy_exports
from csmri.moved import CSMRI_MOVES, keep_old_paths

__all__ = ["__version__", "reconstruct"]

lazy_exports(__name__, {"reconstruct": "csmri.app.reconstruct"})
keep_old_paths(CSMRI_MOVES)  # 0.1's module paths import for one more release, with a warning
