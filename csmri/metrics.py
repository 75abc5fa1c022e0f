"""Image quality metrics exactly as fastMRI's ``evaluate.py`` defines them.

All functions take magnitude volumes of shape ``(S, H, W)`` (a 2-D image is
treated as one slice).  PSNR and SSIM use ``data_range = target.max()`` over the
whole volume.  PSNR is ``10 log10(data_range^2 / MSE)`` and SSIM is scikit-image's
``structural_similarity`` per slice (7x7 uniform window, sample covariances,
``K1 = 0.01``, ``K2 = 0.03``, as fastMRI calls it), averaged over slices.  Both
formulas are written out in NumPy (the tests check them against scikit-image):
scikit-image's SSIM imports ``scipy.ndimage`` and filters the whole image, and
scoring an 8-slice 320 x 320 volume took longer than a tenth of ``csmri solve``'s
start.  scikit-image averages the SSIM map without a 3-pixel border, so only the
windows that lie wholly inside the image count, and a box sum over those
(integral images) gives the same numbers.
"""

from __future__ import annotations

import numpy as np

from csmri.mri.matrix import center_crop  # fastMRI's rule, the one definition


def _as_volume(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    return array[np.newaxis] if array.ndim == 2 else array


def _same_shape_volumes(target: np.ndarray, recon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    target, recon = _as_volume(target), _as_volume(recon)
    if target.shape != recon.shape:
        raise ValueError(f"target {target.shape} and reconstruction {recon.shape} differ in shape")
    return target, recon


def nmse(target: np.ndarray, recon: np.ndarray) -> float:
    """Normalised mean squared error ``||recon - target||^2 / ||target||^2`` over the volume.

    Parameters
    ----------
    target, recon : ndarray, shape (S, H, W) or (H, W)
        Reference and reconstruction.

    Returns
    -------
    float
        NMSE (0 is perfect).
    """
    target, recon = _as_volume(target), _as_volume(recon)
    return float(np.linalg.norm(target - recon) ** 2 / np.linalg.norm(target) ** 2)


def psnr(target: np.ndarray, recon: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB with ``data_range = target.max()``.

    Parameters
    ----------
    target, recon : ndarray, shape (S, H, W) or (H, W)
        Reference and reconstruction.

    Returns
    -------
    float
        PSNR over the whole volume.
    """
    target, recon = _same_shape_volumes(target, recon)
    mse = np.mean((target - recon) ** 2)
    with np.errstate(divide="ignore"):  # identical images: inf, as scikit-image
        return float(10.0 * np.log10(float(target.max()) ** 2 / mse))


def ssim(target: np.ndarray, recon: np.ndarray) -> float:
    """Structural similarity: mean over slices, ``data_range = target.max()`` of the volume.

    Parameters
    ----------
    target, recon : ndarray, shape (S, H, W) or (H, W)
        Reference and reconstruction.

    Returns
    -------
    float
        Mean SSIM.
    """
    target, recon = _as_volume(target), _as_volume(recon)
    return float(np.mean(ssim_per_slice(target, recon, data_range=target.max())))


def ssim_per_slice(
    target: np.ndarray, recon: np.ndarray, data_range: float | None = None
) -> np.ndarray:
    """SSIM of each slice, with the volume's ``data_range`` unless one is given.

    Parameters
    ----------
    target, recon : ndarray, shape (S, H, W) or (H, W)
        Reference and reconstruction.
    data_range : float, optional
        Dynamic range; ``target.max()`` over the volume by default.

    Returns
    -------
    ndarray, shape (S,)
        Per-slice SSIM.
    """
    target, recon = _same_shape_volumes(target, recon)
    if min(target.shape[-2:]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels")
    data_range = float(target.max()) if data_range is None else float(data_range)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _window_means(target), _window_means(recon)
    # Sample (co)variances, as scikit-image's default use_sample_covariance=True.
    unbias = SSIM_WINDOW**2 / (SSIM_WINDOW**2 - 1.0)
    vx = unbias * (_window_means(target * target) - mx * mx)
    vy = unbias * (_window_means(recon * recon) - my * my)
    vxy = unbias * (_window_means(target * recon) - mx * my)
    ssim_map = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    # Slice by slice, so that a slice's value does not depend on the others in the batch.
    return np.array([m.mean() for m in ssim_map])


SSIM_WINDOW = 7
"""Side of SSIM's uniform window (scikit-image's and fastMRI's)."""


def _window_means(x: np.ndarray) -> np.ndarray:
    """Means of every ``SSIM_WINDOW`` square window wholly inside each image (integral images)."""
    n = SSIM_WINDOW
    total = np.zeros((x.shape[0], x.shape[1] + 1, x.shape[2] + 1))
    np.cumsum(x, axis=1, out=total[:, 1:, 1:])
    np.cumsum(total[:, 1:, 1:], axis=2, out=total[:, 1:, 1:])
    sums = total[:, n:, n:] - total[:, :-n, n:] - total[:, n:, :-n] + total[:, :-n, :-n]
    return sums / (n * n)


def evaluate(target: np.ndarray, recon: np.ndarray) -> dict[str, object]:
    """Volume metrics and per-slice values, after centre-cropping ``recon`` to the target.

    Parameters
    ----------
    target : ndarray, shape (S, h, w)
        Magnitude reference.
    recon : ndarray, shape (S, H, W)
        Magnitude (or complex: its magnitude is scored) reconstruction, ``H >= h``, ``W >= w``.

    Returns
    -------
    dict
        ``nmse``, ``psnr``, ``ssim`` (volume values, fastMRI definitions) and
        ``per_slice`` (a dict of lists; per-slice PSNR uses each slice's
        target maximum, per-slice SSIM the volume's ``data_range``).
    """
    target = _as_volume(target)
    recon = center_crop(_as_volume(np.abs(recon)), target.shape[-2:])
    if target.shape[0] != recon.shape[0]:
        raise ValueError(f"target has {target.shape[0]} slices, reconstruction {recon.shape[0]}")
    slice_ssim = ssim_per_slice(target, recon)
    return {
        "nmse": nmse(target, recon),
        "psnr": psnr(target, recon),
        "ssim": float(np.mean(slice_ssim)),
        "per_slice": {
            "nmse": [nmse(t, r) for t, r in zip(target, recon, strict=True)],
            "psnr": [psnr(t, r) for t, r in zip(target, recon, strict=True)],
            "ssim": slice_ssim.tolist(),
        },
    }


def score_line(target: np.ndarray, recon: np.ndarray, path: object = None) -> str:
    """``" | NMSE ...  PSNR ... dB  SSIM ..."``: the volume scores as ``csmri solve`` prints them.

    Parameters
    ----------
    target, recon : ndarray
        As :func:`evaluate`.
    path : path-like, optional
        File named when the two do not match.

    Raises
    ------
    InputError
        When :func:`evaluate` refuses the pair (the slice counts differ).
    """
    from csmri.errors import InputError

    try:
        scores = evaluate(target, recon)
    except ValueError as error:
        raise InputError(str(error), path) from None
    return f" | NMSE {scores['nmse']:.4f}  PSNR {scores['psnr']:.2f} dB  SSIM {scores['ssim']:.4f}"
