"""csmri: compressed-sensing MRI reconstruction, side by side with learned one-shot reconstruction.

The library layers mirror the maths: :mod:`csmri.mri` (FFT, masks, coils, simulation) and
:mod:`csmri.linop` (the forward model's operators, on NumPy or torch),
:mod:`csmri.regularizers` (with their proximal operators), :mod:`csmri.solvers`, and
:mod:`csmri.app` (``reconstruct``, the application that composes them), plus
:mod:`csmri.io` (readers and writers) and :mod:`csmri.metrics`.

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
