"""Periodic multi-level 2-D DWT kernels (Numba), equal to PyWavelets' ``periodization`` mode.

One analysis level filters a length-``n`` signal (``n`` even) with an orthogonal
filter pair ``lo``, ``hi`` of length ``F`` and keeps every second output:

``A[k] = sum_j lo[j] x[(2k + F/2 - j) mod n]``,  ``D[k] = sum_j hi[j] x[(2k + F/2 - j) mod n]``,

which is exactly ``pywt.dwt(x, wavelet, mode="periodization")`` (checked in the
tests for every filter length); synthesis is the transpose.  The 2-D transform
filters the columns, then the rows, and recurses on the top-left (approximation)
block, leaving the coefficients in PyWavelets' ``coeffs_to_array`` (Mallat) layout.

Why hand-written kernels rather than ``pywt.wavedec2``/``waverec2``: measured on
the 2-core development machine (320 x 320 ``complex64``, db4, 5 levels), PyWavelets
takes about 3 ms each way (it has no complex kernels, and the band lists are
packed into the layout and back), these kernels 0.5 ms each way.  Arrays are
processed as ``float32`` views of ``complex64`` data (the filters are real, so the
real and imaginary parts share every multiply) and every inner loop runs over
contiguous memory, so LLVM vectorises it; rows are shared among threads with
``prange``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from csmri.kernel import parallel_kernel


@nb.njit(cache=True, inline="always")
def _wrap(q: int, n: int) -> int:
    """``q mod n`` for ``q`` within a few periods of ``[0, n)`` (no integer division)."""
    while q < 0:
        q += n
    while q >= n:
        q -= n
    return q


@parallel_kernel()
def _analysis_columns(
    a: np.ndarray, h: int, w2: int, lo: np.ndarray, hi: np.ndarray, out: np.ndarray
) -> None:
    """Filter the columns of ``a[s, :h, :w2]``: ``A`` rows on top, ``D`` rows below, in ``out``."""
    n_slices = a.shape[0]
    taps = lo.shape[0]
    off = taps // 2
    half = h // 2
    for t in nb.prange(n_slices * half):
        s = t // half
        k = t - s * half
        out_lo = out[s, k, :w2]
        out_hi = out[s, half + k, :w2]
        out_lo[:] = 0.0
        out_hi[:] = 0.0
        for j in range(taps):
            row = a[s, _wrap(2 * k + off - j, h), :w2]
            cl = lo[j]
            ch = hi[j]
            for c in range(w2):
                out_lo[c] += cl * row[c]
                out_hi[c] += ch * row[c]


@parallel_kernel()
def _analysis_rows(
    src: np.ndarray, h: int, w: int, lo: np.ndarray, hi: np.ndarray, a: np.ndarray
) -> None:
    """Filter each row ``src[s, r, :2w]`` (``w`` complex samples); ``A | D`` into ``a[s, r]``."""
    n_slices = src.shape[0]
    taps = lo.shape[0]
    off = taps // 2
    half = w // 2
    # Even and odd samples, circularly padded so every tap reads a contiguous slice.
    pad_lo = (taps - off + 1) // 2 + 1
    n_pad = half + pad_lo + off // 2 + 1
    for t in nb.prange(n_slices * h):
        s = t // h
        r = t - s * h
        row = src[s, r]
        even = np.empty(2 * n_pad, dtype=row.dtype)
        odd = np.empty(2 * n_pad, dtype=row.dtype)
        for i in range(n_pad):
            q = _wrap(i - pad_lo, half)
            even[2 * i] = row[4 * q]
            even[2 * i + 1] = row[4 * q + 1]
            odd[2 * i] = row[4 * q + 2]
            odd[2 * i + 1] = row[4 * q + 3]
        out_lo = a[s, r, : 2 * half]
        out_hi = a[s, r, 2 * half : 4 * half]
        out_lo[:] = 0.0
        out_hi[:] = 0.0
        for j in range(taps):
            shift = off - j  # x[2k + shift]: even samples when shift is even
            if shift % 2 == 0:
                base = 2 * (shift // 2 + pad_lo)
                v = even[base : base + 2 * half]
            else:
                base = 2 * ((shift - 1) // 2 + pad_lo)
                v = odd[base : base + 2 * half]
            cl = lo[j]
            ch = hi[j]
            for q in range(2 * half):
                out_lo[q] += cl * v[q]
                out_hi[q] += ch * v[q]


@parallel_kernel()
def _synthesis_rows(
    a: np.ndarray, h: int, w: int, lo: np.ndarray, hi: np.ndarray, out: np.ndarray
) -> None:
    """Transpose of :func:`_analysis_rows`: ``a[s, r] = A | D`` into ``out[s, r, :2w]``."""
    n_slices = a.shape[0]
    taps = lo.shape[0]
    off = taps // 2
    half = w // 2
    pad_lo = off // 2 + 2
    n_pad = half + pad_lo + (taps - off) // 2 + 2
    for t in nb.prange(n_slices * h):
        s = t // h
        r = t - s * h
        row = a[s, r]
        approx = np.empty(2 * n_pad, dtype=row.dtype)
        detail = np.empty(2 * n_pad, dtype=row.dtype)
        for i in range(n_pad):
            q = _wrap(i - pad_lo, half)
            approx[2 * i] = row[2 * q]
            approx[2 * i + 1] = row[2 * q + 1]
            detail[2 * i] = row[2 * half + 2 * q]
            detail[2 * i + 1] = row[2 * half + 2 * q + 1]
        # x[2q + p] = sum over taps j of parity (F/2 - p): lo[j] A[q + m] + hi[j] D[q + m]
        even = np.zeros(2 * half, dtype=row.dtype)
        odd = np.zeros(2 * half, dtype=row.dtype)
        for j in range(taps):
            p = (off - j) % 2
            base = 2 * ((j - off + p) // 2 + pad_lo)
            va = approx[base : base + 2 * half]
            vd = detail[base : base + 2 * half]
            dst = even if p == 0 else odd
            cl = lo[j]
            ch = hi[j]
            for q in range(2 * half):
                dst[q] += cl * va[q] + ch * vd[q]
        row_out = out[s, r]
        for q in range(half):
            row_out[4 * q] = even[2 * q]
            row_out[4 * q + 1] = even[2 * q + 1]
            row_out[4 * q + 2] = odd[2 * q]
            row_out[4 * q + 3] = odd[2 * q + 1]


@parallel_kernel()
def _synthesis_columns(
    src: np.ndarray, h: int, w2: int, lo: np.ndarray, hi: np.ndarray, a: np.ndarray
) -> None:
    """Transpose of :func:`_analysis_columns`: ``src`` (``A`` on top, ``D`` below) into ``a``."""
    n_slices = src.shape[0]
    taps = lo.shape[0]
    off = taps // 2
    half = h // 2
    for t in nb.prange(n_slices * h):
        s = t // h
        r = t - s * h
        out = a[s, r, :w2]
        out[:] = 0.0
        for j in range((off - r) % 2, taps, 2):
            k = _wrap((r - off + j) // 2, half)
            va = src[s, k, :w2]
            vd = src[s, half + k, :w2]
            cl = lo[j]
            ch = hi[j]
            for c in range(w2):
                out[c] += cl * va[c] + ch * vd[c]


@parallel_kernel()
def roll_images(src: np.ndarray, shifts: np.ndarray, sign: int, dst: np.ndarray) -> np.ndarray:
    """``dst[s] = np.roll(src[s], sign * shifts[s], axis=(0, 1))`` for each image, rows in parallel.

    Parameters
    ----------
    src, dst : ndarray, shape (S, H, W)
        Images and the output (same dtype, not overlapping).
    shifts : ndarray of int64, shape (S, 2)
        Circular shift of each image along rows and columns.
    sign : int
        1 to shift, -1 to shift back.

    Returns
    -------
    ndarray
        ``dst``.
    """
    n_slices, h, w = src.shape
    for t in nb.prange(n_slices * h):
        s = t // h
        r = t - s * h
        a = (sign * shifts[s, 0]) % h
        b = (sign * shifts[s, 1]) % w
        row = src[s, (r - a) % h]
        out = dst[s, r]
        out[b:] = row[: w - b]
        out[:b] = row[w - b :]
    return dst


def filters(wavelet: object, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Decomposition filters of a ``pywt.Wavelet`` as real arrays ``(lo, hi)`` of ``dtype``."""
    return np.asarray(wavelet.dec_lo, dtype=dtype), np.asarray(wavelet.dec_hi, dtype=dtype)


