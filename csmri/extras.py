"""Optional dependencies: import one or say, in one line, which extra installs it.

The core install (``pip install csmri``) reads fastMRI ``.h5``, BART ``.cfl`` and ``.npy``
and runs ``csmri solve``, ``compare`` and ``train``.  Other formats and the Dask cluster
come with extras (``pip install 'csmri[images]'``, ``[mrd]``, ``[dask]``, ``[all]``); a
feature whose extra is missing stops with a :class:`~csmri.errors.UsageError` before
anything is written.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from csmri.errors import UsageError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import an optional module, or raise a one-line error naming the extra to install.

    Parameters
    ----------
    module : str
        Dotted module name (``"nibabel"``, ``"PIL.Image"``, ``"distributed"``).
    extra : str
        The csmri extra that installs it (``"images"``, ``"mrd"``, ``"dask"``).
    feature : str
        What needs it, as the user knows it (``"reading NIfTI"``).

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    UsageError
        ``<feature> needs the <extra> extra: pip install 'csmri[<extra>]'`` when the module
        (or one of its own dependencies) cannot be imported.

    Examples
    --------
    >>> from csmri.extras import require
    >>> require("json", "none", "parsing JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"{feature} needs the {extra} extra: pip install 'csmri[{extra}]'"
        ) from None
