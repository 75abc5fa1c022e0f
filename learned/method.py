"""The learned models as :class:`csmri.app.methods.ReconMethod`, and their leak check.

``solve`` and ``compare`` treat them as CS; the training manifest of each is checked
against the slices being scored.  On multi-coil k-space ``(S, C, H, W)`` the U-Net runs on
the RSS of the zero-filled coil images (fastMRI's multi-coil baseline, no data consistency)
and the unrolled network's data consistency is SENSE with the given maps.  Both need a
column mask (every row sampled alike).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from csmri.acquisition import Trajectory
from csmri.app.methods import MethodResult
from csmri.errors import UsageError
from csmri.mri.baseline import rss_zero_filled
from csmri.mri.fft import fft2c
from learned.adapt import AdaptConfig, adapt_model, check_steps, reconstruct_adapted
from learned.data.manifest import leak_warning, leaked_slices
from learned.infer import load_shipped_model, reconstruct, reconstruct_unrolled
from learned.models.checkpoint import load_model
from learned.models.unet import NormUnet
from learned.models.unrolled import UnrolledNet
from learned.training.train import resolve_device


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
    manifest : dict
        Its training manifest (for the leak check).
    source : str
        The weights file, for messages.
    adapt_steps : int
        Test-time adaptation step cap per slice (0: none; see :mod:`learned.adapt`).
    adapt_seed : int
        Seed of the adaptation's sample splits.
    """

    model: NormUnet
    device: str = "cpu"
    label: str = "unet"
    lam: float | None = None
    manifest: dict = field(default_factory=dict)
    source: str = "the shipped model"
    adapt_steps: int = 0
    adapt_seed: int = 0

    kind = "unet"

    @property
    def name(self) -> str:
        """Name in tables: the label, with ``+adapt`` after the model name when adapting."""
        if not self.adapt_steps:
            return self.label
        model, space, note = self.label.partition(" ")  # "unet [LEAK]" -> "unet+adapt [LEAK]"
        return f"{model}+adapt{space}{note}"

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "auto") -> UnetMethod:
        """Load weights (the shipped model when ``path`` is None) onto a device.

        Parameters
        ----------
        path : str or Path, optional
            A ``.safetensors`` model written by ``csmri train`` (of this kind).
        device : {"auto", "cpu", "cuda"}
            Where to run.

        Returns
        -------
        UnetMethod or UnrolledMethod
            Ready to :meth:`run`.
        """
        device = str(resolve_device(device))
        if path is None:
            model, _, metadata = load_shipped_model(device, cls.kind)
            source = f"the shipped {cls.kind} model"
        else:
            model, _, metadata = load_model(path, device, cls.kind)
            source = str(path)
        return cls(model=model, device=device, label=cls.kind,
                   manifest=metadata.get("manifest", {}), source=source)

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

    def run(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None = None
    ) -> MethodResult:
        """Reconstruct a stack of slices (adapting to each first when asked).

        ``seconds`` includes the adaptation; ``iterations`` are the adaptation steps taken
        per slice (1 for a plain one-shot pass).
        """
        if isinstance(mask, Trajectory):
            return self._run_noncartesian(kspace, mask, maps)
        columns = column_mask(mask)
        multicoil = np.ndim(kspace) == 4
        if multicoil and self.kind == "unrolled" and maps is None:
            raise UsageError(f"{self.name} on multi-coil k-space needs coil maps")
        start = time.perf_counter()
        if not self.adapt_steps:
            images = self._reconstruct(kspace, columns, maps)
            steps = [1] * len(images)
        else:
            if multicoil and self.kind == "unet":
                raise UsageError(f"{self.name}: the U-Net on the RSS image of multi-coil data "
                                 "has no k-space to adapt to (adapt the unrolled network)")
            config = AdaptConfig(steps=self.adapt_steps, seed=self.adapt_seed)
            images, results = reconstruct_adapted(
                np.asarray(kspace), columns, self.model, config, self.device, maps=maps
            )
            steps = [result.steps_run for result in results]
        seconds = time.perf_counter() - start
        return MethodResult(np.asarray(images, dtype=np.float32), seconds, steps)

    def _run_noncartesian(
        self, kspace: np.ndarray, sampling: Trajectory, maps: np.ndarray | None
    ) -> MethodResult:
        """Radial/spiral k-space: :mod:`learned.noncartesian` (no adaptation there yet)."""
        if self.adapt_steps and self.kind != "unrolled":
            raise UsageError(f"{self.name}: on non-Cartesian data only the unrolled network "
                             "adapts (the U-Net sees no k-space there)")
        from learned.noncartesian import unrolled_noncartesian

        start = time.perf_counter()
        steps = [1] * len(kspace)
        if self.kind == "unrolled" and self.adapt_steps:  # split the spokes, as SSDU
            device = torch.device(self.device)
            config = AdaptConfig(steps=self.adapt_steps, seed=self.adapt_seed)
            images, steps = np.empty((len(kspace), *sampling.matrix), np.float32), []
            for index in range(len(kspace)):
                coils = None if maps is None else maps[index]
                result = adapt_model(self.model, kspace[index], sampling, config, coils, device)
                images[index] = unrolled_noncartesian(
                    kspace[index : index + 1], sampling, result.model, device,
                    None if maps is None else maps[index : index + 1])[0]
                steps.append(result.steps_run)
        elif self.kind == "unrolled":
            device = torch.device(self.device)
            images = unrolled_noncartesian(kspace, sampling, self.model.to(device), device, maps)
        else:  # the U-Net on the gridding image, as on the RSS image: no data consistency
            from csmri.app.methods import gridding

            image = gridding(kspace, sampling, maps)
            full = np.ones(image.shape[-1], dtype=bool)
            images = reconstruct(fft2c(image.astype(np.complex64)), full, model=self.model,
                                 device=self.device, data_consistency_mode="none")
        return MethodResult(np.asarray(images, np.float32), time.perf_counter() - start, steps)

    def _reconstruct(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None
    ) -> np.ndarray:
        if np.ndim(kspace) == 4:  # fastMRI's multi-coil U-Net: the RSS image, no DC
            rss = rss_zero_filled(np.asarray(kspace) * mask)
            full = np.ones(kspace.shape[-1], dtype=bool)
            return reconstruct(fft2c(rss.astype(np.complex64)), full, model=self.model,
                               device=self.device, data_consistency_mode="none")
        return reconstruct(kspace, mask, model=self.model, device=self.device)

    def leaks(self, images: np.ndarray) -> list[int]:
        """Indices of ``images`` (reference slices) that were in this model's training data.

        Parameters
        ----------
        images : ndarray, shape (S, H, W)
            Scored reference slices.

        Returns
        -------
        list of int
            Leaked slices (see :func:`learned.data.manifest.leaked_slices`).
        """
        return leaked_slices(self.manifest, images) if self.manifest else []


