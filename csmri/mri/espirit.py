"""Coil sensitivity maps: ESPIRiT (Uecker et al. 2014) in torch, and a low-resolution fallback.

ESPIRiT, batched over slices, on the CPU or a GPU (the device follows ``device``):

1. the calibration matrix: every ``k x k`` patch of all coils in the fully
   sampled centre is a row;
2. its SVD; the right singular vectors with ``s > threshold * s_max`` span the
   signal space (the kernels);
3. the k-space projection ``x = (1/k^2) sum_p P_p^H V V^H P_p x`` is a
   convolution whose kernel ``h_ab(d)`` is the cross-correlation of the kernels;
   its image-space form is one ``C x C`` matrix per pixel,
   ``M(r) = sum_d h(d) exp(+2 pi i d.r / N)`` (a centred inverse FFT of the
   zero-padded ``h``), computed on a ``(2k-1)^2`` grid first, so memory is
   ``C^2 H W`` and never ``kernels x C x H x W``;
4. per pixel, the eigenvector of ``M(r)`` with the largest eigenvalue (power
   iteration or batched ``eigh``) is the map; pixels whose eigenvalue is below ``crop`` are
   zeroed (default 0: none, see :data:`CROP`).

The phase of each map set is taken relative to the first principal component of
the calibration data's coils (as BART), so no arbitrary per-pixel eigenvector
phase is left: the same input gives the same maps on any device up to rounding
(tested on the CPU across batch sizes; the CUDA comparison test needs a GPU).
The leading eigenvector comes from 20 power iterations started at that principal
component (``eig_iter=0``: batched ``eigh``).  Maps have ``sum_c |S_c|^2 = 1``
where not cropped.

Why no crop by default: the eigenvalue inside the object falls below 1 where the calibration
region is narrow (few kernel positions), and with a 2x oversampled readout the image-space
transition at the object's edge is twice as wide in object pixels, so a hard crop at 0.8 cuts
into the bright scalp.  Data from zeroed pixels are outside the range of the SENSE operator;
the least-squares fit spreads them over the object as aliasing that grows with the iterations.
Uncropped maps (unit norm everywhere) cost nothing in the background (noise eigenvectors) and
were better at every crop level measured on the real brain (0.8/0.6/0.4/0.2/0: 20.2/26.7/28.2/
28.4/28.7 dB, 8 coils, 2x oversampled, 4x; 27.4 -> 29.1 dB without oversampling).
"""

from __future__ import annotations

import math

import numpy as np

from csmri.errors import InputError
from csmri.mri.fft import ifft2c

KERNEL = 6
CALIB = 24
THRESHOLD = 0.02
CROP = 0.0
"""Default crop: none.  BART's ``-c 0.8`` zeroed the maps on 6% of the object's pixels of a real
8-coil brain with a 2x oversampled readout and a 10-column calibration (fastMRI layout, 4x), which
the SENSE model then cannot represent; SENSE-TV fell below zero-filled RSS as it iterated
(``tests/test_sense_real_oversampled.py``)."""
EIG_ITER = 20
PIXEL_CHUNK = 1 << 14  # pixels per batched eigh call: bounds its workspace


