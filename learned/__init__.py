"""Learned one-shot reconstruction: a small fastMRI-style U-Net on the zero-filled image.

Public API: :func:`reconstruct`, :func:`load_shipped_model`, :func:`load_model`,
:func:`save_model`, :func:`train` with :class:`TrainConfig`.  Imports ``csmri``;
``csmri`` never imports this package.
"""

import os

# OpenMP threads that spin after each parallel region steal the cores from scipy's FFT
# threads and from other processes: 30x slower inference was measured on 2 busy cores.
# Must be set before torch loads its OpenMP runtime; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


from learned.checkpoint import load_model, save_model
from learned.infer import load_shipped_model, reconstruct, shipped_weights_path
from learned.train import TrainConfig, TrainResult, train
from learned.unet import NormUnet, UNetConfig

__all__ = [
    "NormUnet",
    "TrainConfig",
    "TrainResult",
    "UNetConfig",
    "load_model",
    "load_shipped_model",
    "reconstruct",
    "save_model",
    "shipped_weights_path",
    "train",
]
