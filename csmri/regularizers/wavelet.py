"""Orthogonal 2-D discrete wavelet transform for any image size, and its l1 prox.

The transform uses PyWavelets' filters (``pywt.Wavelet(name).dec_lo``/``dec_hi``)
with *periodic* boundaries, which makes each level an orthogonal matrix when the
length is even.  An ``H x W`` image is embedded in a padded ``Hp x Wp`` domain
(``Hp``, ``Wp`` multiples of ``2**levels``; the image in the top-left corner).
The regularised problem is posed on the padded variable: the data term sees
only the crop, the pad is free, so ``R(x) = min_pad ||W [x, pad]||_1`` is a
convex function of the image and its prox on the padded variable is *exact*
(soft-thresholding of orthogonal coefficients), not an approximation.

Coefficients are kept in the Mallat layout: an array the shape of the padded
image whose top-left ``Hp / 2**L x Wp / 2**L`` block holds the approximation
band, which is never thresholded (as BART, only detail bands are penalised).

The transform is ``pywt.wavedec2``/``waverec2`` with ``mode="periodization"``
on the real and imaginary parts stacked as one float batch (PyWavelets has no
complex kernels).  Measured on the shared 2-core machine (320 x 320, 5 levels,
db4): about 1.6 + 1.9 FFT pairs for analysis + synthesis.  A hand-written
windowed-matrix-product version was as fast on an idle machine but up to 30x
slower when other processes compete for the cores (OpenBLAS's threads spin on
the tall-skinny products), so the single-threaded C code of PyWavelets wins.
"""

from __future__ import annotations

import warnings

import numpy as np
import pywt

from csmri.errors import UsageError

WAVELETS: tuple[str, ...] = tuple(pywt.wavelist(kind="discrete"))


def _check_wavelet(name: str) -> pywt.Wavelet:
    if name not in WAVELETS:
        raise UsageError(
            f"unknown wavelet {name!r}; choose a PyWavelets discrete wavelet, e.g. "
            "haar, db1..db38, sym2..sym20, coif1..coif17"
        )
    wavelet = pywt.Wavelet(name)
    if not wavelet.orthogonal:
        raise UsageError(f"wavelet {name!r} is not orthogonal; choose e.g. db4, sym8, haar")
    return wavelet


def complex_abs(c: np.ndarray) -> np.ndarray:
    """``|c|`` through the interleaved real view (NumPy's complex abs is hypot-slow)."""
    if not c.flags.c_contiguous or c.dtype.kind != "c":
        return np.abs(c)
    parts = c.view(c.real.dtype)
    sq = parts * parts
    out = np.add(sq[..., 0::2], sq[..., 1::2])
    return np.sqrt(out, out=out)