def calibration_region(mask: np.ndarray, calib: int = CALIB) -> tuple[int, int]:
    """Size ``(rows, columns)`` of the fully sampled centred block, at most ``calib`` each way.

    Parameters
    ----------
    mask : ndarray of bool, shape (H, W)
        Sampling mask (centred k-space).
    calib : int
        Largest calibration size per axis (BART's ``-r``).

    Returns
    -------
    tuple of int
        Rows and columns of the largest centred fully sampled rectangle, each capped.
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    limits = (min(h, calib), min(w, calib))

    def full(rows: int, cols: int) -> bool:
        top, left = h // 2 - rows // 2, w // 2 - cols // 2
        return bool(mask[top : top + rows, left : left + cols].all())

    if not mask[h // 2, w // 2]:
        return 0, 0
    size = [1, 1]
    growing = [True, True]
    while any(growing):
        for axis in (0, 1):
            trial = list(size)
            trial[axis] += 1
            if growing[axis] and trial[axis] <= limits[axis] and full(*trial):
                size = trial
            else:
                growing[axis] = False
    return size[0], size[1]


def check_calibration(
    mask: np.ndarray, kernel: int = KERNEL, calib: int = CALIB, path: object = None
) -> tuple[int, int]:
    """Refuse a calibration region too small for ESPIRiT, saying what is needed.

    ESPIRiT needs at least ``kernel + 4`` fully sampled centre lines both ways
    (enough patches for the calibration matrix to separate signal from null space).

    Returns
    -------
    tuple of int
        The calibration region ``(rows, columns)``.
    """
    rows, cols = calibration_region(mask, calib)
    need = kernel + 4
    if min(rows, cols) < need:
        raise InputError(
            f"calibration region too small for ESPIRiT: {rows}x{cols} fully sampled centre "
            f"samples, need at least {need} centre lines each way (kernel {kernel}); "
            "use --maps lowres for the low-resolution fallback",
            path,
        )
    return rows, cols


def _torch_input(kspace, device):
    import torch

    x = torch.as_tensor(np.ascontiguousarray(kspace)) if isinstance(kspace, np.ndarray) else kspace
    return x.to(device=device, dtype=torch.complex64)


def _centre(x, rows: int, cols: int):
    h, w = x.shape[-2:]
    top, left = h // 2 - rows // 2, w // 2 - cols // 2
    return x[..., top : top + rows, left : left + cols]


def espirit(
    kspace,
    mask: np.ndarray,
    kernel: int = KERNEL,
    calib: int = CALIB,
    threshold: float = THRESHOLD,
    crop: float = CROP,
    device: str = "cpu",
    path: object = None,
    eig_iter: int = EIG_ITER,
):
    """ESPIRiT maps for a batch of slices.

    Parameters
    ----------
    kspace : ndarray or torch.Tensor, shape (S, C, H, W)
        Centred multi-coil k-space.
    mask : ndarray of bool, shape (H, W)
        Sampling mask (finds the calibration region).
    kernel : int
        Kernel size (BART's ``-k``).
    calib : int
        Largest calibration size per axis (BART's ``-r``).
    threshold : float
        Singular values above ``threshold * s_max`` span the signal space.
    crop : float
        Zero the maps where the largest eigenvalue is below this (BART's ``-c``; default 0,
        no crop: see the module docstring).
    device : str
        Torch device (``"cpu"``, ``"cuda"``).
    path : path-like, optional
        File named in error messages.
    eig_iter : int
        Power iterations per pixel for the leading eigenvector, started from the
        calibration data's first principal coil combination (0: exact batched
        ``eigh``, about 10x slower on the CPU).

    Returns
    -------
    torch.Tensor of complex64, shape (S, C, H, W)
        Maps on ``device``.
    """
    import torch

    rows, cols = check_calibration(mask, kernel, calib, path)
    x = _torch_input(kspace, device)
    s, c, h, w = x.shape
    cal = _centre(x, rows, cols)
    patches = cal.unfold(2, kernel, 1).unfold(3, kernel, 1)  # S, C, pr, pc, k, k
    a = patches.permute(0, 2, 3, 1, 4, 5).reshape(s, -1, c * kernel * kernel)
    sv, vh = _right_singular(a)
    keep = (sv > threshold * sv[:, :1]).to(vh.dtype)
    v = (vh * keep[..., None]).reshape(s, -1, c, kernel, kernel)
    size = 2 * kernel - 1
    vf = torch.fft.fft2(v, s=(size, size))
    # h_ab(d) = 1/k^2 sum_k sum_t v_ka(t + d) conj(v_kb(t)): cross-correlation via the FFT
    hf = torch.einsum("snaxy,snbxy->sabxy", vf, vf.conj()) / (kernel * kernel)
    hk = torch.fft.fftshift(torch.fft.ifft2(hf), dim=(-2, -1))  # d = 0 at index k - 1
    del vf, hf
    m = _image_space(hk.to(torch.complex64), h, w).reshape(s, h * w, c, c)  # S, P, C, C
    if eig_iter > 0:
        maps, values = _power_iteration(m, _principal(cal), eig_iter)
    else:
        m = 0.5 * (m + m.conj().transpose(-2, -1))
        maps = torch.empty((s, h * w, c), dtype=torch.complex64, device=x.device)
        values = torch.empty((s, h * w), dtype=torch.float32, device=x.device)
        for start in range(0, h * w, PIXEL_CHUNK):
            part = slice(start, min(start + PIXEL_CHUNK, h * w))
            evals, evecs = torch.linalg.eigh(m[:, part])
            values[:, part] = evals[..., -1]
            maps[:, part] = evecs[..., -1]
    del m
    maps = _fix_phase(maps, cal)
    maps = maps * (values >= crop)[..., None]
    return maps.reshape(s, h, w, c).permute(0, 3, 1, 2).contiguous()


def _right_singular(a):
    """Singular values (descending) and right singular vectors (rows) of ``a`` ``(S, N, K)``.

    From the eigendecomposition of the ``K x K`` Gram matrix, accumulated in double
    precision (the span of the kept vectors is what matters: the maps agree with the SVD's
    to 1e-4; about 5x faster than the SVD of ``a`` for 8 coils).
    """
    import torch

    gram = (a.mH.to(torch.complex128) @ a.to(torch.complex128)).to(a.dtype)
    values, vectors = torch.linalg.eigh(gram)
    sv = values.flip(-1).clamp_min(0).sqrt().to(torch.float32)
    return sv, vectors.flip(-1).mH.to(a.dtype).resolve_conj()


def _image_space(hk, h: int, w: int):
    """``M(r) = sum_d h(d) exp(+2 pi i d.r / N)`` on the centred grid, ``(S, H, W, C, C)``.

    ``hk`` ``(S, C, C, 2k-1, 2k-1)`` holds ``d = -(k-1) .. k-1`` per axis: a small DFT as two
    matrix products, the same as the centred inverse FFT of the zero-padded kernel (times
    ``sqrt(H W)``) without the ``C`` full-size FFTs and shifts.
    """
    import torch

    size = hk.shape[-1]
    d = torch.arange(size, device=hk.device, dtype=torch.float64) - (size - 1) // 2

    def ramp(n: int):
        r = torch.arange(n, device=hk.device, dtype=torch.float64) - n // 2
        return torch.polar(torch.ones(n, size, dtype=torch.float64, device=hk.device),
                           2 * math.pi * r[:, None] * d[None, :] / n).to(hk.dtype)

    return torch.einsum("yi,sabij,xj->syxab", ramp(h), hk, ramp(w))


def _principal(cal):
    """First principal coil combination of the calibration data, ``(S, C)``."""
    import torch

    s, c = cal.shape[:2]
    coils = cal.reshape(s, c, -1)
    return torch.linalg.eigh(coils @ coils.conj().transpose(-2, -1))[1][..., -1]


def _power_iteration(m, start, iters: int):
    """Leading eigenvectors ``(S, P, C)`` and eigenvalues ``(S, P)`` of ``m`` ``(S, P, C, C)``.

    Batched matrix-vector products (measured 2-3x faster than batched ``eigh`` for
    8 coils at 230 x 180 with 20 steps), started from the principal coil combination.
    """
    import torch

    def normalised(v):
        norm = torch.view_as_real(v).square().sum(dim=(-3, -1)).sqrt()[..., None, :]
        return v / norm.clamp_min(1e-30)

    v = start[:, None, :, None].expand(*m.shape[:-1], 1).contiguous()
    for step in range(iters):
        v = m @ v
        if step % 5 == 4 or step == iters - 1:  # eigenvalues <= ~1: no overflow in between
            v = normalised(v)
    value = (v.conj() * (m @ v)).sum(dim=(-2, -1)).real
    return v[..., 0], value


def _fix_phase(maps, cal):
    """Rotate each pixel's map so its projection on the first principal coil is real."""
    import torch

    principal = _principal(cal)  # S, C
    proj = torch.einsum("spc,sc->sp", maps, principal.conj())
    phase = torch.where(proj.abs() > 0, proj / proj.abs().clamp_min(1e-30), torch.ones_like(proj))
    return maps * phase.conj()[..., None]


def lowres_maps(kspace, mask: np.ndarray, calib: int = CALIB, device: str = "cpu"):
    """Low-resolution maps: the Hann-windowed k-space centre per coil, divided by its RSS.

    Works with any calibration region (the centre ``calib x calib`` block is
    used even if it is not fully sampled).

    Parameters
    ----------
    kspace : ndarray or torch.Tensor, shape (S, C, H, W)
        Centred multi-coil k-space.
    mask : ndarray, shape (H, W)
        Unused beyond its shape; kept for a uniform call.
    calib : int
        Width of the window (the smoothing).
    device : str
        Torch device.

    Returns
    -------
    torch.Tensor of complex64, shape (S, C, H, W)
        Maps with ``sum_c |S_c|^2 = 1`` wherever the coil images are non-zero.
    """
    import torch

    x = _torch_input(kspace, device)
    h, w = x.shape[-2:]
    wy = torch.zeros(h, device=x.device)
    wx = torch.zeros(w, device=x.device)
    ny, nx = min(calib, h), min(calib, w)
    wy[h // 2 - ny // 2 : h // 2 - ny // 2 + ny] = torch.hann_window(
        ny + 2, periodic=False, device=x.device
    )[1:-1]
    wx[w // 2 - nx // 2 : w // 2 - nx // 2 + nx] = torch.hann_window(
        nx + 2, periodic=False, device=x.device
    )[1:-1]
    images = ifft2c(x * (wy[:, None] * wx[None, :]))
    rss = images.abs().square().sum(dim=1, keepdim=True).sqrt()
    return images / rss.clamp_min(rss.max() * 1e-6)
