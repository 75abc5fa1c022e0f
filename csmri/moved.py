"""Old module paths that still import, with a warning, for one release.

csmri 0.2 moved its modules into subpackages (``csmri.fft`` is now ``csmri.linop.fft``,
``learned.train`` is ``learned.training.train``; the table is in ``CHANGELOG.md``).
:func:`keep_old_paths` installs an import hook for a table of old -> new names: importing an
old name issues a :class:`DeprecationWarning` naming the new one and gives a module whose
attributes are the new module's, so ``from csmri.data import load_sample`` keeps working
until 0.3.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

REMOVED_IN = "0.3"

CSMRI_MOVES = {
    "csmri.fft": "csmri.linop.fft",
    "csmri.masks": "csmri.mri.masks",
    "csmri.coil_sim": "csmri.mri.coil_sim",
    "csmri.espirit": "csmri.mri.espirit",
    "csmri.baseline": "csmri.mri.baseline",
    "csmri.simulate": "csmri.mri.simulate",
    "csmri.multicoil": "csmri.mri.coils",
    "csmri.sense": "csmri.app.sense",
    "csmri.data": "csmri.io.images",
    "csmri.kspace_io": "csmri.io",
    "csmri.multicoil_io": "csmri.io",
    "csmri.ismrmrd_io": "csmri.io.ismrmrd",
    "csmri.cfl": "csmri.io.cfl",
    "csmri.atomic": "csmri.io.atomic",
    "csmri.bart": "csmri.app.bart",
    "csmri.scaling": "csmri.app.scaling",
    "csmri.methods": "csmri.app.methods",
    "csmri.autolambda": "csmri.app.autolambda",
    "csmri.batch": "csmri.app.batch",
    "csmri.cluster": "csmri.app.cluster",
    "csmri.verdict": "csmri.app.verdict",
    "csmri.figures": "csmri.app.figures",
}
"""csmri's modules moved in 0.2 (``csmri.reconstruct`` stays the function)."""


class _Forward(types.ModuleType):
    """A module that reads every attribute from the module it moved to."""

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name)
        self._target = target

    def __getattr__(self, attribute: str) -> object:
        return getattr(importlib.import_module(self._target), attribute)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self._target))


class _MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old names of a table and loads them as :class:`_Forward` modules."""

    def __init__(self, moves: dict[str, str]) -> None:
        self.moves = moves

    def find_spec(self, fullname: str, path: object = None, target: object = None):
        """A spec for an old name, None for every other module."""
        if fullname not in self.moves:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """The forwarding module; warns once per import of the old name."""
        new = self.moves[spec.name]
        warnings.warn(
            f"{spec.name} moved to {new}; the old name goes in csmri {REMOVED_IN}",
            DeprecationWarning,
            stacklevel=4,
        )
        return _Forward(spec.name, new)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: attributes come from the new module."""


def keep_old_paths(moves: dict[str, str]) -> None:
    """Install the import hook for ``moves`` (old -> new module names), once per table.

    Parameters
    ----------
    moves : dict
        Old dotted module names and their new ones.
    """
    if not any(isinstance(f, _MovedFinder) and f.moves is moves for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder(moves))
