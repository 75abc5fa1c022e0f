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

k = np.load(str(Path(__file__).resolve().parents[2] / "shared" / "data" / "pulseq_brain16ch_kspace.npy")).astype(np.complex64)  # (1,16,128,128)
ref = rss_zero_filled(k)
W = k.shape[-1]
for R, calib in ((3, 24), (4, 16)):
    imaging = np.zeros(W, bool); imaging[::R] = True
    cal = np.zeros(W, bool); c0 = W // 2 - calib // 2; cal[c0:c0 + calib] = True
    both = imaging | cal
    acq = Acquisition(k * both, both)
    maps = ensure_maps(acq, "espirit")
    for name, mask in (("calibration in the data term", both), ("imaging lines only", imaging)):
        for reg in ("tv", "wavelet"):
            best = max((psnr(ref, CompressedSensing(reg=reg, lam=lam, max_iter=100).run(
                k * mask, np.broadcast_to(mask, k.shape[-2:]), maps).images), lam)
                for lam in (0.0003, 0.001, 0.003, 0.01))
            print(f"R={R} calib={calib} {reg:8s} {name:30s} {best[0]:.2f} (lam {best[1]})")
