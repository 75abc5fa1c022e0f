"""Automatic lambda: within the stated distance of the grid optimum on synthetic cases.

The cases are phantoms that the calibration never used (it used MNI152 slices and the
Shepp-Logan phantom without texture, see ``benchmarks/lambda_curves.py``), at 100
iterations as ``csmri solve`` runs by default.
"""

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.app.autolambda import STATED_DISTANCE_DB, auto_lambda, calibrated_lambda
from csmri.app.reconstruct import reconstruct
from csmri.io import read_acquisition
from csmri.io.images import shepp_logan
from csmri.metrics import psnr
from csmri.mri.simulate import simulate

GRID = [float(10**e) for e in np.arange(-3.5, -1.49, 0.25)]


def _random_ellipses(size: int, seed: int) -> np.ndarray:
    """A seeded phantom of 15 random overlapping ellipses inside a bright outer ellipse."""
    rng = np.random.default_rng(seed)
    coords = (np.arange(size) - size / 2) / (size / 2)
    x, y = np.meshgrid(coords, coords)
    image = np.where((x / 0.85) ** 2 + (y / 0.95) ** 2 <= 1, 0.3, 0.0)
    for _ in range(15):
        a, b = rng.uniform(0.05, 0.35, 2)
        cx, cy = rng.uniform(-0.5, 0.5, 2)
        theta = rng.uniform(0, np.pi)
        xr = (x - cx) * np.cos(theta) + (y - cy) * np.sin(theta)
        yr = -(x - cx) * np.sin(theta) + (y - cy) * np.cos(theta)
        image[(xr / a) ** 2 + (yr / b) ** 2 <= 1] += rng.uniform(-0.2, 0.5)
    return np.clip(image, 0, None).astype(np.float32)


def _textured_phantom(size: int) -> np.ndarray:
    """Shepp-Logan with smooth intensity variation and bright dots."""
    y, x = np.mgrid[0:size, 0:size] / size
    image = shepp_logan(size) * (0.7 + 0.3 * np.cos(3 * x + 2 * y))
    dots = np.random.default_rng(3).integers(size // 4, 3 * size // 4, size=(12, 2))
    image[dots[:, 0], dots[:, 1]] = image.max()
    return image.astype(np.float32)


CASES = {
    "random ellipses, 4x": (_random_ellipses(128, 7), 4, 0.16),
    "textured phantom, 8x": (_textured_phantom(128), 8, 0.1),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("reg", ["tv", "tv-reweighted", "tgv-reweighted"])
def test_auto_lambda_lands_near_the_grid_optimum(name, reg):
    image, acceleration, fraction = CASES[name]
    sim = simulate(image, acceleration, fraction, "random", 5, 0.005, True)

    def score(lam: float) -> float:
        result = reconstruct(sim.kspace, sim.mask, reg=reg, lam=lam, max_iter=100)
        return psnr(sim.target[0], np.abs(result.images[0]))

    best = max(score(lam) for lam in GRID)
    choice = auto_lambda(sim.kspace, sim.mask, reg)
    assert score(choice.lam) >= best - STATED_DISTANCE_DB, (choice, best)


def test_calibrated_lambda_interpolates_between_accelerations_and_clamps():
    low, high = calibrated_lambda("tv", 4), calibrated_lambda("tv", 8)
    middle = calibrated_lambda("tv", np.sqrt(32))
    assert middle == pytest.approx(np.sqrt(low * high))
    assert calibrated_lambda("tv", 2) == low and calibrated_lambda("tv", 16) == high


def test_solve_without_lam_prints_the_automatic_choice(tmp_path):
    path = tmp_path / "k.h5"
    runner = CliRunner()
    made = runner.invoke(csmri, ["simulate", "-o", str(path), "--slices", "0:1", "--accel", "8"])
    assert made.exit_code == 0, made.output
    out = tmp_path / "x.npy"
    solved = runner.invoke(csmri, ["solve", str(path), "-o", str(out), "--iters", "2"])
    assert solved.exit_code == 0, solved.output
    mask = read_acquisition(path).columns
    expected = calibrated_lambda("tv", mask.size / mask.sum())
    assert f"lambda {expected:.3g} (auto: calibrated" in solved.stdout
