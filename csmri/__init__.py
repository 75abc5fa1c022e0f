"""csmri: compressed-sensing MRI reconstruction, side by side with learned one-shot reconstruction.

The library layers mirror the maths: ``fft`` and ``linop`` (the forward model's
operators, on NumPy or torch), ``masks``, ``regularizers`` (with their proximal
operators), ``solvers``,
``reconstruct`` (the application that composes them), plus ``data``,
``simulate``, ``kspace_io`` and ``metrics``.

``import csmri`` is light (no SciPy, Numba or torch): :func:`reconstruct`, and with it
the Numba kernels from their on-disk cache, is imported on first use
(:mod:`csmri.lazy`); ``csmri.reconstruct`` is always the function, even after
``from csmri.app.reconstruct import ...`` has imported the module of the same name.
"""

from __future__ import annotations

from csmri._version import __version__
from csmri.lazy import lazy_exports

__all__ = ["__version__", "reconstruct"]

lazy_exports(__name__, {"reconstruct": "csmri.app.reconstruct"})