class WaveletTransform:
    """Orthogonal multi-level periodic 2-D DWT on a padded domain (Mallat layout).

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` of the images.
    wavelet : str
        Orthogonal PyWavelets wavelet name (default ``"db4"``).
    levels : int, optional
        Decomposition levels; ``pywt.dwt_max_level`` of the smaller side
        (at least 1) when omitted.
    """

    def __init__(
        self, image_shape: tuple[int, int], wavelet: str = "db4", levels: int | None = None
    ) -> None:
        self.wavelet = _check_wavelet(wavelet)
        h, w = (int(s) for s in image_shape[-2:])
        if levels is None:
            levels = max(1, pywt.dwt_max_level(min(h, w), self.wavelet.dec_len))
        if not isinstance(levels, (int, np.integer)) or levels < 1:
            raise UsageError(f"wavelet levels must be a positive integer, got {levels!r}")
        if 2**levels > max(h, w) * 2:
            raise UsageError(f"{levels} wavelet levels are too many for a {h}x{w} image")
        self.levels = int(levels)
        self.image_shape = (h, w)
        block = 2**self.levels
        self.padded_shape = (-(-h // block) * block, -(-w // block) * block)
        self.approx_shape = (self.padded_shape[0] // block, self.padded_shape[1] // block)

        self._slices: dict[int, list] = {}

    def _wavedec2(self, planes: np.ndarray) -> list:
        with warnings.catch_warnings():
            # Periodization is exact at any depth; pywt's "boundary effects" note does not apply.
            warnings.filterwarnings("ignore", message="Level value", category=UserWarning)
            return pywt.wavedec2(planes, self.wavelet, mode="periodization", level=self.levels)

    def _layout(self, ndim: int) -> list:
        """Slices of the Mallat layout for ``ndim``-D arrays, from one transform of zeros."""
        if ndim not in self._slices:
            probe = np.zeros((1,) * (ndim - 2) + self.padded_shape)
            coeffs = self._wavedec2(probe)
            slices = pywt.coeffs_to_array(coeffs, axes=(-2, -1))[1]
            # pywt bounds the approximation's leading axes by the probe's size 1: free them.
            slices[0] = (slice(None),) * (ndim - 2) + tuple(slices[0][-2:])
            self._slices[ndim] = slices
        return self._slices[ndim]

    def pad(self, x: np.ndarray) -> np.ndarray:
        """Embed images ``(..., H, W)`` in the padded domain (zeros elsewhere)."""
        out = np.zeros((*x.shape[:-2], *self.padded_shape), dtype=x.dtype)
        out[..., : self.image_shape[0], : self.image_shape[1]] = x
        return out

    def crop(self, x: np.ndarray) -> np.ndarray:
        """The image part ``(..., H, W)`` of padded arrays (a view)."""
        return x[..., : self.image_shape[0], : self.image_shape[1]]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Analysis ``W x`` of padded images ``(..., Hp, Wp)``, Mallat layout."""
        planes = np.stack([x.real, x.imag])
        coeffs = self._wavedec2(planes)
        array, _ = pywt.coeffs_to_array(coeffs, axes=(-2, -1))
        out = np.empty(x.shape, dtype=x.dtype)
        out.real, out.imag = array[0], array[1]
        return out

    def inverse(self, c: np.ndarray) -> np.ndarray:
        """Synthesis ``W^T c`` (the exact inverse), padded images ``(..., Hp, Wp)``."""
        planes = np.stack([c.real, c.imag])
        coeffs = pywt.array_to_coeffs(planes, self._layout(planes.ndim), output_format="wavedec2")
        array = pywt.waverec2(coeffs, self.wavelet, mode="periodization")
        out = np.empty(c.shape, dtype=c.dtype)
        out.real, out.imag = array[0], array[1]
        return out

    def detail_l1(self, c: np.ndarray) -> np.ndarray:
        """l1 norm (complex modulus) of the detail coefficients of each image (float64)."""
        total = complex_abs(c).sum(axis=(-2, -1), dtype=np.float64)
        ah, aw = self.approx_shape
        return total - np.abs(c[..., :ah, :aw]).sum(axis=(-2, -1), dtype=np.float64)

    def soft_threshold(self, c: np.ndarray, threshold: float) -> np.ndarray:
        """Complex soft-thresholding of the detail coefficients, in place.

        Parameters
        ----------
        c : ndarray, shape (..., Hp, Wp)
            Coefficients (Mallat layout); overwritten.
        threshold : float or ndarray
            Non-negative threshold (an array broadcasts against ``(..., Hp, Wp)``).

        Returns
        -------
        ndarray
            ``c``.
        """
        if np.all(np.asarray(threshold) <= 0):
            return c
        ah, aw = self.approx_shape
        approx = c[..., :ah, :aw].copy()
        mag = complex_abs(c)
        np.maximum(mag, threshold, out=mag)
        factor = 1.0 - threshold / mag  # python float keeps float32
        c *= factor
        c[..., :ah, :aw] = approx
        return c

    def prox(self, v: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """Exact prox of ``threshold * ||detail(W x)||_1`` on padded images.

        Parameters
        ----------
        v : ndarray, shape (..., Hp, Wp)
            Padded input.
        threshold : float
            Non-negative threshold.

        Returns
        -------
        x : ndarray, shape like ``v``
            The prox.
        coefficients : ndarray
            ``W x`` (soft-thresholded coefficients of ``v``).
        """
        c = self.soft_threshold(self.forward(v), threshold)
        return self.inverse(c), c
