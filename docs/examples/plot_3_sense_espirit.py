"""
SENSE with ESPIRiT coil maps on a real 8-coil scan
==================================================

Multi-coil k-space is ``y_c = M F S_c x``: every coil sees the image through its own
sensitivity ``S_c``.  :func:`csmri.mri.coils.estimate_maps` estimates the maps from the
fully sampled centre (ESPIRiT, Uecker et al. 2014), and :func:`csmri.reconstruct` with
``maps=`` solves through :class:`csmri.linop.Sense`.  The data are a real 8-coil brain
scan from the SigPy MRI tutorial (BSD-3-Clause, in ``tests/data``), retrospectively
undersampled 4x; the reference is the coil-combined fully sampled image.
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import csmri
from csmri.linop import Sense
from csmri.metrics import psnr
from csmri.mri.coils import estimate_maps
from csmri.mri.masks import make_mask

# The gallery runs each script from docs/examples.
full = np.load(Path("../../tests/data/sigpy_cartesian_ksp.npy"))  # (8, 230, 180)
full = full / np.abs(full).max()
coils, height, width = full.shape
mask = make_mask("random", width, 0.08, 4, seed=0).mask
kspace = (full * mask)[np.newaxis].astype(np.complex64)  # (1, C, H, W)

# %%
# Maps from the undersampled data's centre; the reference combines the fully sampled
# coil images with the same maps (``S^H F^H y``).
maps = estimate_maps(kspace, np.broadcast_to(mask, (height, width)))
reference = np.abs(Sense(maps[0], np.ones(width, bool)).H @ full.astype(np.complex64))

adjoint = np.abs(Sense(maps[0], mask).H @ kspace[0])
tv = np.abs(csmri.reconstruct(kspace, mask, maps=maps, reg="tv", max_iter=30).images[0])

fig, axes = plt.subplots(1, 4, figsize=(12, 3.6))
shown = [("coil 1 sensitivity", np.abs(maps[0, 0])), ("reference (full)", reference),
         (f"SENSE adjoint\n{psnr(reference, adjoint):.2f} dB", adjoint),
         (f"SENSE + TV\n{psnr(reference, tv):.2f} dB", tv)]
for ax, (title, image) in zip(axes, shown, strict=True):
    ax.imshow(image, cmap="gray")
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()
plt.show()
