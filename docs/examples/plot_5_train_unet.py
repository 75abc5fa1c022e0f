"""
Training a small U-Net on your own images, split by subject
===========================================================

:func:`learned.train` trains on NIfTI volumes, folders of ``.png``/``.npy`` images or
fastMRI files, simulating undersampled k-space on the fly.  Validation holds out whole
*subjects*, never slices of a training subject: the subject is the file name up to its
first ``_`` (BIDS style, ``sub-01_T1w.npy`` is ``sub-01``).  The model file records a
training manifest (sources, split, a hash of every slice read) that the leak check of
``csmri compare`` reads.  Here four made-up "subjects" of 64 x 64 phantoms and a few
steps stand in for a real data set (the shipped models trained for over an hour).
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import ndimage

import learned
from csmri.io.images import shepp_logan
from csmri.metrics import psnr
from csmri.mri.baseline import zero_filled
from csmri.mri.simulate import simulate
from learned.data.manifest import leaked_slices

folder = Path(tempfile.mkdtemp())
phantom = shepp_logan(64)
rng = np.random.default_rng(0)
for subject in range(1, 5):  # each subject: 6 rotated, rescaled slices
    stack = np.stack([ndimage.rotate(phantom * rng.uniform(0.7, 1.3), rng.uniform(-30, 30),
                                     reshape=False, order=1) for _ in range(6)])
    np.save(folder / f"sub-0{subject}_T1w.npy", np.clip(stack, 0, None).astype(np.float32))

# %%
# One epoch of 8 steps on 48-pixel patches; one subject of four is held out.
config = learned.TrainConfig(
    data=[str(folder)], output=str(folder / "my_unet.safetensors"), epochs=1,
    steps_per_epoch=8, batch_size=4, patch=48, chans=8, depth=2, val_fraction=0.25,
    seed=0, progress=False, threads=1,
)
result = learned.train(config)
print(result.summary())
manifest = result.metadata["manifest"]
print("split:", manifest["split"])
held_out = [s["subject"] for s in manifest["sources"] if not s["train_slices"]]
print("validation subjects:", held_out)

# %%
# The leak check hashes every slice the training read, validation slices included (they
# were seen, if only to choose the best epoch).  Slices of a subject made after training
# are not in the manifest; score only data like that.
def make_subject(seed):
    gen = np.random.default_rng(seed)
    return np.stack([np.clip(ndimage.rotate(phantom * gen.uniform(0.7, 1.3),
                                            gen.uniform(-30, 30), reshape=False, order=1),
                             0, None).astype(np.float32) for _ in range(6)])


validation = np.load(folder / f"{held_out[0]}_T1w.npy")
unseen = make_subject(5)
print("validation slices in the manifest:", leaked_slices(manifest, validation))
print("new subject's slices in the manifest:", leaked_slices(manifest, unseen))

sim = simulate(unseen[:1], acceleration=4, center_fraction=0.08, seed=1)
recon = learned.reconstruct(sim.kspace, sim.mask, model=result.model_path)
zero = np.abs(zero_filled(sim.kspace, sim.mask))[0]
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, (title, image) in zip(axes, [("new subject", sim.target[0]),
                                     (f"zero-filled {psnr(sim.target[0], zero):.1f} dB", zero),
                                     (f"U-Net, 8 steps {psnr(sim.target[0], recon[0]):.1f} dB",
                                      recon[0])], strict=True):
    ax.imshow(image, cmap="gray")
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()
plt.show()
