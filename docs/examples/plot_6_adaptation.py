"""
Test-time adaptation to a scan's own k-space
============================================

A network trained on other brains can be fitted to each scan before reconstructing it
(Darestani, Liu and Heckel, ICML 2022): self-supervised steps on the scan's *measured*
k-space, with a seeded part of the measured columns held out for early stopping.  The
target is never used.  ``adapt_steps`` caps the steps (``csmri solve --adapt``); here a
few steps on one 8x slice of the sample, which the shipped U-Net never saw.
"""

import matplotlib.pyplot as plt
import numpy as np

import learned
from csmri.io.images import load_sample
from csmri.metrics import psnr
from csmri.mri.simulate import simulate

sim = simulate(load_sample()[6:7], acceleration=8, center_fraction=0.06, seed=0, noise=0.005)
target = sim.target[0]

plain = learned.reconstruct(sim.kspace, sim.mask)[0]
adapted = learned.reconstruct(sim.kspace, sim.mask, adapt_steps=20, adapt_seed=0)[0]
print(f"U-Net {psnr(target, plain):.2f} dB, adapted (at most 20 steps) "
      f"{psnr(target, adapted):.2f} dB")

fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
shown = [("target", target), (f"U-Net\n{psnr(target, plain):.2f} dB", plain),
         (f"adapted\n{psnr(target, adapted):.2f} dB", adapted),
         ("|adapted - U-Net|", np.abs(adapted - plain))]
for ax, (title, image) in zip(axes, shown, strict=True):
    ax.imshow(image, cmap="gray")
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()
plt.show()
