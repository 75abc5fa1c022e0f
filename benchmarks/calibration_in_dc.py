"""Do calibration-only lines belong in the data term?  Measured on the real 16-coil brain.

Run: ``python benchmarks/calibration_in_dc.py``.  The shared in-vivo scan
(``../shared/data/pulseq_brain16ch_kspace.npy``), fully sampled, is cut to a GRAPPA-style
acquisition: every R-th line (imaging) plus a separate block of central calibration lines.
ESPIRiT maps come from imaging + calibration lines either way; SENSE-TV and SENSE-wavelet
(100 iterations, best of 4 lambdas) then see the calibration lines in the data term or not.
Reference: RSS of the full data.  Results in ``RESULTS_calibration.md``.
"""

from pathlib import Path

import numpy as np

from csmri.acquisition import Acquisition
from csmri.app.methods import CompressedSensing
from csmri.metrics import psnr
from csmri.mri.baseline import rss_zero_filled
from csmri.mri.coils import ensure_maps

SCAN = Path(__file__).resolve().parents[2] / "shared" / "data" / "pulseq_brain16ch_kspace.npy"
LAMBDAS = (0.0003, 0.001, 0.003, 0.01)


def lines(width: int, step: int, calib: int) -> tuple[np.ndarray, np.ndarray]:
    """Imaging columns (every ``step``-th) and the central block of calibration columns."""
    imaging = np.zeros(width, bool)
    imaging[::step] = True
    block = np.zeros(width, bool)
    first = width // 2 - calib // 2
    block[first : first + calib] = True
    return imaging, block


def main() -> None:
    """Print the best-lambda PSNR of each variant."""
    kspace = np.load(SCAN).astype(np.complex64)  # (1, 16, 128, 128)
    reference = rss_zero_filled(kspace)
    for step, calib in ((3, 24), (4, 16)):
        imaging, block = lines(kspace.shape[-1], step, calib)
        both = imaging | block
        maps = ensure_maps(Acquisition(kspace * both, both), "espirit")
        for name, mask in (("calibration in the data term", both), ("imaging lines only", imaging)):
            full = np.broadcast_to(mask, kspace.shape[-2:])
            for reg in ("tv", "wavelet"):
                best = max(
                    (psnr(reference, CompressedSensing(reg=reg, lam=lam, max_iter=100)
                          .run(kspace * mask, full, maps).images), lam)
                    for lam in LAMBDAS
                )
                print(f"R={step} calib={calib} {reg:8s} {name:30s} {best[0]:.2f} (lam {best[1]})")


if __name__ == "__main__":
    main()
