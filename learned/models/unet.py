"""A small fastMRI-style U-Net with input normalisation, padding and a residual output.

Architecture (after Ronneberger et al. 2015 and the fastMRI baseline, re-implemented):

* each level: two 3x3 convolutions, each followed by a normalisation layer and a
  LeakyReLU(0.2);
* down: 2x2 average pooling; up: 2x2 transpose convolution (+ norm, LeakyReLU),
  concatenation with the skip connection, then a conv block;
* out: 1x1 convolution.

:class:`NormUnet` wraps it for reconstruction: it takes the zero-filled complex image
as two real channels ``(B, 2, H, W)``, standardises the input per instance (mean/std of
the magnitude, clamped to +-6 like fastMRI), pads to a multiple of ``2**depth``, runs the
U-Net, crops back, adds the (normalised) zero-filled magnitude (residual learning) and
undoes the normalisation, so the output is a magnitude image in the input's units.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

NORMS: tuple[str, ...] = ("group", "instance", "batch", "layer", "none")
INPUTS: tuple[str, ...] = ("magnitude", "complex")
GROUP_SIZE_DEFAULT = 32


@dataclass
class UNetConfig:
    """Hyper-parameters of :class:`NormUnet` (stored in checkpoints as JSON).

    Attributes
    ----------
    chans : int
        Channels of the first level; doubled at every level down.
    depth : int
        Number of pooling steps.
    norm : {"group", "instance", "batch", "layer", "none"}
        Normalisation layer after every convolution.
    input : {"magnitude", "complex"}
        Network input: zero-filled magnitude (1 channel) or real/imag (2 channels).
    data_consistency : {"none", "hard", "hard-lowres"}
        Post-network data consistency (see :mod:`learned.models.consistency`).
    group_size : int
        For ``norm="group"``: channels per group (0: the default rule of
        :func:`make_norm`, ``gcd(32, channels)`` groups).
    """

    chans: int = 8
    depth: int = 4
    norm: str = "group"
    input: str = "magnitude"
    data_consistency: str = "none"
    group_size: int = 0

    def validate(self) -> UNetConfig:
        """Check the values; return ``self``.

        Returns
        -------
        UNetConfig
            The same object.
        """
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if self.input not in INPUTS:
            raise ValueError(f"input must be one of {', '.join(INPUTS)}, got {self.input!r}")
        if not 1 <= self.chans <= 512:
            raise ValueError(f"chans must lie in [1, 512], got {self.chans}")
        if not 1 <= self.depth <= 8:
            raise ValueError(f"depth must lie in [1, 8], got {self.depth}")
        if self.group_size < 0:
            raise ValueError(f"group_size must be >= 0, got {self.group_size}")
        from learned.models.consistency import DC_MODES

        if self.data_consistency not in DC_MODES:
            raise ValueError(
                f"data_consistency must be one of {', '.join(DC_MODES)}, "
                f"got {self.data_consistency!r}"
            )
        return self

    def to_dict(self) -> dict:
        """JSON-ready dictionary.

        Returns
        -------
        dict
            The fields.
        """
        return asdict(self)


def make_norm(kind: str, channels: int, group_size: int = 0) -> nn.Module:
    """A normalisation layer for ``channels`` feature maps.

    Parameters
    ----------
    kind : {"group", "instance", "batch", "layer", "none"}
        ``group``: ``GroupNorm(gcd(32, channels), channels)`` -- the Wu & He default of
        32 groups when ``channels`` is a multiple of 32, otherwise the largest divisor
        of ``channels`` that divides 32 (for 8 or 16 channels: one channel per group).
        ``layer``: ``GroupNorm(1, channels)`` (normalises over C, H, W per sample).
        ``instance``/``batch``: affine InstanceNorm2d / BatchNorm2d.
    channels : int
        Number of feature maps.
    group_size : int
        For ``group``: channels per group when > 0, i.e. ``max(1, channels // group_size)``
        groups (a layer with fewer channels than ``group_size`` is one group, like
        ``layer``); 0 keeps the default rule above.

    Returns
    -------
    torch.nn.Module
        The layer.
    """
    if kind == "group" and group_size > 0:
        return nn.GroupNorm(math.gcd(channels, max(1, channels // group_size)), channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(GROUP_SIZE_DEFAULT, channels), channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {kind!r}")


class ConvBlock(nn.Sequential):
    """Two (3x3 conv, norm, LeakyReLU) layers."""

    def __init__(self, in_chans: int, out_chans: int, norm: str, group_size: int = 0) -> None:
        bias = norm == "none"
        super().__init__(
            nn.Conv2d(in_chans, out_chans, 3, padding=1, bias=bias),
            make_norm(norm, out_chans, group_size),
            nn.LeakyReLU(0.2),
            nn.Conv2d(out_chans, out_chans, 3, padding=1, bias=bias),
            make_norm(norm, out_chans, group_size),
            nn.LeakyReLU(0.2),
        )


class UpBlock(nn.Sequential):
    """2x2 transpose convolution (doubling H and W), norm, LeakyReLU."""

    def __init__(self, in_chans: int, out_chans: int, norm: str, group_size: int = 0) -> None:
        super().__init__(
            nn.ConvTranspose2d(in_chans, out_chans, 2, stride=2, bias=norm == "none"),
            make_norm(norm, out_chans, group_size),
            nn.LeakyReLU(0.2),
        )


class UNet(nn.Module):
    """Plain U-Net: ``(B, in_chans, H, W) -> (B, out_chans, H, W)``, H and W divisible by 2**depth.

    Parameters
    ----------
    in_chans, out_chans : int
        Input and output channels.
    chans : int
        Channels of the first level.
    depth : int
        Pooling steps.
    norm : str
        See :func:`make_norm`.
    group_size : int
        Channels per group for ``norm="group"`` (0: default rule); see :func:`make_norm`.
    """

    def __init__(
        self, in_chans: int, out_chans: int, chans: int, depth: int, norm: str, group_size: int = 0
    ) -> None:
        super().__init__()
        self.down = nn.ModuleList([ConvBlock(in_chans, chans, norm, group_size)])
        ch = chans
        for _ in range(depth - 1):
            self.down.append(ConvBlock(ch, ch * 2, norm, group_size))
            ch *= 2
        self.bottom = ConvBlock(ch, ch * 2, norm, group_size)
        self.up_conv = nn.ModuleList()
        self.up_block = nn.ModuleList()
        for _ in range(depth):
            self.up_conv.append(UpBlock(ch * 2, ch, norm, group_size))
            self.up_block.append(ConvBlock(ch * 2, ch, norm, group_size))
            ch //= 2
        self.out = nn.Conv2d(chans, out_chans, 1)
        # Start close to the identity of the residual wrapper (output ~ zero-filled input).
        nn.init.normal_(self.out.weight, std=1e-3)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the network.

        Parameters
        ----------
        x : Tensor, shape (B, in_chans, H, W)
            Input.

        Returns
        -------
        Tensor, shape (B, out_chans, H, W)
            Output.
        """
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.avg_pool2d(x, 2)
        x = self.bottom(x)
        for up, block in zip(self.up_conv, self.up_block, strict=True):
            x = block(torch.cat([up(x), skips.pop()], dim=1))
        return self.out(x)


def padded_apply(
    net: nn.Module, x: torch.Tensor, depth: int, reflect: bool = False
) -> torch.Tensor:
    """Apply a U-Net of ``depth`` pooling levels to ``x`` of any size.

    ``x`` is padded evenly on both sides to a multiple of ``2**depth`` and the output
    cropped back to ``x``'s size.

    Parameters
    ----------
    net : torch.nn.Module
        The network.
    x : Tensor, shape (B, C, H, W)
        Input.
    depth : int
        Pooling levels of ``net``.
    reflect : bool
        Pad by reflection where the image is larger than the padding (zeros otherwise).

    Returns
    -------
    Tensor, shape (B, C_out, H, W)
        Output.
    """
    h, w = x.shape[-2:]
    multiple = 2**depth
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(
            x,
            (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2),
            mode="reflect" if reflect and min(h, w) > max(ph, pw) else "constant",
        )
    return net(x)[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]


class NormUnet(nn.Module):
    """Zero-filled complex image ``(B, 2, H, W)`` -> magnitude ``(B, H, W)`` in input units.

    Parameters
    ----------
    config : UNetConfig
        Architecture.
    """

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config.validate()
        in_chans = 1 if config.input == "magnitude" else 2
        self.unet = UNet(in_chans, 1, config.chans, config.depth, config.norm, config.group_size)

    def normalise(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-instance statistics of the zero-filled magnitude.

        Parameters
        ----------
        image : Tensor, shape (B, 2, H, W)
            Zero-filled complex image as real/imag channels.

        Returns
        -------
        magnitude, mean, std : Tensor
            ``(B, 1, H, W)`` magnitude and ``(B, 1, 1, 1)`` mean and std.
        """
        magnitude = torch.sqrt(image[:, :1] ** 2 + image[:, 1:] ** 2)
        mean = magnitude.mean(dim=(1, 2, 3), keepdim=True)
        std = magnitude.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6 * mean.abs().max() + 1e-12)
        return magnitude, mean, std

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Reconstruct magnitudes.

        Parameters
        ----------
        image : Tensor, shape (B, 2, H, W)
            Zero-filled complex image (real, imag).

        Returns
        -------
        Tensor, shape (B, H, W)
            Magnitude estimate in the input's units.
        """
        magnitude, mean, std = self.normalise(image)
        base = ((magnitude - mean) / std).clamp(-6, 6)
        x = base if self.config.input == "magnitude" else (image / std).clamp(-6, 6)
        out = padded_apply(self.unet, x, self.config.depth, reflect=True)
        return ((out + base) * std + mean)[:, 0]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters.

    Parameters
    ----------
    model : torch.nn.Module
        Any module.

    Returns
    -------
    int
        Parameter count.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