def _check(c: np.ndarray, lo: np.ndarray, levels: int) -> None:
    if c.dtype.kind != "c" or c.ndim != 3 or not c.flags.c_contiguous:
        raise ValueError("expected a C-contiguous complex array of shape (S, H, W)")
    if lo.dtype != c.real.dtype:
        raise ValueError(f"filters of dtype {lo.dtype} for {c.dtype} data")
    h, w = c.shape[-2:]
    if h % 2**levels or w % 2**levels:
        raise ValueError(f"{h}x{w} is not divisible by 2**{levels}")


def analysis_inplace(c: np.ndarray, lo: np.ndarray, hi: np.ndarray, levels: int) -> np.ndarray:
    """Multi-level periodic 2-D DWT of ``c`` in place (Mallat layout).

    Parameters
    ----------
    c : ndarray of complex64 or complex128, shape (S, H, W)
        C-contiguous images, ``H`` and ``W`` divisible by ``2**levels``; overwritten.
    lo, hi : ndarray
        Orthogonal decomposition filters of ``c``'s real dtype (see :func:`filters`).
    levels : int
        Decomposition levels.

    Returns
    -------
    ndarray
        ``c``, now holding the coefficients.
    """
    _check(c, lo, levels)
    a = c.view(c.real.dtype)
    scratch = np.empty_like(a)
    h, w = c.shape[-2:]
    for _ in range(levels):
        _analysis_columns(a, h, 2 * w, lo, hi, scratch)
        _analysis_rows(scratch, h, w, lo, hi, a)
        h //= 2
        w //= 2
    return c


