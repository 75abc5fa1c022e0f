"""Learned reconstruction: a one-shot U-Net and an unrolled network (E2E-VarNet style).

Public API: :func:`reconstruct` (U-Net), :func:`reconstruct_unrolled`,
:func:`load_shipped_model`, :func:`load_model`, :func:`save_model`, :func:`train` with
:class:`TrainConfig`; test-time adaptation (``adapt_steps=``, :func:`adapt_model`).
Every model file carries its training manifest (:mod:`learned.manifest`).  Imports
``csmri``; ``csmri`` never imports this package.
"""

import os

# OpenMP threads that spin after each parallel region steal the cores from scipy's FFT
# threads and from other processes: 30x slower inference was measured on 2 busy cores.
# Must be set before torch loads its OpenMP runtime; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


from learned.adapt import AdaptConfig, adapt_model
from learned.checkpoint import load_model, save_model
from learned.infer import (
    load_shipped_model,
    reconstruct,
    reconstruct_unrolled,
    shipped_weights_path,
)
from learned.train import TrainConfig, TrainResult, train
from learned.unet import NormUnet, UNetConfig
from learned.unrolled import UnrolledConfig, UnrolledNet

__all__ = [
    "AdaptConfig",
    "NormUnet",
    "TrainConfig",
    "TrainResult",
    "UNetConfig",
    "UnrolledConfig",
    "UnrolledNet",
    "adapt_model",
    "load_model",
    "load_shipped_model",
    "reconstruct",
    "reconstruct_unrolled",
    "save_model",
    "shipped_weights_path",
    "train",
]
