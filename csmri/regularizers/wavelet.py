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

    def prox_shifted(
        self, v: np.ndarray, threshold: float, shifts: list[tuple[int, int]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Prox of ``threshold * ||detail(W S_s x)||_1`` with a circular shift per image.

        ``x = S^-1 prox(S v)`` with ``S`` the ``np.roll`` by ``shifts[s]`` of image ``s``
        (cycle spinning; no shift when ``shifts`` is None).  Same result as
        :meth:`prox` on rolled copies, but faster: the roll is folded into the
        real/imaginary split that PyWavelets needs anyway, and the coefficients stay
        in PyWavelets' list of bands (no Mallat-layout packing and unpacking).

        Parameters
        ----------
        v : ndarray, shape (S, Hp, Wp)
            Padded input.
        threshold : float
            Non-negative threshold.
        shifts : list of (int, int), optional
            Circular shift of each image.

        Returns
        -------
        x : ndarray, shape like ``v``
            The prox.
        l1 : ndarray, shape (S,)
            l1 norm of the soft-thresholded detail coefficients (float64).
        """
        n = v.shape[0]
        shifts = [(0, 0)] * n if shifts is None else shifts
        planes = np.empty((2, *v.shape), dtype=v.real.dtype)
        for s, shift in enumerate(shifts):
            _roll_copy(v[s].real, shift, planes[0, s])
            _roll_copy(v[s].imag, shift, planes[1, s])
        coeffs = self._wavedec2(planes)
        l1 = np.zeros(n, dtype=np.float64)
        if threshold > 0:
            for bands in coeffs[1:]:
                for band in bands:
                    l1 += _soft_threshold_planes(band, threshold)
        else:
            for bands in coeffs[1:]:
                for band in bands:
                    l1 += _plane_modulus(band).sum(axis=(-2, -1), dtype=np.float64)
        planes = pywt.waverec2(coeffs, self.wavelet, mode="periodization")
        out = np.empty(v.shape, dtype=v.dtype)
        for s, (a, b) in enumerate(shifts):
            _roll_copy(planes[0, s], (-a, -b), out[s].real)
            _roll_copy(planes[1, s], (-a, -b), out[s].imag)
        return out, l1

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


def _roll_copy(src: np.ndarray, shift: tuple[int, int], dst: np.ndarray) -> np.ndarray:
    """``dst[...] = np.roll(src, shift, axis=(-2, -1))`` as four block copies (no temporary)."""
    h, w = src.shape[-2:]
    a, b = shift[0] % h, shift[1] % w
    dst[..., a:, b:] = src[..., : h - a, : w - b]
    dst[..., a:, :b] = src[..., : h - a, w - b :]
    dst[..., :a, b:] = src[..., h - a :, : w - b]
    dst[..., :a, :b] = src[..., h - a :, w - b :]
    return dst


def _plane_modulus(band: np.ndarray) -> np.ndarray:
    """``|re + i im|`` of a band stored as ``(2, ...)`` real and imaginary planes."""
    mag = np.multiply(band[0], band[0])
    mag += band[1] * band[1]
    return np.sqrt(mag, out=mag)


def _soft_threshold_planes(band: np.ndarray, threshold: float) -> np.ndarray:
    """Complex soft-thresholding of a ``(2, S, h, w)`` band in place; l1 of the result per image.

    Same arithmetic as :meth:`WaveletTransform.soft_threshold` (factor
    ``1 - t / max(|c|, t)``), on the real and imaginary planes.
    """
    mag = _plane_modulus(band)
    np.maximum(mag, threshold, out=mag)
    # |c| * (1 - t / |c|) = |c| - t: the l1 norm of the result without another modulus.
    l1 = mag.sum(axis=(-2, -1), dtype=np.float64)
    l1 -= threshold * mag[0].size
    np.divide(threshold, mag, out=mag)
    np.subtract(1.0, mag, out=mag)
    band *= mag  # broadcasts over the real/imaginary axis
    return l1
