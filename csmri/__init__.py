"""csmri: compressed-sensing MRI reconstruction, side by side with learned one-shot reconstruction.

The library layers mirror the maths: ``fft`` and ``operators`` (forward model),
``masks``, ``regularizers`` (with their proximal operators), ``solvers``,
``reconstruct`` (the application that composes them), plus ``data``,
``simulate``, ``kspace_io`` and ``metrics``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("csmri")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__", "reconstruct"]


def __getattr__(name: str) -> object:
    # Imported lazily so that `import csmri` stays cheap for the CLI's fast paths.
    if name == "reconstruct":
        from csmri.reconstruct import reconstruct

        return reconstruct
    raise AttributeError(f"module 'csmri' has no attribute {name!r}")
