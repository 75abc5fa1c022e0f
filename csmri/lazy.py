"""Packages whose public names are imported on first use, so that importing them is cheap.

``import csmri`` and ``import learned`` must not load Numba, torch or SciPy: a command
such as ``csmri --help`` should start in a fraction of a second.  A package calls
:func:`lazy_exports` with the module each public name lives in.  A name may equal its
module's (``csmri.reconstruct`` the function lives in ``csmri.reconstruct`` the module):
the package attribute then stays the function even after the module is imported.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class LazyPackage(types.ModuleType):
    """A package module that imports its exported names on first attribute access."""

    _lazy_exports: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        exports = self.__dict__.get("_lazy_exports", {})
        if name not in exports:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        types.ModuleType.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # Importing submodule ``pkg.name`` binds ``pkg.name`` to the module: keep the export.
        exports = self.__dict__.get("_lazy_exports", {})
        if isinstance(value, types.ModuleType) and exports.get(name) == value.__name__:
            value = getattr(value, name)
        types.ModuleType.__setattr__(self, name, value)

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self.__dict__.get("_lazy_exports", {})})


def lazy_exports(package: str, exports: dict[str, str]) -> None:
    """Turn the (already imported) module ``package`` into a :class:`LazyPackage`.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str to str
        Public name -> the module that defines it.
    """
    module = sys.modules[package]
    module.__class__ = LazyPackage
    types.ModuleType.__setattr__(module, "_lazy_exports", dict(exports))
