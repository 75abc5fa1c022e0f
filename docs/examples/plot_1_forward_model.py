"""
Forward model, masks and zero-filling
=====================================

Single-coil Cartesian MRI measures ``y = M F x``: the centred orthonormal 2-D FFT ``F``
of the image ``x``, then a mask ``M`` that keeps some phase-encoding columns.  csmri's
masks follow fastMRI's ``RandomMaskFunc`` and ``EquiSpacedMaskFunc`` (same seed, same
mask); the operator :class:`csmri.linop.Cartesian` is ``M F`` with its adjoint.
Zero-filling, ``F^H y``, is the baseline every method must beat.
"""

import matplotlib.pyplot as plt
import numpy as np

from csmri.io.images import load_sample
from csmri.linop import Cartesian, adjointness_test
from csmri.linop.fft import fft2c
from csmri.metrics import psnr
from csmri.mri.baseline import zero_filled
from csmri.mri.masks import make_mask

image = load_sample()[6]  # one 217 x 181 Colin27 slice that ships with csmri
kspace = fft2c(image.astype(np.complex64))
height, width = image.shape

# %%
# Two mask families at 4x: random columns and equispaced columns, both with a fully
# sampled centre of 8 % of the columns.
masks = {kind: make_mask(kind, width, 0.08, 4, seed=0) for kind in ("random", "equispaced")}
for kind, m in masks.items():
    print(f"{kind}: {m.mask.sum()} of {width} columns, realised acceleration "
          f"{m.realised_acceleration:.2f}, centre {m.num_low_frequencies} columns")

# %%
# The operator and its adjoint pass the dot-product test, ``<A x, y> = <x, A^H y>``.
op = Cartesian(masks["random"].mask)
print("adjointness error:", adjointness_test(op, (height, width)))

# %%
# Zero-filled images: random sampling spreads the aliasing as noise-like artefacts,
# equispaced sampling folds the image onto itself.
fig, axes = plt.subplots(2, 3, figsize=(9, 6))
axes[0, 0].imshow(image, cmap="gray")
axes[0, 0].set_title("image")
axes[1, 0].imshow(np.log(np.abs(kspace) + 1e-4 * np.abs(kspace).max()), cmap="gray")
axes[1, 0].set_title("log |k-space|")
for col, (kind, m) in enumerate(masks.items(), start=1):
    measured = kspace * m.mask
    recon = np.abs(zero_filled(measured[np.newaxis], m.mask))[0]
    axes[0, col].imshow(recon, cmap="gray")
    axes[0, col].set_title(f"zero-filled, {kind}\n{psnr(image, recon):.2f} dB")
    axes[1, col].imshow(np.broadcast_to(m.mask, (height, width)), cmap="gray", aspect="auto")
    axes[1, col].set_title(f"{kind} mask")
for ax in axes.flat:
    ax.set_axis_off()
fig.tight_layout()
plt.show()
