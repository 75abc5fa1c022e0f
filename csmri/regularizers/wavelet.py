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

The transform is computed by the Numba kernels of :mod:`csmri.regularizers.dwt`
(equal to ``pywt.wavedec2(..., mode="periodization")`` followed by
``pywt.coeffs_to_array``, on complex data directly); the soft-thresholding is
one fused pass that also returns the l1 norm.  Measured on the 2-core
development machine (320 x 320 ``complex64``, db4, 5 levels): analysis 0.5 ms,
synthesis 0.5 ms, against about 3 ms each with PyWavelets.
"""

from __future__ import annotations

import numpy as np
import pywt

from csmri.defaults import DEFAULT_WAVELET
from csmri.errors import UsageError
from csmri.kernel import per_image_thresholds
from csmri.regularizers import dwt

WAVELETS: tuple[str, ...] = tuple(
    name for name in pywt.wavelist(kind="discrete") if pywt.Wavelet(name).orthogonal
)
"""The orthogonal PyWavelets wavelets: the only ones the exact prox accepts."""


def check_wavelet(name: object) -> pywt.Wavelet:
    """The wavelet called ``name``, or :class:`UsageError` (the one check every caller uses).

    Parameters
    ----------
    name : str
        PyWavelets name; it must be a discrete, orthogonal wavelet (``bior*`` and
        ``rbio*`` are biorthogonal and refused, as are unknown names).

    Returns
    -------
    pywt.Wavelet
        The wavelet.
    """
    if name in WAVELETS:
        return pywt.Wavelet(name)
    known = isinstance(name, str) and name in pywt.wavelist(kind="discrete")
    problem = "is not orthogonal" if known else "is not a known wavelet"
    raise UsageError(
        f"wavelet {name!r} {problem}; choose an orthogonal PyWavelets wavelet such as "
        "haar, db1..db38, sym2..sym20, coif1..coif17"
    )


def complex_abs(c: np.ndarray) -> np.ndarray:
    """``|c|`` through the interleaved real view (NumPy's complex abs is hypot-slow)."""
    if not c.flags.c_contiguous or c.dtype.kind != "c":
        return np.abs(c)
    parts = c.view(c.real.dtype)
    sq = parts * parts
    out = np.add(sq[..., 0::2], sq[..., 1::2])
    return np.sqrt(out, out=out)


MAX_PADDED_AREA = 1.25
"""Most padded area, relative to the image's, that :func:`automatic_levels` accepts."""


def padded_shape(shape: tuple[int, int], levels: int) -> tuple[int, int]:
    """The smallest ``(Hp, Wp) >= shape`` divisible by ``2**levels``."""
    block = 2**levels
    return (-(-shape[0] // block) * block, -(-shape[1] // block) * block)


def automatic_levels(shape: tuple[int, int], filter_length: int) -> int:
    """The most levels, up to ``pywt.dwt_max_level``, whose padded domain stays small.

    Deep levels need sides divisible by ``2**levels``: 8 haar levels pad a 320 x 320
    image to 512 x 512, which made every wavelet pass 2.6 times dearer.  The
    deepest level count whose padded area is at most :data:`MAX_PADDED_AREA`
    times the image's is taken (320 x 320: 6 levels, no padding; 216 x 180: 5,
    224 x 192).  Against the deepest levels, the best-lambda PSNR of
    ``benchmarks/bench_cs.py``'s haar FISTA was 0.00-0.10 dB lower in its four
    cases, and an iteration took 1.2-1.8 times less.

    Parameters
    ----------
    shape : tuple of int
        ``(H, W)`` of the images.
    filter_length : int
        Length of the wavelet's decomposition filters.

    Returns
    -------
    int
        Levels (at least 1).
    """
    h, w = shape
    deepest = max(1, pywt.dwt_max_level(min(h, w), filter_length))
    for levels in range(deepest, 1, -1):
        hp, wp = padded_shape(shape, levels)
        if hp * wp <= MAX_PADDED_AREA * h * w:
            return levels
    return 1


class WaveletTransform:
    """Orthogonal multi-level periodic 2-D DWT on a padded domain (Mallat layout).

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` of the images.
    wavelet : str
        Orthogonal PyWavelets wavelet name (default :data:`csmri.defaults.DEFAULT_WAVELET`).
    levels : int, optional
        Decomposition levels; :func:`automatic_levels` when omitted.
    """

    def __init__(
        self,
        image_shape: tuple[int, int],
        wavelet: str = DEFAULT_WAVELET,
        levels: int | None = None,
    ) -> None:
        self.wavelet = check_wavelet(wavelet)
        h, w = (int(s) for s in image_shape[-2:])
        if levels is None:
            levels = automatic_levels((h, w), self.wavelet.dec_len)
        if not isinstance(levels, (int, np.integer)) or levels < 1:
            raise UsageError(f"wavelet levels must be a positive integer, got {levels!r}")
        if 2**levels > max(h, w) * 2:
            raise UsageError(f"{levels} wavelet levels are too many for a {h}x{w} image")
        self.levels = int(levels)
        self.image_shape = (h, w)
        block = 2**self.levels
        self.padded_shape = padded_shape((h, w), self.levels)
        self.approx_shape = (self.padded_shape[0] // block, self.padded_shape[1] // block)

        self._filters = {dt: dwt.filters(self.wavelet, dt) for dt in (np.float32, np.float64)}

    def pad(self, x: np.ndarray) -> np.ndarray:
        """Embed images ``(..., H, W)`` in the padded domain (zeros elsewhere)."""
        out = np.zeros((*x.shape[:-2], *self.padded_shape), dtype=x.dtype)
        out[..., : self.image_shape[0], : self.image_shape[1]] = x
        return out

    def crop(self, x: np.ndarray) -> np.ndarray:
        """The image part ``(..., H, W)`` of padded arrays (a view)."""
        return x[..., : self.image_shape[0], : self.image_shape[1]]

    def _batch(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A C-contiguous complex copy ``(S, Hp, Wp)`` of ``x`` and the filters for its dtype.

        ``complex128`` stays ``complex128``; anything else becomes ``complex64``.
        """
        if x.shape[-2:] != self.padded_shape:
            raise ValueError(f"expected padded images of shape {self.padded_shape}, got {x.shape}")
        dtype = np.complex128 if np.asarray(x).dtype == np.complex128 else np.complex64
        c = np.array(x, dtype=dtype, order="C", copy=True).reshape(-1, *self.padded_shape)
        return (c, *self._filters[c.real.dtype.type])

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Analysis ``W x`` of padded images ``(..., Hp, Wp)``, Mallat layout."""
        c, lo, hi = self._batch(x)
        return dwt.analysis_inplace(c, lo, hi, self.levels).reshape(x.shape)

    def inverse(self, c: np.ndarray) -> np.ndarray:
        """Synthesis ``W^T c`` (the exact inverse), padded images ``(..., Hp, Wp)``."""
        x, lo, hi = self._batch(c)
        return dwt.synthesis_inplace(x, lo, hi, self.levels).reshape(c.shape)

    def detail_l1(self, c: np.ndarray) -> np.ndarray:
        """l1 norm (complex modulus) of the detail coefficients of each image (float64)."""
        total = complex_abs(c).sum(axis=(-2, -1), dtype=np.float64)
        ah, aw = self.approx_shape
        return total - np.abs(c[..., :ah, :aw]).sum(axis=(-2, -1), dtype=np.float64)

    def soft_threshold(self, c: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
        """Complex soft-thresholding of the detail coefficients, in place.

        Parameters
        ----------
        c : ndarray, shape (..., Hp, Wp)
            C-contiguous complex coefficients (Mallat layout); overwritten.
        threshold : float or ndarray
            Non-negative threshold, one value or one per image.

        Returns
        -------
        ndarray
            ``c``.
        """
        if c.dtype.kind != "c" or not c.flags.c_contiguous:
            raise ValueError("soft_threshold works in place on C-contiguous complex coefficients")
        images = c.reshape(-1, *self.padded_shape)
        thresholds = per_image_thresholds(threshold, images.shape[0], c.real.dtype)
        dwt.soft_threshold_details(images, thresholds, *self.approx_shape)
        return c

    def prox_shifted(
        self,
        v: np.ndarray,
        threshold: float | np.ndarray,
        shifts: list[tuple[int, int]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Prox of ``threshold * ||detail(W S_s x)||_1`` with a circular shift per image.

        ``x = S^-1 prox(S v)`` with ``S`` the ``np.roll`` by ``shifts[s]`` of image ``s``
        (cycle spinning; no shift when ``shifts`` is None).  Same result as
        :meth:`prox` on rolled copies; the roll is folded into the copy the
        in-place transform needs anyway.

        Parameters
        ----------
        v : ndarray of complex64 or complex128, shape (S, Hp, Wp)
            Padded input (the precision is kept).
        threshold : float or ndarray
            Non-negative threshold, one or one per image.
        shifts : list of (int, int), optional
            Circular shift of each image.

        Returns
        -------
        x : ndarray, shape like ``v``
            The prox.
        l1 : ndarray, shape (S,)
            l1 norm of the soft-thresholded detail coefficients (float64).
        """
        dtype = np.complex128 if v.dtype == np.complex128 else np.complex64
        real = np.float64 if dtype == np.complex128 else np.float32
        lo, hi = self._filters[real]
        if shifts is None:
            work = np.array(v, dtype=dtype, order="C", copy=True)
        else:
            offsets = np.asarray(shifts, dtype=np.int64).reshape(len(v), 2)
            work = dwt.roll_images(np.ascontiguousarray(v, dtype=dtype), offsets, 1,
                                   np.empty(v.shape, dtype=dtype))
        dwt.analysis_inplace(work, lo, hi, self.levels)
        thresholds = per_image_thresholds(np.maximum(threshold, 0.0), len(work), real)
        l1 = dwt.soft_threshold_details(work, thresholds, *self.approx_shape)
        dwt.synthesis_inplace(work, lo, hi, self.levels)
        if shifts is None:
            return work, l1
        return dwt.roll_images(work, offsets, -1, np.empty_like(work)), l1

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
