"""Non-uniform FFT: images on a Cartesian grid to samples at arbitrary k-space points.

Conventions are BART's (``bart traj``, ``bart nufft``), so trajectories and
k-space move between the two tools unchanged:

* a trajectory is an array ``(d, *samples)`` with ``d = 2`` or ``3`` coordinates
  ``(kx, ky[, kz])`` in pixels (cycles per field of view), ``|k| <= N/2``; ``kx``
  runs along the image rows ``H`` and ``ky`` along the columns ``W`` (BART's
  dimensions 0 and 1, as in :mod:`csmri.io.cfl`); ``kz`` must be zero (2-D);
* ``A x (k) = 1/sqrt(H W) sum_r x(r) exp(-2 pi i k . r / N)`` with ``r`` the pixel
  index minus ``N // 2`` (the centre pixel at ``N // 2``, as in ``fft2c``).

On the Cartesian grid ``A`` is therefore :func:`csmri.linop.fft.fft2c`, and it equals
``bart nufft`` (whose forward is scaled by ``1/sqrt(H W)`` too) to BART's accuracy
(about 1e-3); BART's gridding is not periodic, so samples within a kernel width of
``|k| = N/2`` differ unless ``bart nufft -P`` is used.

NumPy arrays use ``finufft`` (plans, tolerance 1e-6 in complex64 and 1e-12 in
complex128); torch tensors use ``torchkbnufft`` (CPU or GPU, differentiable,
relative accuracy about 5e-4).  Both are imported on first use.  ``A^H A`` is
applied by Toeplitz embedding (:mod:`csmri.linop.toeplitz`), which was faster than a
NUFFT pair on every trajectory measured.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from csmri.arrays import constant_like, is_double, is_torch
from csmri.extras import require
from csmri.linop.base import Compose, LinearOperator
from csmri.linop.fft import fft_workers
from csmri.linop.sense import CoilMaps

#: finufft tolerance per precision (the adjoint is exact to about this).
EPS = {np.complex64: 1e-6, np.complex128: 1e-12}


def check_trajectory(traj: Any, shape: tuple[int, int]) -> np.ndarray:
    """Validate a BART-convention trajectory and return its ``(kx, ky)`` as float64 ``(2, M)``.

    Parameters
    ----------
    traj : array, shape ``(2 or 3, *samples)``
        Coordinates in pixels.
    shape : tuple of int
        ``(H, W)`` of the image grid.

    Returns
    -------
    ndarray of float64, shape (2, M)
        The in-plane coordinates, flattened in C order.

    Raises
    ------
    ValueError
        For a wrong leading axis, complex parts, nonzero ``kz``, NaN/Inf or ``|k| > N/2``.
    """
    values = np.asarray(traj.detach().cpu() if is_torch(traj) else traj)
    if values.ndim < 2 or values.shape[0] not in (2, 3):
        raise ValueError(f"trajectory must have shape (2 or 3, *samples), got {values.shape}")
    if np.iscomplexobj(values):
        if np.any(values.imag != 0):
            raise ValueError("trajectory coordinates must be real")
        values = values.real
    values = values.astype(np.float64).reshape(values.shape[0], -1)
    if not np.all(np.isfinite(values)):
        raise ValueError("trajectory contains NaN or infinite values")
    if values.shape[0] == 3 and np.any(values[2] != 0):
        raise ValueError("trajectory has nonzero kz: only 2-D trajectories are supported")
    for axis, n in enumerate(shape):
        peak = float(np.abs(values[axis]).max(initial=0.0))
        if peak > n / 2 * (1 + 1e-6):
            raise ValueError(f"trajectory reaches |k| = {peak:g} > {n / 2:g} on a {n}-point axis")
    return values[:2]


def _import_torchkbnufft() -> Any:
    """``torchkbnufft``, without the ``torch.jit.script`` deprecation warning its import raises."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", DeprecationWarning)
        return require("torchkbnufft", "nufft", "non-Cartesian k-space on torch")


