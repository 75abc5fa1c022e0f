"""The learned methods on radial and spiral k-space: the same weights, other operators.

The networks see images, so weights trained on Cartesian data run unchanged:

* the **U-Net** runs on the gridding image (the density-compensated adjoint ``A^H D y``;
  coil-combined by the maps, or the RSS of the coils' gridding images), as the multi-coil
  U-Net runs on the RSS image: no data consistency;
* the **unrolled network**'s data consistency uses the NUFFT (or SENSE-NUFFT) operator,
  preconditioned by the density weights: ``A' = D^(1/2) A`` and ``y' = D^(1/2) y``, so
  that ``A'^H A' = A^H D A`` is close to the identity that the Cartesian ``A^H A`` of its
  training was, and its first image ``A'^H y'`` is the gridding image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from csmri.acquisition import Trajectory
from csmri.linop import LinearOperator
from learned.models.unrolled import UnrolledNet


class _SampleWeights(LinearOperator):
    """Multiplication of the samples by fixed real weights (a diagonal in sample space)."""

    def __init__(self, op: LinearOperator, weights: np.ndarray) -> None:
        self.op, self.ishape, self.oshape = op, op.ishape, op.oshape
        self._weights = torch.as_tensor(np.asarray(weights, np.float32))

    def _w(self, like: torch.Tensor) -> torch.Tensor:
        return self._weights.to(like.device)

    def forward(self, x: Any) -> Any:
        """``W A x``."""
        return self.op.forward(x) * self._w(x)

    def adjoint(self, y: Any) -> Any:
        """``A^H W y``."""
        return self.op.adjoint(y * self._w(y))


def weights_of(sampling: Trajectory) -> np.ndarray:
    """The density weights of a trajectory (Pipe-Menon when it carries none)."""
    from csmri.mri.density import pipe_menon

    if sampling.density is not None:
        return np.asarray(sampling.density, np.float64)
    return pipe_menon(sampling.coords, sampling.matrix)


def unrolled_noncartesian(
    kspace: np.ndarray,
    sampling: Trajectory,
    net: UnrolledNet,
    device: torch.device,
    maps: np.ndarray | None = None,
) -> np.ndarray:
    """Unrolled-network magnitudes ``(S, H, W)`` of radial/spiral k-space.

    Parameters
    ----------
    kspace : ndarray, shape (S, *samples) or, with maps, (S, C, *samples)
        Samples at the trajectory.
    sampling : Trajectory
        Coordinates, matrix and density weights.
    net : UnrolledNet
        The network, on ``device``.
    device : torch.device
        Where it runs.
    maps : ndarray, shape (S, C, H, W), optional
        Coil maps (SENSE-NUFFT).

    Returns
    -------
    ndarray of float32, shape (S, H, W)
        Magnitudes in the units of the gridding image.
    """
    from csmri.linop import NUFFT, SenseNUFFT

    root = np.sqrt(weights_of(sampling))
    nufft = NUFFT(sampling.coords, sampling.matrix, toeplitz=False)
    out = np.empty((len(kspace), *sampling.matrix), dtype=np.float32)
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            for index in range(len(kspace)):
                y = torch.as_tensor(np.asarray(kspace[index : index + 1]), dtype=torch.complex64,
                                    device=device)
                if maps is None:
                    op = nufft
                else:
                    coils = torch.as_tensor(np.array(maps[index]), dtype=torch.complex64,
                                            device=device)
                    op = SenseNUFFT(coils, nufft)
                weighted = _SampleWeights(op, root)
                out[index] = net(y * weighted._w(y), weighted)[0].float().cpu().numpy()
    finally:
        net.train(was_training)
    return out


class SpokeScan:
    """One radial/spiral slice for test-time adaptation, restricted to any set of spokes.

    The unrolled network and its NUFFT operator on the spokes (or interleaves) given, the
    last sample axis.

    The counterpart of :class:`learned.adapt.ScanModel` for trajectories: the measured
    units are the spokes; none is a "centre" (every spoke crosses it).  The loss is the
    density-weighted relative k-space error on the target spokes,
    ``||D^(1/2) P_L (A x - y)||^2 / ||D^(1/2) P_L y||^2``.

    Parameters
    ----------
    net : UnrolledNet
        The network (being adapted).
    kspace : complex Tensor, shape (*samples) or (C, *samples)
        One slice's samples.
    sampling : Trajectory
        Coordinates, matrix and density weights.
    maps : complex Tensor, shape (C, H, W), optional
        Coil maps (SENSE-NUFFT).
    """

    def __init__(self, net: UnrolledNet, kspace: torch.Tensor, sampling: Trajectory,
                 maps: torch.Tensor | None = None) -> None:
        from csmri.linop import NUFFT, SenseNUFFT

        if not isinstance(net, UnrolledNet):
            raise TypeError("non-Cartesian test-time adaptation adapts the unrolled network")
        self.net, self.kspace = net, kspace
        nufft = NUFFT(sampling.coords, sampling.matrix, toeplitz=False)
        self.op = nufft if maps is None else SenseNUFFT(maps, nufft)
        self.root = np.sqrt(weights_of(sampling))

    def _weights(self, units: np.ndarray) -> np.ndarray:
        return self.root * np.asarray(units, np.float64)  # spokes on the last sample axis

    def image(self, units: np.ndarray) -> torch.Tensor:
        """The network's complex image ``(H, W)`` from the samples of the given spokes."""
        weighted = _SampleWeights(self.op, self._weights(units))
        y = self.kspace * weighted._w(self.kspace)
        return self.net.image(y[None], weighted)[0]

    def error(self, inputs: np.ndarray, targets: np.ndarray) -> torch.Tensor:
        """Relative, density-weighted k-space error on ``targets`` of the image from ``inputs``."""
        weights = torch.as_tensor(self._weights(targets), dtype=torch.float32,
                                  device=self.kspace.device)
        residual = (self.op.forward(self.image(inputs)[None])[0] - self.kspace) * weights
        wanted = self.kspace * weights
        return residual.abs().square().sum() / wanted.abs().square().sum().clamp_min(1e-30)
