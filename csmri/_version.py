"""The csmri version: the one place it is written.

``pyproject.toml`` reads it for the package metadata (``[tool.setuptools.dynamic]``);
``csmri.__version__``, ``csmri --version`` and the training manifests read it from here, so
a source tree and its installation can never disagree.
"""

__version__ = "0.2.0"
