"""Where a CS solve runs: the NumPy backend, or torch on a CPU or a GPU.

The device follows the data unless the caller names one: NumPy arrays are
solved by the NumPy backend (fused Numba kernels, the fastest on a CPU), torch
tensors on their own device.  ``"cuda"`` moves the solve to the GPU;
``"auto"`` does so when one is available.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from csmri.arrays import is_torch
from csmri.errors import UsageError

DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA GPU."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device: str | None, data: Any = None) -> str | None:
    """The torch device to solve on, or None for the NumPy backend.

    Parameters
    ----------
    device : {None, "auto", "cpu", "cuda", "cuda:N"}
        The caller's choice (see the module docstring).
    data : array or torch.Tensor, optional
        The k-space, whose kind and device decide when ``device`` does not.

    Returns
    -------
    str or None
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or None (NumPy).

    Raises
    ------
    UsageError
        For an unknown name, or ``"cuda"`` without a GPU.
    """
    tensor_device = str(data.device) if is_torch(data) else None
    if device is None:
        return tensor_device
    if not isinstance(device, str) or not (device in DEVICES or device.startswith("cuda:")):
        raise UsageError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "auto":
        return "cuda" if cuda_available() else (None if tensor_device is None else "cpu")
    if device == "cpu":
        return None if tensor_device is None else "cpu"
    if not cuda_available():
        raise UsageError(f"device {device!r} requested but torch sees no CUDA GPU")
    return device


def to_device(value: Any, device: str | None) -> Any:
    """``value`` as a NumPy array (``device`` None) or a torch tensor on ``device``."""
    if value is None:
        return None
    if device is None:
        return np.asarray(value.detach().cpu()) if is_torch(value) else value
    import torch

    if is_torch(value):
        return value.to(device)
    return torch.from_numpy(np.ascontiguousarray(value)).to(device)
