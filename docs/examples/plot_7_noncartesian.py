"""
Radial k-space: gridding, CS through the NUFFT, and the learned methods
=======================================================================

Golden-angle radial sampling is incoherent by construction, the setting where compressed
sensing is at home.  The forward operator is :class:`csmri.linop.NUFFT` (BART's units: k
in pixels); zero-filling becomes *gridding*, the density-compensated adjoint
``A^H D y`` with Pipe-Menon weights.  The same TV solver that runs on Cartesian masks runs
here, and the shipped networks, trained on Cartesian column masks, run unchanged: the U-Net
on the gridding image, the unrolled network with density-preconditioned NUFFT data
consistency.  They were never trained on radial streaks, and it shows.
"""

import matplotlib.pyplot as plt

from csmri.app.methods import CompressedSensing, ZeroFilled
from csmri.io.images import load_sample
from csmri.metrics import psnr
from csmri.mri.noncartesian_sim import simulate_noncartesian
from learned.method import UnetMethod, UnrolledMethod

# %%
# One Colin27 slice, 4x below radial Nyquist (``pi/2 N`` spokes), golden-angle order.
acq = simulate_noncartesian(load_sample()[6:7], "golden", acceleration=4, seed=0, noise=0.005)
kspace, sampling, _ = acq.solver_inputs()
print(f"{sampling.samples[1]} spokes of {sampling.samples[0]} samples, matrix {sampling.matrix}")

# %%
# Gridding, TV through the NUFFT (ADMM, conjugate-gradient data step), and the networks.
methods = [ZeroFilled(), CompressedSensing(reg="tv", lam=0.003, max_iter=30),
           UnetMethod.load(None, "cpu"), UnrolledMethod.load(None, "cpu")]
images = {m.name: m.run(kspace, sampling).images[0] for m in methods}

fig, axes = plt.subplots(1, 5, figsize=(13, 3))
axes[0].imshow(acq.reference[0], cmap="gray")
axes[0].set_title("reference")
for ax, (name, image) in zip(axes[1:], images.items(), strict=True):
    ax.imshow(image, cmap="gray")
    ax.set_title(f"{name}\n{psnr(acq.reference, image[None]):.2f} dB")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()
plt.show()
