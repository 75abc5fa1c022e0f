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
        (
            "md",
            "# 1. The forward model and the masks\n\nA single-coil scanner measures "
            "`y = M F x`: the centred orthonormal 2-D FFT `F` of the complex image, "
            "restricted by a column mask `M`. This notebook shows k-space, the aliasing of "
            "zero-filled images, and how centre fraction and acceleration change it.",
        ),
        ("code", SETUP),
        (
            "code",
            """\
from csmri.io.images import load_sample
from csmri.mri.fft import fft2c, ifft2c
from csmri.mri.masks import make_mask
from csmri.mri.simulate import simulate
from csmri.mri.baseline import zero_filled
from csmri.metrics import psnr, ssim

image = load_sample()[6]
kspace = fft2c(image.astype(np.complex64))
print("image", image.shape, "Parseval:", np.linalg.norm(image), np.linalg.norm(kspace))
fig, ax = plt.subplots(1, 2, figsize=(7, 4))
ax[0].imshow(image, cmap="gray"); ax[0].set_title("Colin27 slice")
ax[1].imshow(np.log1p(np.abs(kspace)), cmap="gray"); ax[1].set_title("log |k-space|")
plt.show()""",
        ),
        (
            "md",
            "## Masks with fastMRI's semantics\n`num_low = round(N * center_fraction)` "
            "centre columns; the rest drawn with probability "
            "`(N/R - num_low) / (N - num_low)`, seeded.",
        ),
        (
            "code",
            """\
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
    print("R=%g cf=%.2f realised %.2fx  zero-filled PSNR %.2f dB" % row)""",
        ),
        (
            "md",
            "## Random versus equispaced: incoherent versus coherent aliasing\n"
            "Equispaced sampling folds copies of the image on top of itself; random "
            "sampling spreads the aliasing into noise-like artefacts, which is what CS "
            "needs.",
        ),
        (
            "code",
            """\
fig, axes = plt.subplots(1, 2, figsize=(7, 4))
for ax, kind in zip(axes, ["random", "equispaced"]):
    sim = simulate(image[None], 4, 0.08, mask_type=kind, seed=1, phase=False)
    ax.imshow(np.abs(zero_filled(sim.kspace, sim.mask))[0], cmap="gray"); ax.set_title(kind)
plt.show()""",
        ),
        ("md", "## The effect of the centre fraction at fixed acceleration"),
        (
            "code",
            """\
fractions = [0.02, 0.04, 0.08, 0.16] if not QUICK else [0.04, 0.08]
for fraction in fractions:
    sim = simulate(image[None], 8, fraction, seed=0, phase=False)
    zf = np.abs(zero_filled(sim.kspace, sim.mask))[0]
    print(f"8x, centre fraction {fraction:.2f}: zero-filled PSNR {psnr(image, zf):.2f} dB")""",
        ),
    ],
    "02_cs_solvers.ipynb": [
        (
            "md",
            "# 2. Compressed-sensing solvers\n\nTotal variation versus wavelets, FISTA "
            "versus ADMM, and the effect of lambda, on one real-anatomy slice at 4x.",
        ),
        ("code", SETUP),
        (
            "code",
            """\
import time
import csmri
from csmri.io.images import load_sample
from csmri.mri.simulate import simulate
from csmri.mri.baseline import zero_filled
from csmri.metrics import psnr, ssim

sim = simulate(load_sample()[6:7], acceleration=4, center_fraction=0.08, seed=0, noise=0.005)
target = sim.target[0]
iters = 30 if QUICK else 100
zf = np.abs(zero_filled(sim.kspace, sim.mask))[0]
print(f"zero-filled: {psnr(target, zf):.2f} dB")""",
        ),
        ("md", "## TV versus wavelet, FISTA versus ADMM"),
        (
            "code",
            """\
runs = {}
for reg in ["tv", "wavelet"]:
    for solver in ["fista", "admm"]:
        start = time.perf_counter()
        result = csmri.reconstruct(sim.kspace, sim.mask, reg=reg, solver=solver, max_iter=iters)
        seconds = time.perf_counter() - start
        image = np.abs(result.images[0])
        runs[f"{reg}-{solver}"] = result
        print(f"{reg:8s} {solver:6s} PSNR {psnr(target, image):6.2f} dB  "
              f"SSIM {ssim(target, image):.4f}  {seconds:5.2f} s")""",
        ),
        (
            "code",
            """\
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for name, result in runs.items():
    history = result.history[0]
    objective = np.array(history.objective)
    axes[0].semilogy(objective - min(objective) + 1e-12, label=name)
    axes[1].semilogy(np.cumsum(history.time), objective - min(objective) + 1e-12, label=name)
axes[0].set_xlabel("iteration"); axes[1].set_xlabel("seconds")
axes[0].set_ylabel("objective - final"); axes[0].legend()
plt.show()""",
        ),
        (
            "md",
            "## The effect of lambda\nToo small and the aliasing stays; too large and "
            "TV paints cartoons. The best lambda depends on the noise and the acceleration; "
            "`csmri compare --lam auto` tunes it on slices that are never scored.",
        ),
        (
            "code",
            """\
lams = np.logspace(-4, -1, 4 if QUICK else 10)
scores = []
for lam in lams:
    image = np.abs(csmri.reconstruct(sim.kspace, sim.mask, reg="tv", lam=lam, solver="admm",
                                     max_iter=iters).images[0])
    scores.append(psnr(target, image))
plt.semilogx(lams, scores, "o-"); plt.xlabel("lambda (normalised units)"); plt.ylabel("PSNR (dB)")
plt.title("TV-ADMM, 4x"); plt.show()
print("best lambda", lams[int(np.argmax(scores))])""",
        ),
    ],
    "03_unet_versus_cs.ipynb": [
        (
            "md",
            "# 3. U-Net versus compressed sensing\n\nThe comparison `csmri compare` "
            "prints, run from Python: every method gets the same masked k-space, lambda is "
            "tuned on slices that are never scored, and the shipped U-Net runs in one pass.",
        ),
        ("code", SETUP),
        (
            "code",
            """\
from learned.comparison import cases_from_images, run_comparison
from learned.comparison import report, plots
from csmri.io.images import load_sample, shepp_logan
from csmri.app.methods import CompressedSensing, ZeroFilled
from csmri.app.reconstruct import DEFAULT_LAMBDA
from learned.method import UnetMethod

iters = 20 if QUICK else 100
images = load_sample()[:4] if QUICK else load_sample()
cases = cases_from_images("sample", images, [4, 8], [0.08, 0.04], "random", seed=0,
                          noise=0.005, num_tuning=2)
methods = [ZeroFilled(), CompressedSensing("tv", "admm", max_iter=iters),
           CompressedSensing("wavelet", "fista", max_iter=iters), UnetMethod.load()]
result = run_comparison(cases, methods, auto_lambda=True,
                        default_lambda=lambda m, c: DEFAULT_LAMBDA[m.reg])
summary = report.summarise(result)
print(report.format_text(summary))""",
        ),
        (
            "code",
            """\
plots.reconstruction_grid(result, "grid.png")
from IPython.display import Image
Image("grid.png")""",
        ),
        (
            "md",
            "## On your own file\nAny image, NIfTI volume or fastMRI `.h5` file works "
            "the same way; here an analytic Shepp-Logan phantom, which is *not* brain "
            "anatomy: expect the brain-trained U-Net to lose its edge there.",
        ),
        (
            "code",
            """\
phantom = np.stack([shepp_logan(192)] * 3)
cases = cases_from_images("phantom", phantom, [4], [0.08], "random", seed=0, noise=0.005,
                          num_tuning=1)
result = run_comparison(cases, methods, auto_lambda=True,
                        default_lambda=lambda m, c: DEFAULT_LAMBDA[m.reg])
print(report.format_text(report.summarise(result)))""",
        ),
    ],
    "04_optimisers_and_normalisation.ipynb": [
        (
            "md",
            "# 4. The lecture's claims on this U-Net, measured\n\nThe lecture claims that "
            "adaptive optimisers (RMSprop, Adam) train faster than SGD with momentum, that "
            "normalisation layers help, that BatchNorm suffers at small batch sizes and that "
            "GroupNorm with groups of 32 channels is a good default. "
            "`benchmarks/bench_lecture.py` trains the project's U-Net many times on MNI152 "
            "slices (every optimiser over a learning-rate sweep; every normalisation layer at "
            "batch sizes 1, 4 and 16; 3 seeds each) and validates on the embedded Colin27 "
            "slices, a subject none of the runs trains on. This notebook reads its JSON, "
            "plots the curves with mean ± std bands over seeds, and prints the verdicts that "
            "`learned.training.lecture.summarise` computes from the numbers with "
            "`csmri.app.verdict`. "
            "No verdict below is written by hand.\n\n"
            "Re-run the benchmark (about 45 min on 2 cores) with "
            "`OMP_NUM_THREADS=1 python benchmarks/bench_lecture.py --data MNI152.nii.gz "
            "--workers 2`, or in under a minute with `--quick --out /tmp/lecture` and point "
            "`RESULTS` below at `/tmp/lecture.json`.",
        ),
        ("code", SETUP),
        (
            "code",
            """\
import json
from pathlib import Path
import learned
from learned.training.lecture import OPTIMIZER_NAMES, best_rates, norm_label, summarise

RESULTS = Path(os.environ.get("CSMRI_LECTURE_RESULTS", Path(learned.__file__).parents[1]
                              / "benchmarks" / "RESULTS_lecture.json"))
results = json.loads(RESULTS.read_text())
summary = summarise(results)
settings = results["settings"]
print(f"{RESULTS.name}: {len(results['runs'])} runs, created {results['created']}, "
      f"{results['elapsed_s'] / 60:.0f} min on {results['machine']}")
print(f"command: {results['command']}")
print(f"zero-filled validation PSNR {results['zero_filled_psnr']:.2f} dB; "
      f"{settings['samples']} training examples per run, seeds: {settings['seeds']}")""",
        ),
        (
            "code",
            """\
def band(ax, runs, label, x="samples"):
    xs = np.asarray(runs[0]["curve"][x], float)
    ys = np.array([r["curve"]["psnr"] for r in runs])
    mean, std = ys.mean(0), ys.std(0, ddof=1) if len(ys) > 1 else 0 * ys[0]
    line, = ax.plot(xs, mean, "o-", ms=3, label=label)
    ax.fill_between(xs, mean - std, mean + std, color=line.get_color(), alpha=0.2)

optimiser_runs = [r for r in results["runs"] if r["study"] == "optimisers"]
rates = best_rates(optimiser_runs)
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for optimizer, info in rates.items():
    name = OPTIMIZER_NAMES[optimizer]
    for lr in info["rates"]:
        runs = [r for r in optimiser_runs if r["optimizer"] == optimizer and r["lr"] == lr]
        if lr == info["lr"]:
            band(axes[0], runs, f"{name} lr={lr:g} (best)")
    axes[1].plot(list(info["rates"]), list(info["rates"].values()), "o-", label=name)
target = summary["optimisers"]["target_psnr"]
axes[0].axhline(target, color="k", ls=":", lw=1, label=f"target {target:.2f} dB")
axes[0].set_xlabel("training examples seen"); axes[0].set_ylabel("validation PSNR (dB)")
axes[1].set_xscale("log"); axes[1].set_xlabel("learning rate")
axes[1].set_ylabel("tuning-split PSNR (dB), mean over seeds")
for ax in axes: ax.legend(fontsize=8)
plt.tight_layout(); plt.show()
for row in summary["optimisers"]["rows"]:
    reach = row["samples_to_target"]
    reach = "never" if reach is None else f"{reach[0]:.0f} ± {reach[1]:.0f} examples"
    print(f"{row['label']:13s} lr={row['lr']:<7g} final {row['final_psnr'][0]:.2f} ± "
          f"{row['final_psnr'][1]:.2f} dB; target reached in {row['reached']}/{row['seeds']} "
          f"seeds, after {reach}")
print()
for verdict in summary["optimisers"]["verdicts"]:
    print(verdict.sentence)
    print()""",
        ),
        (
            "code",
            """\
norm_runs = [r for r in results["runs"] if r["study"] == "norms"]
labels = list(dict.fromkeys(norm_label(r["norm"], r["group_size"]) for r in norm_runs))
batch_sizes = sorted({r["batch_size"] for r in norm_runs})
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for k, label in enumerate(labels):
    finals = [[r["curve"]["psnr"][-1] for r in norm_runs
               if norm_label(r["norm"], r["group_size"]) == label and r["batch_size"] == b]
              for b in batch_sizes]
    x = np.arange(len(batch_sizes)) + 0.08 * (k - len(labels) / 2)
    axes[0].errorbar(x, [np.mean(f) for f in finals],
                     [np.std(f, ddof=1) if len(f) > 1 else 0 for f in finals],
                     fmt="o", capsize=3, label=label)
    middle = batch_sizes[len(batch_sizes) // 2]
    band(axes[1], [r for r in norm_runs if norm_label(r["norm"], r["group_size"]) == label
                   and r["batch_size"] == middle], label)
axes[0].set_xticks(range(len(batch_sizes)), [str(b) for b in batch_sizes])
axes[0].set_xlabel("batch size"); axes[0].set_ylabel("final validation PSNR (dB)")
axes[1].set_xlabel(f"training examples seen (batch size {middle})")
axes[1].set_ylabel("validation PSNR (dB)")
for ax in axes: ax.legend(fontsize=7)
plt.tight_layout(); plt.show()
for verdict in summary["norms"]["verdicts"]:
    print(verdict.sentence)
    print()""",
        ),
        (
            "md",
            "## The optimisers at a larger scale\n\nThe same optimiser study with 64x64 "
            "patches and 512 training examples per run (`--studies optimisers --patch 64 "
            "--samples 512`), where the networks improve more on zero filling:",
        ),
        (
            "code",
            """\
larger = RESULTS.with_name("RESULTS_lecture_optimisers_p64.json")
if larger.exists():
    big = summarise(json.loads(larger.read_text()))["optimisers"]
    for row in big["rows"]:
        print(f"{row['label']:13s} lr={row['lr']:<7g} final {row['final_psnr'][0]:.2f} ± "
              f"{row['final_psnr'][1]:.2f} dB, target reached in {row['reached']}/{row['seeds']}")
    print()
    for verdict in big["verdicts"]:
        print(verdict.sentence)
        print()""",
        ),
        (
            "md",
            "## Reading the verdicts\n\nEach sentence above is generated from the per-seed "
            "numbers: a claim is *supported* when every pair it names is separated by more "
            "than the spread (the sum of the two standard deviations over seeds), *not "
            "supported* when some pair is separated the other way, and *inconclusive at "
            "this scale* otherwise. The runs are small (a few hundred training steps on "
            "small patches, so that the whole benchmark fits in 45 minutes on 2 CPU cores); "
            "an inconclusive verdict asks for more seeds or a larger budget, it does not "
            "say the settings are equal. `benchmarks/RESULTS_lecture.md` has the full "
            "tables, including the learning-rate sweep.",
        ),
    ],
}


def build() -> None:
    """Write every notebook."""
    for name, cells in NOTEBOOKS.items():
        notebook = nbformat.v4.new_notebook()
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        for kind, source in cells:
            make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
            notebook.cells.append(make(source))
        nbformat.write(notebook, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    build()