class NUFFT(LinearOperator):
    """Single-coil non-Cartesian sampling: image ``(..., H, W)`` -> samples ``(..., *samples)``.

    Parameters
    ----------
    traj : array, shape ``(2 or 3, *samples)``
        k-space coordinates in pixels (BART's convention, see the module docstring).
    shape : tuple of int
        ``(H, W)`` of the images.
    toeplitz : bool
        Apply :meth:`normal` by Toeplitz embedding (the default), else by a NUFFT pair.
        Measured on one core, complex64 radial, 4 to 400 spokes: Toeplitz took 0.14 ms
        against 0.18-9.4 ms for the pair at 64x64 and 3.5-12 ms against 25-81 ms at
        256x256 (its two FFTs are no larger than finufft's and it skips the spreading);
        the kernel costs about one NUFFT (8-40 ms at 64x64, 0.12-0.21 s at 256x256), once.
    weights : array, shape ``(*samples)``, optional
        Real weights ``D`` in the Toeplitz kernel, so that :meth:`normal` is ``A^H D A``
        (density compensation); ``A^H A`` when omitted.
    """

    def __init__(
        self,
        traj: Any,
        shape: tuple[int, ...],
        *,
        toeplitz: bool = True,
        weights: Any = None,
    ) -> None:
        h, w = (int(s) for s in shape[-2:])
        self.coords = check_trajectory(traj, (h, w))
        self.samples = tuple(int(s) for s in np.shape(traj)[1:])
        self.ishape = (h, w)
        self.oshape = self.samples
        self.weights = None if weights is None else np.asarray(weights, np.float64).reshape(-1)
        if self.weights is not None and self.weights.size != self.coords.shape[1]:
            raise ValueError(f"{self.weights.size} weights for {self.coords.shape[1]} samples")
        self.toeplitz = bool(toeplitz)
        self._plans: dict = {}
        self._torch: dict = {}
        self._kernel: Any = None

    @property
    def radians(self) -> np.ndarray:
        """The coordinates as finufft/torchkbnufft want them: ``2 pi k / N`` in ``[-pi, pi]``."""
        h, w = self.ishape
        # C order: finufft copies (with a warning) coordinates that are not C-contiguous
        return np.ascontiguousarray(2 * np.pi * self.coords / np.array([[h], [w]], np.float64))

    # -- NumPy: finufft ---------------------------------------------------------------
    def _plan(self, kind: int, batch: int, dtype: type) -> Any:
        key = (kind, batch, dtype)
        if key not in self._plans:
            finufft = require("finufft", "nufft", "non-Cartesian k-space")

            threads = fft_workers() or 0  # 0: finufft's default (all OpenMP threads)
            plan = finufft.Plan(
                kind, self.ishape, n_trans=batch, eps=EPS[dtype],
                isign=-1 if kind == 2 else 1, dtype=np.dtype(dtype).name, nthreads=threads,
            )
            real = np.float64 if dtype is np.complex128 else np.float32
            kx, ky = (np.ascontiguousarray(r, dtype=real) for r in self.radians)
            plan.setpts(kx, ky)
            self._plans[key] = plan
        return self._plans[key]

    def _numpy(self, data: np.ndarray, kind: int) -> np.ndarray:
        dtype = np.complex128 if is_double(data) else np.complex64
        core = self.ishape if kind == 2 else (self.coords.shape[1],)
        lead = data.shape[: data.ndim - len(self.ishape if kind == 2 else self.samples)]
        batch = math.prod(lead)
        flat = np.ascontiguousarray(data, dtype=dtype).reshape(batch, *core)
        out = self._plan(kind, batch, dtype).execute(flat if batch > 1 else flat[0])
        out = out / math.sqrt(self.ishape[0] * self.ishape[1])
        return out.reshape(*lead, *(self.samples if kind == 2 else self.ishape))

    # -- torch: torchkbnufft ----------------------------------------------------------
    def _torch_ops(self, like: Any) -> tuple[Any, Any, Any]:
        import torch

        key = (str(like.device), like.dtype)
        if key not in self._torch:
            torchkbnufft = _import_torchkbnufft()
            complex_dtype = torch.complex128 if is_double(like) else torch.complex64
            device = like.device
            forward = torchkbnufft.KbNufft(im_size=self.ishape).to(device, complex_dtype)
            adjoint = torchkbnufft.KbNufftAdjoint(im_size=self.ishape).to(device, complex_dtype)
            omega = constant_like(self.radians, torch.zeros((), dtype=complex_dtype, device=device))
            self._torch[key] = (forward, adjoint, omega)
        return self._torch[key]

    def _tensor(self, data: Any, kind: int) -> Any:
        import torch

        if not data.is_complex():
            data = data.to(torch.complex128 if is_double(data) else torch.complex64)
        forward, adjoint, omega = self._torch_ops(data)
        core = len(self.ishape) if kind == 2 else len(self.samples)
        lead = tuple(data.shape[: data.ndim - core])
        batch = math.prod(lead)
        scale = 1.0 / math.sqrt(self.ishape[0] * self.ishape[1])
        if kind == 2:
            out = forward(data.reshape(batch, 1, *self.ishape), omega)
            return (out * scale).reshape(*lead, *self.samples)
        out = adjoint(data.reshape(batch, 1, -1), omega)
        return (out * scale).reshape(*lead, *self.ishape)

    # -- the operator ----------------------------------------------------------------
    def forward(self, x: Any) -> Any:
        """``A x``: samples at the trajectory points."""
        return self._tensor(x, 2) if is_torch(x) else self._numpy(np.asarray(x), 2)

    def adjoint(self, y: Any) -> Any:
        """``A^H y``: the samples gridded back onto the image grid (no density compensation)."""
        return self._tensor(y, 1) if is_torch(y) else self._numpy(np.asarray(y), 1)

    def normal(self, x: Any) -> Any:
        """``A^H D A x`` (``D = I`` unless weights were given): Toeplitz or a NUFFT pair."""
        if self.toeplitz or self.weights is not None:
            return self.toeplitz_kernel().apply(x)
        return self.adjoint(self.forward(x))

    def toeplitz_kernel(self) -> Any:
        """The :class:`csmri.linop.toeplitz.ToeplitzKernel` of this trajectory (computed once)."""
        if self._kernel is None:
            from csmri.linop.toeplitz import ToeplitzKernel

            self._kernel = ToeplitzKernel(self.radians, self.ishape, self.weights)
        return self._kernel