@dataclass
class UnrolledMethod(UnetMethod):
    """Reconstruction with the unrolled network (SENSE data consistency with maps)."""

    model: UnrolledNet = None  # type: ignore[assignment]
    label: str = "unrolled"

    kind = "unrolled"

    def _reconstruct(
        self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None
    ) -> np.ndarray:
        return reconstruct_unrolled(kspace, mask, model=self.model, device=self.device,
                                    maps=maps)


def column_mask(mask: np.ndarray) -> np.ndarray:
    """The ``(W,)`` column mask of a ``(W,)`` or row-invariant ``(H, W)`` mask.

    Raises
    ------
    UsageError
        For a 2-D mask whose rows differ (the networks were trained on column masks).
    """
    mask = np.asarray(mask) != 0
    if mask.ndim == 1:
        return mask
    if not np.all(mask == mask[:1]):
        raise UsageError("the learned methods need a column mask (every row sampled alike)")
    return mask[0]


LEARNED_METHODS = {"unet": UnetMethod, "unrolled": UnrolledMethod}
"""``--method`` name -> class."""


def mark_leaks(methods: list, cases: list) -> list[str]:
    """Relabel learned methods whose training data contains scored slices; return warnings.

    A method's label becomes ``NAME [LEAK]`` so every table row of it is marked.

    Parameters
    ----------
    methods : list of ReconMethod
        Methods of a comparison (only those with a ``leaks`` method are checked).
    cases : list of learned.comparison.Case
        Cases with ``target``, ``scored`` and ``name``.

    Returns
    -------
    list of str
        One loud warning line per leaking method and input.
    """
    warnings = []
    for method in methods:
        if not hasattr(method, "leaks"):
            continue
        seen: set[str] = set()
        leaking = False
        for case in cases:
            if case.name in seen:  # one check per input (cases repeat per acceleration)
                continue
            seen.add(case.name)
            leaked = method.leaks(case.target[case.scored])
            if leaked:
                leaking = True
                indices = [case.scored[i] for i in leaked]
                warnings.append(f"{case.name}: " + leak_warning(method.source, indices,
                                                                 len(case.scored)))
        if leaking and not method.label.endswith("[LEAK]"):
            method.label = f"{method.label} [LEAK]"
    return warnings


def with_adapted(methods: list, steps: int, seed: int) -> list:
    """Each learned method followed by its test-time adapted twin (``unet``, ``unet+adapt``).

    Raises
    ------
    UsageError
        When no method in ``methods`` can adapt.
    """
    out = []
    for method in methods:
        out.append(method)
        if hasattr(method, "adapted"):
            out.append(method.adapted(steps, seed))
    if len(out) == len(methods):
        raise UsageError("--adapt needs a learned method (unet, unrolled) in --methods")
    return out
