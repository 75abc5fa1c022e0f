"""Learned reconstruction: a one-shot U-Net and an unrolled network (E2E-VarNet style).

Public API: :func:`reconstruct` (U-Net), :func:`reconstruct_unrolled`,
:func:`load_shipped_model`, :func:`load_model`, :func:`save_model`, :func:`train` with
:class:`TrainConfig`; test-time adaptation (``adapt_steps=``, :func:`adapt_model`).
Every model file carries its training manifest
(:mod:`learned.data.manifest`).  Imports ``csmri``; ``csmri`` never imports this package.

``import learned`` is light: the public names are imported on first use
(:mod:`csmri.lazy`), so torch loads only when a learned method is used.
"""

import os

from csmri.lazy import lazy_exports
from csmri.moved import keep_old_paths

# OpenMP threads that spin after each parallel region steal the cores from scipy's FFT
# threads and from other processes: 30x slower inference was measured on 2 busy cores.
# Must be set before torch loads its OpenMP runtime; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_EXPORTS = {
    "AdaptConfig": "learned.adapt",
    "adapt_model": "learned.adapt",
    "load_model": "learned.models.checkpoint",
    "save_model": "learned.models.checkpoint",
    "load_shipped_model": "learned.infer",
    "reconstruct": "learned.infer",
    "reconstruct_unrolled": "learned.infer",
    "shipped_weights_path": "learned.infer",
    "TrainConfig": "learned.training.config",
    "TrainResult": "learned.training.config",
    "train": "learned.training.train",
    "NormUnet": "learned.models.unet",
    "UNetConfig": "learned.models.unet",
    "UnrolledConfig": "learned.models.unrolled",
    "UnrolledNet": "learned.models.unrolled",
}

__all__ = sorted(_EXPORTS)

LEARNED_MOVES = {
    "learned.unet": "learned.models.unet",
    "learned.unrolled": "learned.models.unrolled",
    "learned.consistency": "learned.models.consistency",
    "learned.checkpoint": "learned.models.checkpoint",
    "learned.dataset": "learned.data.dataset",
    "learned.synth": "learned.data.synth",
    "learned.manifest": "learned.data.manifest",
    "learned.unrolled_train": "learned.training.unrolled",
    "learned.distributed": "learned.training.distributed",
    "learned.lecture": "learned.training.lecture",
}
"""Modules moved in csmri 0.2 (``learned.train`` is the function: see ``learned.training``)."""

lazy_exports(__name__, _EXPORTS)
keep_old_paths(LEARNED_MOVES)
