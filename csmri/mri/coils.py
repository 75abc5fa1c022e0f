"""Multi-coil reconstruction methods: coil maps, coil compression, SENSE CS and baselines.

Every method reconstructs magnitude images ``(S, H, W)`` from k-space
``(S, C, H, W)``, a mask ``(H, W)`` and coil maps ``(S, C, H, W)`` (ignored by
the zero-filled RSS baseline), so the CLI and the comparison treat them alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from csmri.app.methods import MethodResult
from csmri.app.sense import DEFAULT_SENSE_LAMBDA, rss_zero_filled, sense_adjoint, sense_reconstruct
from csmri.defaults import DEFAULT_WAVELET
from csmri.errors import UsageError

MAP_MODES = ("espirit", "lowres")


def estimate_maps(
    kspace: np.ndarray, mask: np.ndarray, mode: str = "espirit", device: str = "cpu", path=None
) -> np.ndarray:
    """Coil maps from the data: ESPIRiT or the low-resolution fallback.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred k-space.
    mask : ndarray, shape (H, W)
        Sampling mask.
    mode : {"espirit", "lowres"}
        Estimator.
    device : str
        Torch device for the estimate.
    path : path-like, optional
        Input named in errors (a calibration region too small for ESPIRiT).

    Returns
    -------
    ndarray of complex64, shape (S, C, H, W)
        Maps.
    """
    from csmri.mri.espirit import espirit, lowres_maps

    if mode not in MAP_MODES:
        raise UsageError(f"unknown maps estimator {mode!r}; choose {', '.join(MAP_MODES)}")
    if mode == "espirit":
        maps = espirit(kspace, mask, device=device, path=path)
    else:
        maps = lowres_maps(kspace, mask, device=device)
    return maps.cpu().numpy()


def compress_coils(
    kspace: np.ndarray, coils: int, maps: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """SVD coil compression to ``coils`` virtual coils, one matrix per slice.

    The virtual coils are the leading left singular vectors of the ``C x samples``
    matrix of the measured k-space; maps (if given) are compressed with the same
    matrix, so ``S_virtual = U^H S``.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W)
        Centred, masked k-space.
    coils : int
        Virtual coils to keep (``1 <= coils <= C``).
    maps : ndarray, shape (S, C, H, W), optional
        Maps to compress alongside.

    Returns
    -------
    tuple
        Compressed k-space ``(S, coils, H, W)`` and maps (or None).
    """
    s, c, h, w = kspace.shape
    if not 1 <= coils <= c:
        raise UsageError(f"--coils {coils} must be between 1 and the {c} coils of the data")
    out = np.empty((s, coils, h, w), dtype=np.complex64)
    out_maps = None if maps is None else np.empty_like(out)
    for i in range(s):
        matrix = kspace[i].reshape(c, -1)
        u = np.linalg.svd(matrix @ matrix.conj().T)[0][:, :coils]  # C x coils
        out[i] = (u.conj().T @ matrix).reshape(coils, h, w)
        if maps is not None:
            out_maps[i] = np.tensordot(u.conj().T, maps[i], axes=1)
    return out, out_maps


@dataclass
class MulticoilMethod:
    """A multi-coil reconstruction: ``sense-cs``, ``sense-adjoint`` or ``zero-filled`` (RSS).

    Attributes
    ----------
    kind : str
        Which method.
    reg, lam, solver, max_iter, tol, wavelet, device
        SENSE-CS options (see :func:`csmri.app.sense.sense_reconstruct`).
    label : str, optional
        Name in tables instead of the default.
    """

    kind: str = "sense-cs"
    reg: str = "tv"
    lam: float | None = None
    solver: str | None = None
    max_iter: int = 100
    tol: float = 0.0
    wavelet: str = DEFAULT_WAVELET
    label: str | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("sense-cs", "sense-adjoint", "zero-filled"):
            raise UsageError(f"unknown multi-coil method {self.kind!r}")
        if self.kind == "sense-cs" and self.lam is None:
            self.lam = DEFAULT_SENSE_LAMBDA.get(self.reg, 0.003)
        if self.kind != "sense-cs":
            self.lam = None

    @property
    def name(self) -> str:
        """Name in tables."""
        if self.label is not None:
            return self.label
        if self.kind == "sense-cs":
            return f"sense-{self.reg}"
        return "zero-filled-rss" if self.kind == "zero-filled" else "sense-adjoint"

    def run(self, kspace: np.ndarray, mask: np.ndarray, maps: np.ndarray | None) -> MethodResult:
        """Magnitude images ``(S, H, W)`` float32 from k-space, mask and maps."""
        start = time.perf_counter()
        if self.kind == "zero-filled":
            images = rss_zero_filled(kspace)
            return MethodResult(images, time.perf_counter() - start, [1] * len(images))
        if maps is None:
            raise UsageError(f"{self.name} needs coil maps")
        if self.kind == "sense-adjoint":
            images = np.abs(sense_adjoint(kspace, maps)).astype(np.float32)
            return MethodResult(images, time.perf_counter() - start, [1] * len(images))
        result = sense_reconstruct(
            kspace,
            mask,
            maps,
            reg=self.reg,
            lam=self.lam,
            solver=self.solver,
            max_iter=self.max_iter,
            tol=self.tol,
            wavelet=self.wavelet,
            device=self.device,
        )
        images = np.abs(result.images).astype(np.float32)
        return MethodResult(images, time.perf_counter() - start, result.iterations, result.history)
