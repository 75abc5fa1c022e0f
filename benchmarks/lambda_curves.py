"""PSNR against lambda for csmri's regularisers on image sets that differ from the sample.

Used to calibrate :mod:`csmri.app.autolambda` and to choose the default wavelet by
measurement.  The *calibration* set never includes the embedded Colin27 sample (the
benchmark's subject): MNI152 2009a T1 slices in three orientations (from nilearn's
package data) and Shepp-Logan phantoms.  The *evaluation* set holds the benchmark's
cases (Colin27 slices) and a non-MRI photograph (scikit-image's camera).  Every
simulation: smooth phase, complex noise, fastMRI random masks with fastMRI's centre
fraction 0.32 / R, raised where needed to keep 12 centre lines (the 320 x 320
benchmark case keeps fastMRI's 0.08 and 0.04).

Writes ``benchmarks/lambda_curves.json``: for every set, acceleration, noise and
method, the per-image PSNR at each lambda of the grid.

Run: ``nice python benchmarks/lambda_curves.py [--noise 0.005] [--sets calib,eval]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from csmri.app.reconstruct import reconstruct
from csmri.app.scaling import estimate_scales
from csmri.io.images import load_sample, shepp_logan
from csmri.metrics import psnr
from csmri.mri.simulate import simulate

GRID = [float(10**e) for e in np.arange(-3.0, -1.6, 0.25)]
"""The lambda grid (quarter decades); ``--grid-start`` moves its lower end."""
METHODS = {
    "tv": {"reg": "tv"},
    "wavelet-db4": {"reg": "wavelet", "wavelet": "db4"},
    "wavelet-db2": {"reg": "wavelet", "wavelet": "db2"},
    "wavelet-haar": {"reg": "wavelet", "wavelet": "haar"},
    "wavelet-haar-admm": {"reg": "wavelet", "wavelet": "haar", "solver": "admm"},
    "tv+wavelet": {"reg": "tv+wavelet", "wavelet": "haar"},
    "tgv": {"reg": "tgv"},
    "tv-reweighted": {"reg": "tv-reweighted"},
    "tgv-reweighted": {"reg": "tgv-reweighted"},
}
MIN_LINES = 12
"""Centre fraction: fastMRI's 0.32 / R, raised to keep at least this many centre lines."""
OUT = Path(__file__).with_name("lambda_curves.json")


