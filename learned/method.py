"""The U-Net as a :class:`csmri.methods.ReconMethod`, so `solve` and `compare` treat it as CS."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from csmri.methods import MethodResult
from learned.checkpoint import load_model
from learned.infer import load_shipped_model, reconstruct
from learned.train import resolve_device
from learned.unet import NormUnet


@dataclass
class UnetMethod:
    """One-shot reconstruction with a loaded U-Net.

    Attributes
    ----------
    model : NormUnet
        The network (in eval mode, on ``device``).
    device : str
        Where it runs.
    label : str
        Name in tables.
    """

    model: NormUnet
    device: str = "cpu"
    label: str = "unet"
    lam: float | None = None

    @property
    def name(self) -> str:
        """Name in tables."""
        return self.label

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "auto") -> UnetMethod:
        """Load weights (the shipped model when ``path`` is None) onto a device.

        Parameters
        ----------
        path : str or Path, optional
            A ``.safetensors`` model written by ``csmri train``.
        device : {"auto", "cpu", "cuda"}
            Where to run.

        Returns
        -------
        UnetMethod
            Ready to :meth:`run`.
        """
        device = str(resolve_device(device))
        model = load_shipped_model(device)[0] if path is None else load_model(path, device)[0]
        return cls(model=model, device=device)

    def run(self, kspace: np.ndarray, mask: np.ndarray) -> MethodResult:
        """Reconstruct a stack of slices in one batched pass."""
        start = time.perf_counter()
        images = reconstruct(kspace, mask, model=self.model, device=self.device)
        seconds = time.perf_counter() - start
        return MethodResult(np.asarray(images, dtype=np.float32), seconds, [1] * len(images))
