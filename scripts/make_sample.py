"""Rebuild ``csmri/sample/colin27_axial.npz`` from Debian's ``mricron-data``.

Run: ``python scripts/make_sample.py`` (needs ``apt-get install mricron-data``).
The slices chosen here are excluded from the shipped U-Net's training set.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from csmri.io.images import COLIN27_PATH, SAMPLE_AXIAL_SLICES, colin27_axial

OUT = Path(__file__).resolve().parents[1] / "csmri" / "sample" / "colin27_axial.npz"


def main() -> None:
    volume = np.asarray(nib.load(COLIN27_PATH).dataobj)
    slices = colin27_axial(volume, SAMPLE_AXIAL_SLICES)
    np.savez_compressed(
        OUT,
        images=slices.astype(np.uint8),
        axial_index=np.asarray(SAMPLE_AXIAL_SLICES),
        source=np.asarray("Colin27 T1 (ch2.nii.gz, mricron-data), MNI / Colin Holmes"),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB), shape {slices.shape}")


if __name__ == "__main__":
    main()