class SenseNUFFT(Compose):
    """Multi-coil non-Cartesian SENSE ``A = N S`` (``NUFFT @ CoilMaps``).

    Parameters
    ----------
    maps : complex array, shape (C, H, W)
        Coil sensitivities.
    traj : array, shape ``(2 or 3, *samples)``, or NUFFT
        k-space coordinates in pixels, the same for every coil, or a :class:`NUFFT`
        to share (its plans and Toeplitz kernel) between slices.
    **kwargs
        Passed to :class:`NUFFT` (``toeplitz``, ``weights``).

    Notes
    -----
    The output is ``(..., C, *samples)``; :meth:`normal` is ``S^H (N^H N) S`` with the
    coil axis batched through one Toeplitz product.
    """

    def __init__(self, maps: Any, traj: Any, **kwargs: Any) -> None:
        self.coils = CoilMaps(maps)
        if isinstance(traj, NUFFT):
            if traj.ishape != self.coils.ishape:
                raise ValueError(f"NUFFT of {traj.ishape} images for maps of {self.coils.ishape}")
            self.nufft = traj
        else:
            self.nufft = NUFFT(traj, self.coils.ishape, **kwargs)
        super().__init__(self.nufft, self.coils)

    @property
    def maps(self) -> Any:
        """The coil sensitivities."""
        return self.coils.maps