def synthesis_inplace(c: np.ndarray, lo: np.ndarray, hi: np.ndarray, levels: int) -> np.ndarray:
    """Inverse (= adjoint) of :func:`analysis_inplace`, in place.

    Parameters
    ----------
    c : ndarray of complex64 or complex128, shape (S, H, W)
        C-contiguous coefficients in the Mallat layout; overwritten.
    lo, hi : ndarray
        The decomposition filters used for the analysis.
    levels : int
        Decomposition levels.

    Returns
    -------
    ndarray
        ``c``, now holding the images.
    """
    _check(c, lo, levels)
    a = c.view(c.real.dtype)
    scratch = np.empty_like(a)
    height, width = c.shape[-2:]
    for level in range(levels - 1, -1, -1):
        h, w = height >> level, width >> level
        _synthesis_rows(a, h, w, lo, hi, scratch)
        _synthesis_columns(scratch, h, 2 * w, lo, hi, a)
    return c


@parallel_kernel(fastmath={"reassoc"})
def soft_threshold_details(c: np.ndarray, thresholds: np.ndarray, ah: int, aw: int) -> np.ndarray:
    """Complex soft-thresholding of all but the top-left ``ah x aw`` block, in place.

    Parameters
    ----------
    c : ndarray of complex64 or complex128, shape (S, H, W)
        Coefficients (Mallat layout); overwritten.
    thresholds : ndarray, shape (S,)
        Non-negative threshold per image, of ``c``'s real dtype.
    ah, aw : int
        Shape of the approximation block, left untouched.

    Returns
    -------
    ndarray of float64, shape (S,)
        l1 norm (complex modulus) of the thresholded detail coefficients per image.
    """
    n_slices, h, _ = c.shape
    rows = np.zeros(n_slices * h)
    for t in nb.prange(n_slices * h):
        s = t // h
        r = t - s * h
        threshold = thresholds[s]
        zero = threshold - threshold
        row = c[s, r, aw:] if r < ah else c[s, r]
        total = 0.0
        # Branch-free (selects), so that the loop vectorises; reassociated sum.
        for q in range(row.shape[0]):
            v = row[q]
            mag = np.sqrt(v.real * v.real + v.imag * v.imag)
            kept = mag - threshold if mag > threshold else zero
            row[q] = v * (kept / mag if mag > threshold else zero)
            total += kept
        rows[t] = total
    return rows.reshape(n_slices, h).sum(axis=1)
