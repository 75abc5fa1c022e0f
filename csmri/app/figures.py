"""Figures written by the command line (matplotlib, Agg backend, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_montage(
    path: str | Path, images: np.ndarray, title: str = "", max_slices: int = 16
) -> None:
    """Save up to ``max_slices`` magnitude images as one grayscale PNG grid.

    Parameters
    ----------
    path : str or Path
        Destination ``.png`` (written as is; wrap in :func:`csmri.io.atomic.atomic_path`).
    images : ndarray, shape (S, H, W)
        Magnitude images.
    title : str
        Figure title.
    max_slices : int
        Largest number of panels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = np.asarray(images)[:max_slices]
    count = images.shape[0]
    cols = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / cols))
    vmax = float(np.percentile(images, 99.5)) or 1.0
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.2 * cols, 2.2 * rows * images.shape[1] / images.shape[2])
    )
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, image in zip(np.atleast_1d(axes).ravel(), images, strict=False):
        ax.imshow(image, cmap="gray", vmin=0, vmax=vmax)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
