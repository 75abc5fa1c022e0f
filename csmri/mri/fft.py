"""The centred FFTs, from their home :mod:`csmri.linop.fft` (the operators' primitive)."""

from csmri.linop.fft import fft2c, fft_workers, ifft2c

__all__ = ["fft2c", "fft_workers", "ifft2c"]
