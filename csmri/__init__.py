"""csmri: compressed-sensing MRI reconstruction, side by side with learned one-shot reconstruction.

The library layers mirror the maths: ``fft`` and ``linop`` (the forward model's
operators, on NumPy or torch), ``masks``, ``regularizers`` (with their proximal
operators), ``solvers``,
``reconstruct`` (the application that composes them), plus ``data``,
``simulate``, ``kspace_io`` and ``metrics``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("csmri")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

# Bound eagerly: the function shadows its own module name, so ``csmri.reconstruct`` is
# always the function; the module stays importable as ``from csmri.reconstruct import ...``.
from csmri.reconstruct import reconstruct

__all__ = ["__version__", "reconstruct"]