def fit(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Centre-crop or zero-pad ``image`` to ``shape``, scaled to maximum 1."""
    out = np.zeros(shape, dtype=np.float32)
    h, w = (min(a, b) for a, b in zip(image.shape, shape, strict=True))
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    otop, oleft = (shape[0] - h) // 2, (shape[1] - w) // 2
    out[otop : otop + h, oleft : oleft + w] = image[top : top + h, left : left + w]
    return out / out.max()


def mni152_slices() -> list[np.ndarray]:
    """Axial, coronal and sagittal T1 slices of nilearn's MNI152 2009a template."""
    import nibabel
    import nilearn

    path = (
        Path(nilearn.__file__).parent
        / "datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"
    )
    volume = np.asarray(nibabel.load(path).get_fdata(), dtype=np.float32)
    x, y, z = volume.shape
    return [
        np.rot90(volume[:, :, int(z * 0.45)]),
        np.rot90(volume[:, int(y * 0.6), :]),
        np.rot90(volume[int(x * 0.35), :, :]),
    ]


def image_sets() -> dict[str, np.ndarray]:
    """The calibration set (no Colin27) and the evaluation sets."""
    from skimage.data import camera
    from skimage.transform import resize

    shape = (208, 176)
    phantom = shepp_logan(176)
    calib = [fit(s, shape) for s in mni152_slices()]
    calib += [fit(phantom, shape)]
    sample = load_sample()
    padded = np.stack([fit(sample[5], (320, 320))])
    photo = resize(camera().astype(np.float32), (256, 256), anti_aliasing=True)
    return {
        "calib": np.stack(calib),
        "eval-sample": sample[[2, 8]],
        "eval-320": padded,
        "eval-camera": fit(photo, (256, 256))[None],
    }


def curves(
    images: np.ndarray, acceleration: int, noise: float, seed: int, grid: list[float]
) -> dict:
    """Per-image PSNR over the lambda grid for every method, and the noise in normalised units."""
    fraction = max(0.32 / acceleration, MIN_LINES / images.shape[-1])
    sim = simulate(images, acceleration, fraction, "random", seed, noise, True)
    scales = estimate_scales(sim.kspace, sim.mask)
    out = {"noise": (noise * float(np.abs(images).max()) / scales).tolist(), "methods": {}}
    for name, options in METHODS.items():
        rows = []
        start = time.perf_counter()
        for lam in grid:
            result = reconstruct(sim.kspace, sim.mask, lam=lam, max_iter=100, **options)
            rows.append(
                [psnr(t, np.abs(r)) for t, r in zip(sim.target, result.images, strict=True)]
            )
        out["methods"][name] = rows
        print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
    return out


def loss_table(rows: list[list[float]]) -> np.ndarray:
    """Per lambda and image: dB below that image's best lambda on the grid."""
    values = np.asarray(rows)  # (lambdas, images)
    return values.max(axis=0, keepdims=True) - values


def report(document: dict) -> str:
    """Markdown: best PSNR per method (wavelet choice), calibrated lambdas, their loss."""
    grid = np.asarray(document["grid"])
    runs = document["runs"]
    lines = ["| set | method | mean best PSNR (dB) | best lambdas |", "|---|---|---|---|"]
    for key, run in runs.items():
        for name, rows in run["methods"].items():
            values = np.asarray(rows)
            best = grid[values.argmax(axis=0)]
            lines.append(
                f"| {key} | {name} | {values.max(axis=0).mean():.2f} | "
                f"{', '.join(f'{b:.2g}' for b in best)} |"
            )
    lines += ["", "| method | accel | calibrated lambda | calib mean/max loss (dB) |"]
    lines += ["|---|---|---|---|"]
    chosen = {}
    for name in METHODS:
        for acceleration in (4, 8):
            keys = [k for k in runs if k.startswith(f"calib {acceleration}x")]
            losses = [
                loss_table(runs[k]["methods"][name]) for k in keys if name in runs[k]["methods"]
            ]
            if not losses:
                continue
            loss = np.concatenate(losses, axis=1)
            pick = int(loss.mean(axis=1).argmin())
            chosen[(name, acceleration)] = pick
            lines.append(
                f"| {name} | {acceleration}x | {grid[pick]:.3g} | "
                f"{loss[pick].mean():.2f} / {loss[pick].max():.2f} |"
            )
    lines += ["", "| evaluation set | method | lambda | loss per image (dB) |", "|---|---|---|---|"]
    for key, run in runs.items():
        if key.startswith("calib"):
            continue
        acceleration = int(key.split()[1].rstrip("x"))
        for name, rows in run["methods"].items():
            if (name, acceleration) in chosen:
                pick = chosen[(name, acceleration)]
                loss = loss_table(rows)[pick]
                lines.append(
                    f"| {key} | {name} | {grid[pick]:.3g} | {', '.join(f'{v:.2f}' for v in loss)} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--report", action="store_true", help="only print the report")
    parser.add_argument("--noise", default="0.005")
    parser.add_argument("--sets", default="calib,eval-sample,eval-320,eval-camera")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--accel", default="4,8")
    parser.add_argument("--out", type=Path, default=OUT, help="JSON to add the runs to")
    parser.add_argument(
        "--grid-start", type=float, default=-3.0, help="log10 of the grid's lowest lambda"
    )
    args = parser.parse_args()
    if args.report:  # merges every lambda_curves*.json next to OUT that shares a grid
        documents: dict[tuple, dict] = {}
        for path in sorted(OUT.parent.glob("lambda_curves*.json")):
            loaded = json.loads(path.read_text())
            grid = tuple(loaded.get("grid", GRID))
            document = documents.setdefault(grid, {"grid": list(grid), "runs": {}})
            for key, run in loaded["runs"].items():
                merged = document["runs"].setdefault(key, {"methods": {}})
                merged["methods"].update(run["methods"])
        for grid, document in documents.items():
            print(f"\nGrid {', '.join(f'{g:.2g}' for g in grid)}\n\n{report(document)}")
        return
    for name in list(METHODS):
        if name not in args.methods.split(","):
            del METHODS[name]
    grid = [float(10**e) for e in np.arange(args.grid_start, -1.6, 0.25)]
    out = args.out
    document = json.loads(out.read_text()) if out.exists() else {"grid": grid, "runs": {}}
    if document.get("grid", GRID) != grid:
        raise SystemExit(f"{out} holds another lambda grid: write to a new --out")
    sets = image_sets()
    for set_name in args.sets.split(","):
        for noise in map(float, args.noise.split(",")):
            for acceleration in map(int, args.accel.split(",")):
                start = time.perf_counter()
                key = f"{set_name} {acceleration}x noise {noise:g}"
                run = curves(sets[set_name], acceleration, noise, 0, grid)
                previous = document["runs"].get(key, {"methods": {}})
                run["methods"] = {**previous["methods"], **run["methods"]}
                document["runs"][key] = run
                out.write_text(json.dumps(document, indent=1))
                print(f"{key}: {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
