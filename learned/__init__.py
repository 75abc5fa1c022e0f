"""Learned one-shot reconstruction: a small fastMRI-style U-Net on the zero-filled image.

Public API: :func:`reconstruct`, :func:`load_shipped_model`, :func:`load_model`,
:func:`save_model`, :func:`train` with :class:`TrainConfig`.  Imports ``csmri``;
``csmri`` never imports this package.
"""

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
