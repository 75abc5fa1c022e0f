"""The U-Net as a :class:`csmri.methods.ReconMethod`, so `solve` and `compare` treat it as CS."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from csmri.methods import MethodResult
from learned.adapt import AdaptConfig, check_steps, reconstruct_adapted
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
        Name in tables (``+adapt`` is appended when adapting).
    adapt_steps : int
        Test-time adaptation step cap per slice (0: none; see :mod:`learned.adapt`).
    adapt_seed : int
        Seed of the adaptation's sample splits.
    """

    model: NormUnet
    device: str = "cpu"
    label: str = "unet"
    lam: float | None = None
    adapt_steps: int = 0
    adapt_seed: int = 0

    @property
    def name(self) -> str:
        """Name in tables."""
        return self.label + ("+adapt" if self.adapt_steps else "")

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

    def adapted(self, steps: int, seed: int = 0) -> UnetMethod:
        """The same network with test-time adaptation (its own row in tables).

        Parameters
        ----------
        steps : int
            Adaptation step cap per slice.
        seed : int
            Seed of the sample splits.

        Returns
        -------
        UnetMethod
            A method sharing the (never modified) model.
        """
        check_steps(steps)
        return replace(self, adapt_steps=steps, adapt_seed=seed)

    def run(self, kspace: np.ndarray, mask: np.ndarray) -> MethodResult:
        """Reconstruct a stack of slices (adapting to each first when asked).

        ``seconds`` includes the adaptation; ``iterations`` are the adaptation steps taken
        per slice (1 for a plain one-shot pass).
        """
        start = time.perf_counter()
        if not self.adapt_steps:
            images = reconstruct(kspace, mask, model=self.model, device=self.device)
            steps = [1] * len(images)
        else:
            config = AdaptConfig(steps=self.adapt_steps, seed=self.adapt_seed)
            images, results = reconstruct_adapted(
                np.asarray(kspace), mask, self.model, config, self.device
            )
            steps = [result.steps_run for result in results]
        seconds = time.perf_counter() - start
        return MethodResult(np.asarray(images, dtype=np.float32), seconds, steps)
