"""Write the notebooks in ``notebooks/`` from the cell sources below (outputs left empty).

Keeping the sources here keeps the ``.ipynb`` files small and reviewable; run
``python scripts/build_notebooks.py`` after editing and commit both.
The test suite executes every notebook with ``CSMRI_QUICK=1`` (small settings).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parents[1] / "notebooks"

SETUP = """\
import os
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
QUICK = os.environ.get("CSMRI_QUICK") == "1"  # the test suite runs the notebooks small
"""

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_forward_model_and_masks.ipynb": [
        ("md", "# 1. The forward model and the masks\n\nA single-coil scanner measures "
               "`y = M F x`: the centred orthonormal 2-D FFT `F` of the complex image, "
               "restricted by a column mask `M`. This notebook shows k-space, the aliasing of "
               "zero-filled images, and how centre fraction and acceleration change it."),
        ("code", SETUP),
        ("code", """\
from csmri.data import load_sample
from csmri.fft import fft2c, ifft2c
from csmri.masks import make_mask
from csmri.simulate import simulate
from csmri.baseline import zero_filled
from csmri.metrics import psnr, ssim

image = load_sample()[6]
kspace = fft2c(image.astype(np.complex64))
print("image", image.shape, "Parseval:", np.linalg.norm(image), np.linalg.norm(kspace))
fig, ax = plt.subplots(1, 2, figsize=(7, 4))
ax[0].imshow(image, cmap="gray"); ax[0].set_title("Colin27 slice")
ax[1].imshow(np.log1p(np.abs(kspace)), cmap="gray"); ax[1].set_title("log |k-space|")
plt.show()"""),
        ("md", "## Masks with fastMRI's semantics\n`num_low = round(N * center_fraction)` "
               "centre columns; the rest drawn with probability "
               "`(N/R - num_low) / (N - num_low)`, seeded."),
        ("code", """\
rows = []
fig, axes = plt.subplots(2, 3, figsize=(10, 6))
for col, (accel, fraction) in enumerate([(4, 0.08), (8, 0.04), (8, 0.16)]):
    mask = make_mask("random", image.shape[-1], fraction, accel, seed=0)
    sim = simulate(image[None], accel, fraction, seed=0, noise=0.0, phase=False, mask=mask)
    zf = np.abs(zero_filled(sim.kspace, sim.mask))[0]
    axes[0, col].imshow(np.tile(mask.mask, (40, 1)), cmap="gray", aspect="auto")
    axes[0, col].set_title(f"R={accel}, cf={fraction}: realised {mask.realised_acceleration:.2f}x")
    axes[1, col].imshow(zf, cmap="gray")
    axes[1, col].set_title(f"zero-filled {psnr(image, zf):.1f} dB, SSIM {ssim(image, zf):.3f}")
    rows.append((accel, fraction, mask.realised_acceleration, psnr(image, zf)))
plt.tight_layout(); plt.show()
for row in rows:
    print("R=%g cf=%.2f realised %.2fx  zero-filled PSNR %.2f dB" % row)"""),
        ("md", "## Random versus equispaced: incoherent versus coherent aliasing\n"
               "Equispaced sampling folds copies of the image on top of itself; random "
               "sampling spreads the aliasing into noise-like artefacts, which is what CS "
               "needs."),
        ("code", """\
fig, axes = plt.subplots(1, 2, figsize=(7, 4))
for ax, kind in zip(axes, ["random", "equispaced"]):
    sim = simulate(image[None], 4, 0.08, mask_type=kind, seed=1, phase=False)
    ax.imshow(np.abs(zero_filled(sim.kspace, sim.mask))[0], cmap="gray"); ax.set_title(kind)
plt.show()"""),
        ("md", "## The effect of the centre fraction at fixed acceleration"),
        ("code", """\
fractions = [0.02, 0.04, 0.08, 0.16] if not QUICK else [0.04, 0.08]
for fraction in fractions:
    sim = simulate(image[None], 8, fraction, seed=0, phase=False)
    zf = np.abs(zero_filled(sim.kspace, sim.mask))[0]
    print(f"8x, centre fraction {fraction:.2f}: zero-filled PSNR {psnr(image, zf):.2f} dB")"""),
    ],
}


def build() -> None:
    """Write every notebook."""
    for name, cells in NOTEBOOKS.items():
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        for kind, source in cells:
            make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
            notebook.cells.append(make(source))
        nbformat.write(notebook, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    build()
