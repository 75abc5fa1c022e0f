"""Learned versus CS on real raw k-space: the shared in-vivo 16-coil brain, masked retrospectively.

Run: ``OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_real.py [--quick] [--out FILE]``

The data: ``../shared/data/pulseq_brain16ch_kspace.npy``, a real, fully sampled axial brain
slice (Siemens 3T, 16-channel head coil, 2-D FLASH, 128 x 128, MIT licence), never trained
or tuned on by any shipped model.  This is the real-data check the template benchmarks
(``bench_learned.py``, Colin27) cannot give: no simulated phase, real coil noise, real
anatomy of a single subject.

Protocol (the same code as ``csmri compare`` on a multi-coil file):

* three views of the scan as separate cases: the 16 coils (SENSE with ESPIRiT maps from
  each case's undersampled data), an 8-coil SVD compression, and the single-coil
  (coil-combined, SENSE-adjoint of the full data) image turned back into k-space, which is
  what a single-coil method sees;
* fastMRI random column masks at 4x (cf 0.08) and 8x (cf 0.04 -> 0.08 here, as 0.04 keeps
  5 of 128 lines), seeds 0..N-1 (one case each: one slice);
* lambda of every CS method tuned on another mask of the same data (seed ``tuning_seed``),
  never on the scored mask; the learned methods use their stored defaults;
* reference: the RSS of the fully sampled coil images (single-coil view: its magnitude).

Writes ``benchmarks/RESULTS_real.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from csmri.acquisition import Acquisition, single_coil
from csmri.app.methods import CompressedSensing, SenseAdjoint, ZeroFilled
from csmri.app.reconstruct import DEFAULT_LAMBDA
from csmri.mri.baseline import sense_adjoint
from csmri.mri.coils import compress_coils, ensure_maps
from csmri.mri.fft import fft2c
from learned.comparison import cases_from_acquisition, run_comparison
from learned.comparison.report import format_markdown, summarise
from learned.comparison.verdict import family_verdicts, format_footer, method_family
from learned.method import UnetMethod, UnrolledMethod

SCAN = Path(__file__).resolve().parents[2] / "shared" / "data" / "pulseq_brain16ch_kspace.npy"
SETTINGS = ((4.0, 0.08), (8.0, 0.08))
CS = ("tv-admm", "wavelet-fista", "tv-reweighted-admm", "tgv-admm", "tgv-reweighted-admm")


def views(kspace: np.ndarray) -> dict[str, Acquisition]:
    """The scan as 16 coils, 8 compressed coils, and one coil-combined single-coil image."""
    full = np.ones(kspace.shape[-2:], dtype=bool)
    coils16 = Acquisition(kspace, full)
    compressed, _ = compress_coils(kspace, 8)
    maps = ensure_maps(Acquisition(kspace, full), "espirit")
    combined = sense_adjoint(kspace, maps)  # the complex coil-combined image
    return {
        "16 coils": coils16,
        "8 coils (SVD)": Acquisition(compressed, full),
        "single-coil (combined)": single_coil(fft2c(combined), full),
    }


def centre_lambda(method, case) -> float:
    """The calibrated lambda at the case's acceleration: the centre of the tuning grid."""
    from csmri.app.autolambda import calibrated_lambda

    return calibrated_lambda(method.reg, case.attrs["realised_acceleration"])


def main() -> None:
    """Run the comparison on every view and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, 30 iterations")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS_real.md"))
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    iters = 30 if args.quick else 100
    kspace = np.load(SCAN).astype(np.complex64)  # (1, 16, 128, 128): slices, coils, H, W
    learned = [UnetMethod.load(None, "cpu"), UnrolledMethod.load(None, "cpu")]
    methods = [ZeroFilled(), SenseAdjoint()]
    methods += [CompressedSensing(reg=name.rpartition("-")[0], solver=name.rpartition("-")[2],
                                  lam=DEFAULT_LAMBDA[name.rpartition("-")[0]], max_iter=iters)
                for name in CS]
    methods += learned
    families = {m.name: method_family(m) for m in methods}
    blocks = []
    start = time.perf_counter()
    for label, acq in views(kspace).items():
        cases = []
        for seed in range(seeds):
            cases += cases_from_acquisition(f"{label} seed {seed}", acq,
                                            [a for a, _ in SETTINGS], [c for _, c in SETTINGS],
                                            "random", seed, num_tuning=1)
        result = run_comparison(cases, methods, True, centre_lambda,
                                lambda message: print("  ..", message, flush=True))
        summary = summarise(result)
        verdicts = family_verdicts(result.rows, families, 6.0)
        skipped = sorted({f"{m}: {r}" for (_, _, m), r in result.skipped.items()})
        blocks.append(f"## {label}\n\n" + format_markdown(summary)
                      + format_footer(verdicts, True)
                      + "".join(f"\nSkipped {line}" for line in skipped) + "\n")
        print(blocks[-1], flush=True)
    header = (
        "# Real raw k-space: the shared in-vivo 16-coil brain (bench_real.py)\n\n"
        f"{seeds} mask seed(s) per acceleration, {iters} CS iterations, lambda tuned on another "
        "mask of the same scan; reference: RSS of the fully sampled coils. One real subject, "
        "one slice: the spread is over masks, not subjects. "
        f"Total {time.perf_counter() - start:.0f} s.\n\n"
    )
    args.out.write_text(header + "\n".join(blocks))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
