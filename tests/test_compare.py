import csv
import dataclasses
import hashlib
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.app.methods import MethodResult, ZeroFilled
from csmri.io.images import load_sample
from csmri.metrics import psnr
from learned.comparison import cases_from_images, run_comparison
from learned.comparison.cases import split_slices

FAST = ["--methods", "zero-filled,tv-admm", "--iters", "3", "--accel", "4,8"]


@pytest.fixture(scope="module")
def tiny_stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    images = load_sample()[::3, 40:136, 40:136]  # 4 slices of 96x96
    np.save(folder / "stack.npy", images)
    return folder / "stack.npy", images


def test_compare_writes_all_files_with_finite_numbers_consistent_with_metrics(tmp_path, tiny_stack):
    path, images = tiny_stack
    out = tmp_path / "out"
    result = CliRunner().invoke(
        csmri, ["compare", str(path), *FAST, "--lam", "0.01", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    for name in (
        "results.csv",
        "results.json",
        "results.md",
        "reconstructions.png",
        "quality_vs_runtime.png",
        "convergence.png",
    ):
        assert (out / name).stat().st_size > 0, name
    document = json.loads((out / "results.json").read_text())
    rows = document["rows"]
    assert {row["method"] for row in rows} == {"zero-filled", "tv-admm"}
    assert {row["acceleration"] for row in rows} == {4.0, 8.0}
    assert len(rows) == 2 * 2 * images.shape[0]  # methods x accelerations x slices
    for row in rows:
        assert all(np.isfinite(row[k]) for k in ("nmse", "psnr", "ssim", "seconds"))
    assert {"versions", "machine", "seed"} <= set(document["config"])
    # the zero-filled rows agree with the metrics module on an independent simulation
    from csmri.mri.baseline import zero_filled
    from csmri.mri.simulate import simulate

    sim = simulate(images, 4, 0.08, "random", 0, 0.005, True)
    expected = psnr(sim.target[1], np.abs(zero_filled(sim.kspace, sim.mask))[1])
    row = next(
        r
        for r in rows
        if r["method"] == "zero-filled" and r["acceleration"] == 4 and r["slice"] == 1
    )
    assert row["psnr"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json"])
def test_every_format_parses_back(tiny_stack, fmt):
    path, _images = tiny_stack
    result = CliRunner().invoke(
        csmri, ["compare", str(path), *FAST, "--lam", "0.01", "--format", fmt]
    )
    assert result.exit_code == 0, result.output
    text = result.stdout
    if fmt == "json":
        assert len(json.loads(text)["rows"]) == 16
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == 16 and float(rows[0]["psnr"]) > 0
    elif fmt == "md":
        tables = [line for line in text.splitlines() if line.startswith("| ")]
        assert len(tables) == 2 * 3  # header + 2 methods, per acceleration
        assert all(line.count("|") == 8 for line in tables)
    else:
        assert "Acceleration 4x" in text and "Acceleration 8x" in text
        assert "identical" in text


def test_methods_receive_identical_inputs_and_a_mismatch_is_caught():
    from learned.comparison import runner

    images = load_sample()[:3, 60:124, 60:124]
    cases = cases_from_images("s", images, [4], [0.08], "random", 0, 0.0, 0)
    result = run_comparison(cases, [ZeroFilled(), ZeroFilled(name="again")], False, lambda m, c: 0)
    assert list(result.input_hashes.values()) == [cases[0].fingerprint(cases[0].scored)]
    with pytest.raises(RuntimeError, match="different inputs"):
        runner._check_identical_inputs(cases[0], {"a": ["h1", "h2"], "b": ["h1", "h3"]})


def test_lambda_tuning_never_sees_scored_slices():
    images = load_sample()[:6, 60:124, 60:124]
    (case,) = cases_from_images("s", images, [4], [0.08], "random", 0, 0.0, num_tuning=2)
    seen: list[str] = []

    @dataclasses.dataclass
    class Spy:
        lam: float = 0.01
        reg: str = "tv"
        name: str = "spy"

        def run(self, kspace, mask):
            for slice_ in kspace:
                seen.append(hashlib.sha256(slice_.tobytes()).hexdigest())
            return MethodResult(np.abs(kspace).astype(np.float32) * 0 + self.lam, 0.0, [1])

    scored = {hashlib.sha256(case.kspace[i].tobytes()).hexdigest() for i in case.scored}
    tuning = {hashlib.sha256(case.kspace[i].tobytes()).hexdigest() for i in case.tuning}
    from learned.comparison.tuning import tune_lambda

    best, tried = tune_lambda(Spy(), case, centre=0.01)
    assert set(seen) == tuning and not set(seen) & scored
    assert len(tried) >= 6 and best in tried


def test_tuning_and_scored_slices_are_disjoint_and_cover_the_stack():
    tuning, scored = split_slices(12, 2)
    assert len(tuning) == 2 and not set(tuning) & set(scored)
    assert sorted(tuning + scored) == list(range(12))
    assert 0 not in tuning and 11 not in tuning


def test_lambda_auto_is_reported_and_chosen_from_tuning(tiny_stack):
    path, _ = tiny_stack
    result = CliRunner().invoke(
        csmri,
        [
            "compare",
            str(path),
            "--methods",
            "tv-admm",
            "--iters",
            "3",
            "--accel",
            "4",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (entry,) = document["lambdas"]
    assert entry["lambda"] in [t["lambda"] for t in entry["tried"]]
    best = max(entry["tried"], key=lambda t: t["tuning_psnr"])
    assert entry["lambda"] == best["lambda"]
    assert {row["slice"] for row in document["rows"]}.isdisjoint({1, 2})


def test_compare_scores_a_kspace_file_with_its_own_mask(tmp_path):
    kfile = tmp_path / "k.h5"
    runner = CliRunner()
    simulated = runner.invoke(
        csmri,
        [
            "simulate",
            "-o",
            str(kfile),
            "--slices",
            "0:4",
            "--accel",
            "8",
            "--center-fraction",
            "0.04",
        ],
    )
    assert simulated.exit_code == 0, simulated.output
    result = runner.invoke(
        csmri,
        [
            "compare",
            str(kfile),
            "--methods",
            "zero-filled,tv-admm",
            "--iters",
            "3",
            "--lam",
            "0.01",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["rows"]
    assert {row["acceleration"] for row in rows} == {8.0}  # the file's, not --accel's
    assert {row["input"] for row in rows} == {"k.h5"} and len(rows) == 2 * 4


def test_a_single_image_is_tuned_on_an_independent_realisation_never_scored():
    image = load_sample()[5:6, 60:124, 60:124]
    (case,) = cases_from_images("one", image, [4], [0.16], "random", 0, 0.005, num_tuning=2)
    assert case.scored == [0] and case.tuning == [] and case.can_tune
    other = case.tuning_case
    assert other is not None and not np.array_equal(other.mask, case.mask)
    assert other.attrs["seed"] != case.attrs["seed"]
    np.testing.assert_array_equal(other.target, case.target)  # same image, other realisation
    assert "independent simulation" in case.lambda_note
    seen: list[bytes] = []

    @dataclasses.dataclass
    class Spy:
        lam: float = 0.01
        reg: str = "tv"
        name: str = "spy"

        def run(self, kspace, mask):
            seen.extend(slice_.tobytes() + np.asarray(mask).tobytes() for slice_ in kspace)
            return MethodResult(np.abs(kspace).astype(np.float32), 0.0, [1])

    from learned.comparison.tuning import tune_lambda

    tune_lambda(Spy(), case, centre=0.01)
    assert seen and set(seen) == {other.kspace[0].tobytes() + other.mask.tobytes()}


def test_one_measured_slice_falls_back_to_the_default_lambda_and_says_so():
    from csmri.acquisition import single_coil
    from csmri.app.methods import CompressedSensing
    from csmri.mri.simulate import simulate
    from learned.comparison import cases_from_acquisition

    sim = simulate(load_sample()[5:6, 60:124, 60:124], 4, 0.16, "random", 0, 0.005, True)
    data = single_coil(sim.kspace, sim.mask, sim.target, attrs=sim.attrs)
    (case,) = cases_from_acquisition("k.h5", data, [], [], "random", 0, num_tuning=2)
    assert not case.can_tune and "NOT tuned" in case.lambda_note
    method = CompressedSensing(reg="tv", solver="admm", lam=1.0, max_iter=2)
    result = run_comparison([case], [method], True, lambda m, c: 0.0123)
    assert result.lambdas[(4.0, "tv-admm")] == {"lam": 0.0123, "tried": {}}
    assert {row["lambda"] for row in result.rows} == {0.0123}


def test_center_lines_counts_the_contiguous_centre_band():
    from learned.comparison.cases import center_lines

    mask = np.zeros(21, bool)
    mask[8:13] = True  # centre column 10, band of 5
    mask[[0, 6, 15]] = True
    assert center_lines(mask) == 5
    assert center_lines(np.tile(mask, (4, 1))) == 5
    mask[10] = False
    assert center_lines(mask) == 0


def test_compare_one_2d_image_without_options_reports_how_lambda_was_tuned(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, load_sample()[5, 60:124, 60:124])  # a single 2-D image
    result = CliRunner().invoke(
        csmri, ["compare", str(path), "--methods", "zero-filled,tv-admm", "--iters", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "independent simulation of the same image" in result.stdout
    assert "Acceleration 4x" in result.stdout and "Acceleration 8x" in result.stdout
    # 64 columns at 8x with fastMRI's 0.04 keep 2 centre lines: the user is warned
    assert "WARNING one.npy: 8x keeps only" in result.stdout
