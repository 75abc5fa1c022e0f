"""Validate arrays read from any format: k-space, masks, coil maps and reference images.

Single-coil k-space is ``(S, H, W)`` with a ``(W,)`` column mask; multi-coil k-space is
``(S, C, H, W)`` with an ``(H, W)`` mask.  Each check returns the arrays in csmri's dtypes
and raises :class:`csmri.errors.InputError` naming the file for anything unusable.
"""

from __future__ import annotations

import numpy as np

from csmri.errors import InputError

MIN_SIDE = 8

def infer_mask(kspace: np.ndarray) -> np.ndarray:
    """Columns with any non-zero sample in any slice or row.

    Parameters
    ----------
    kspace : ndarray, shape (S, H, W)
        k-space stack.

    Returns
    -------
    ndarray of bool, shape (W,)
        Inferred column mask.
    """
    return np.any(kspace != 0, axis=(0, 1))

def validate_kspace(
    kspace: np.ndarray, mask: np.ndarray | None, path: object = None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Check dtype, rank, size, finiteness and the mask; return ``(kspace, mask, inferred)``.

    Parameters
    ----------
    kspace : ndarray
        Candidate k-space, ``(S, H, W)`` or ``(H, W)``.
    mask : ndarray or None
        Candidate column mask; inferred from the data when None.
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    tuple
        k-space as complex64 ``(S, H, W)``, mask as bool ``(W,)``, and whether it was inferred.
    """
    kspace = np.asanyarray(kspace)
    if kspace.dtype.kind != "c":
        raise InputError(f"k-space must be complex, got {kspace.dtype}", path)
    if kspace.ndim == 2:
        kspace = kspace[np.newaxis]
    if kspace.ndim == 4:
        raise InputError(
            f"multi-coil k-space {kspace.shape} where single-coil (slices, H, W) is expected",
            path,
        )
    if kspace.ndim != 3:
        raise InputError(f"k-space must have shape (slices, H, W), got {kspace.shape}", path)
    if min(kspace.shape[-2:]) < MIN_SIDE:
        raise InputError(f"k-space of {kspace.shape[-2]}x{kspace.shape[-1]} is too small", path)
    if kspace.shape[0] == 0:
        raise InputError("k-space has no slices", path)
    with np.errstate(all="ignore"):  # complex128 beyond float32 range becomes inf: refused below
        kspace = np.asarray(kspace, dtype=np.complex64)
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf", path)
    inferred = mask is None
    if inferred:
        mask = infer_mask(kspace)
    else:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biuf":
            raise InputError(f"mask must be boolean or real numbers, got {mask.dtype}", path)
        if mask.ndim != 1 and mask.size == kspace.shape[-1]:
            mask = mask.reshape(-1)
        if mask.ndim != 1 or mask.size != kspace.shape[-1]:
            raise InputError(
                f"mask of shape {mask.shape} does not match k-space width {kspace.shape[-1]}", path
            )
        if not np.isfinite(mask.astype(np.float64)).all():
            raise InputError("mask contains NaN or Inf", path)
        mask = mask != 0
    if not mask.any():
        raise InputError("mask samples no column (all zero)", path)
    return kspace, mask, inferred

def validate_multicoil(
    kspace: np.ndarray,
    mask: np.ndarray | None = None,
    maps: np.ndarray | None = None,
    path: object = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """Check a multi-coil stack, its mask and maps; return ``(kspace, mask, maps, inferred)``.

    Parameters
    ----------
    kspace : ndarray, shape (S, C, H, W) or (C, H, W)
        Candidate k-space (complex).
    mask : ndarray, optional
        ``(W,)`` column mask or ``(H, W)``; inferred from non-zero samples when None.
    maps : ndarray, optional
        Coil maps ``(S, C, H, W)`` or ``(C, H, W)`` (shared by all slices).
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    tuple
        k-space complex64 ``(S, C, H, W)``, mask bool ``(H, W)``, maps complex64
        ``(S, C, H, W)`` or None, and whether the mask was inferred.
    """
    kspace = np.asanyarray(kspace)
    if kspace.dtype.kind != "c":
        raise InputError(f"k-space must be complex, got {kspace.dtype}", path)
    if kspace.ndim == 3:
        kspace = kspace[np.newaxis]
    if kspace.ndim != 4:
        raise InputError(
            f"multi-coil k-space must have shape (slices, coils, H, W), got {kspace.shape}", path
        )
    s, c, h, w = kspace.shape
    if min(h, w) < MIN_SIDE:
        raise InputError(f"k-space of {h}x{w} is too small", path)
    if s == 0 or c == 0:
        raise InputError(f"k-space of shape {kspace.shape} has no slices or no coils", path)
    with np.errstate(all="ignore"):
        kspace = np.asarray(kspace, dtype=np.complex64)
    if not np.isfinite(kspace).all():
        raise InputError("k-space contains NaN or Inf", path)
    inferred = mask is None
    if inferred:
        mask = np.any(kspace != 0, axis=(0, 1))
    else:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biuf":
            raise InputError(f"mask must be boolean or real numbers, got {mask.dtype}", path)
        mask = np.squeeze(mask) if mask.size in (w, h * w) else mask
        if mask.shape == (w,):
            mask = np.broadcast_to(mask[np.newaxis], (h, w))
        if mask.shape != (h, w):
            raise InputError(
                f"mask of shape {mask.shape} matches neither the k-space width {w} "
                f"nor its {h}x{w} slices",
                path,
            )
        if not np.isfinite(mask.astype(np.float64)).all():
            raise InputError("mask contains NaN or Inf", path)
        mask = np.ascontiguousarray(mask != 0)
    if not mask.any():
        raise InputError("mask samples nothing (all zero)", path)
    return kspace, mask, check_maps(maps, kspace.shape, path), inferred

def check_maps(
    maps: np.ndarray | None, shape: tuple[int, int, int, int], path: object = None
) -> np.ndarray | None:
    """Check coil maps against a k-space shape ``(S, C, H, W)``; broadcast shared maps.

    Parameters
    ----------
    maps : ndarray or None
        ``(S, C, H, W)``, or ``(C, H, W)`` for maps shared by every slice.
    shape : tuple of int
        The k-space shape.
    path : path-like, optional
        File named in error messages.

    Returns
    -------
    ndarray of complex64, shape (S, C, H, W), or None
        The maps.
    """
    if maps is None:
        return None
    maps = np.asanyarray(maps)
    s, c, h, w = shape
    if maps.dtype.kind not in "fc":
        raise InputError(f"coil maps must be complex or real numbers, got {maps.dtype}", path)
    if maps.ndim == 3:
        maps = maps[np.newaxis]
    if maps.ndim != 4 or maps.shape[-2:] != (h, w):
        raise InputError(
            f"coil maps of shape {maps.shape} do not fit k-space {shape}: "
            f"expected (slices, coils, {h}, {w})",
            path,
        )
    if maps.shape[1] != c:
        raise InputError(f"coil maps have {maps.shape[1]} coils, the k-space has {c}", path)
    if maps.shape[0] not in (1, s):
        raise InputError(f"coil maps have {maps.shape[0]} slices, the k-space has {s}", path)
    with np.errstate(all="ignore"):
        maps = np.asarray(maps, dtype=np.complex64)
    if not np.isfinite(maps).all():
        raise InputError("coil maps contain NaN or Inf", path)
    return np.ascontiguousarray(np.broadcast_to(maps, shape))

def check_header_matrices(
    encoded: tuple[int, ...] | None, recon: tuple[int, ...] | None, path: object = None
) -> None:
    """Refuse a header whose recon matrix is larger than its own encoded matrix.

    Sizes that do not fit the *data* are the data's call (a warning, the data decide); a
    header that contradicts *itself* cannot be used to crop anything.

    Parameters
    ----------
    encoded, recon : tuple of int or None
        ``(readout, phase)`` sizes from the header.
    path : path-like, optional
        File named in the error.
    """
    if encoded is None or recon is None:
        return
    if recon[0] > encoded[0] or recon[1] > encoded[1]:
        raise InputError(
            f"header recon matrix {recon[0]}x{recon[1]} is larger than its encoded matrix "
            f"{encoded[0]}x{encoded[1]}",
            path,
        )


def validate_target(
    target: np.ndarray | None, kspace: np.ndarray, path: object
) -> np.ndarray | None:
    """A stored target as float32 magnitudes ``(S, h, w)`` that fit the k-space slices, or None."""
    if target is None:
        return None
    target = np.asanyarray(target)
    if target.dtype.kind not in "biufc":
        raise InputError(f"target must be numeric, got {target.dtype}", path)
    if target.ndim == 2:
        target = target[np.newaxis]
    if target.ndim != 3 or target.shape[0] != kspace.shape[0]:
        raise InputError(
            f"target of shape {target.shape} does not match {kspace.shape[0]} k-space slices", path
        )
    if target.shape[1] > kspace.shape[1] or target.shape[2] > kspace.shape[2]:
        raise InputError(
            f"target of {target.shape[1]}x{target.shape[2]} cannot be cropped from "
            f"{kspace.shape[1]}x{kspace.shape[2]} images",
            path,
        )
    with np.errstate(all="ignore"):  # overflow becomes inf, refused below
        target = np.abs(target).astype(np.float32)
    if not np.isfinite(target).all():
        raise InputError("target contains NaN or Inf", path)
    return target
