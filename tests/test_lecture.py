"""Computed verdicts (csmri.app.verdict), their use on benchmark runs
(learned.training.lecture), the
selectable group size of the U-Net's GroupNorm, and the lecture benchmark's quick mode."""

import importlib.util
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from csmri.app.verdict import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    best_of,
    claim_verdict,
    compare,
)
from csmri.io.images import shepp_logan
from learned.models.unet import NormUnet, UNetConfig, make_norm
from learned.training.lecture import best_rates, markdown, summarise, time_to_target

ROOT = Path(__file__).parents[1]


def test_overlapping_spreads_are_inconclusive():
    groups = {"A": [10.0, 11.0, 12.0], "B": [10.5, 11.5, 12.5]}  # means 11 vs 11.5, stds 1
    verdict = claim_verdict("B beats A", groups, ["B"], ["A"], "PSNR", " dB")
    assert verdict.status == INCONCLUSIVE
    assert verdict.comparisons[0].winner is None
    assert "inconclusive at this scale" in verdict.sentence
    assert "0.50 dB" in verdict.sentence and "2.00 dB" in verdict.sentence  # margin, spread


def test_separated_groups_name_the_right_winner_either_way():
    groups = {"A": [10.0, 10.1, 9.9], "B": [12.0, 12.2, 11.8]}
    assert claim_verdict("B beats A", groups, ["B"], ["A"], "PSNR").status == SUPPORTED
    reverse = claim_verdict("A beats B", groups, ["A"], ["B"], "PSNR")
    assert reverse.status == NOT_SUPPORTED
    assert reverse.comparisons[0].winner == "B"
    top = best_of(groups | {"C": [11.0, 11.1, 10.9]}, "PSNR")
    assert top.claim == "B is best" and top.status == SUPPORTED
    assert top.comparisons[0].b == "C"  # judged against the runner-up


def test_lower_is_better_flips_the_winner():
    times = {"fast": [100.0, 110.0, 90.0], "slow": [300.0, 310.0, 290.0]}
    verdict = claim_verdict("fast is faster", times, ["fast"], ["slow"], "time",
                            higher_is_better=False)
    assert verdict.status == SUPPORTED
    assert verdict.comparisons[0].margin == pytest.approx(200.0)


def test_claim_over_several_groups_needs_every_pair():
    groups = {"a1": [5.0, 5.1, 4.9], "a2": [3.05, 3.0, 2.95], "b": [3.0, 3.1, 2.9]}
    verdict = claim_verdict("a beat b", groups, ["a1", "a2"], ["b"], "x")
    assert verdict.status == INCONCLUSIVE  # a1 wins clearly, a2 ties
    groups["a2"] = [1.0, 1.1, 0.9]
    assert claim_verdict("a beat b", groups, ["a1", "a2"], ["b"], "x").status == NOT_SUPPORTED


def test_paired_values_are_judged_on_their_differences():
    # Slices differ a lot from each other, but B is better by 1 dB on every slice.
    a = np.array([20.0, 25.0, 30.0, 35.0])
    b = a + np.array([1.0, 1.1, 0.9, 1.0])
    assert not compare(b, a, ("B", "A")).decided  # as independent groups: overlap
    paired = compare(b, a, ("B", "A"), paired=True)
    assert paired.decided and paired.winner == "B"
    assert paired.spread == pytest.approx(np.std(b - a, ddof=1))
    with pytest.raises(ValueError, match="equal lengths"):
        compare(a, b[:3], paired=True)


def test_a_margin_that_prints_as_zero_never_decides():
    groups = {"A": [1.0, 1.0, 1.0], "B": [1.001, 1.001, 1.001]}
    assert claim_verdict("B beats A", groups, ["B"], ["A"], "x", digits=2).status == INCONCLUSIVE
    assert claim_verdict("B beats A", groups, ["B"], ["A"], "x", digits=4).status == SUPPORTED


def test_bad_groups_are_refused():
    with pytest.raises(ValueError, match="finite"):
        compare([1.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="missing"):
        claim_verdict("c", {"A": [1.0]}, ["A"], ["Z"], "x")


@pytest.mark.parametrize(("channels", "size", "groups"),
                         [(64, 8, 8), (64, 16, 4), (64, 32, 2), (16, 32, 1), (8, 8, 1)])
def test_group_size_sets_channels_per_group(channels, size, groups):
    layer = make_norm("group", channels, size)
    assert layer.num_groups == groups
    assert make_norm("group", channels).num_groups == np.gcd(32, channels)  # default unchanged


def test_group_size_is_optional_in_stored_configs():
    stored = {"chans": 4, "depth": 2, "norm": "group", "input": "magnitude",
              "data_consistency": "none"}  # a checkpoint written before group_size existed
    assert UNetConfig(**stored).group_size == 0
    net = NormUnet(UNetConfig(chans=8, depth=2, norm="group", group_size=8))
    counts = {m.num_channels: m.num_groups for m in net.modules() if hasattr(m, "num_groups")}
    assert counts == {8: 1, 16: 2, 32: 4}
    with pytest.raises(ValueError, match="group_size"):
        UNetConfig(group_size=-1).validate()


def test_time_to_target_interpolates_the_first_crossing():
    curve = {"samples": [0, 100, 200, 300], "seconds": [0, 1, 2, 3],
             "psnr": [20.0, 21.0, 23.0, 22.0]}
    assert time_to_target(curve, 22.0) == pytest.approx(150.0)
    assert time_to_target(curve, 22.0, "seconds") == pytest.approx(1.5)
    assert time_to_target(curve, 19.0) == 0.0
    assert time_to_target(curve, 24.0) is None


def _run(study, optimizer, lr, seed, psnr, tuning=None, norm="group", group_size=0, batch=4):
    curve = {"samples": [0, 50, 100], "steps": [0, 12, 25], "seconds": [0, 1, 2], "psnr": psnr,
             "loss": [None, 1, 1]}
    return {"study": study, "optimizer": optimizer, "lr": lr, "norm": norm,
            "group_size": group_size, "batch_size": batch, "seed": seed, "curve": curve,
            "tuning_psnr": tuning}


def test_optimisers_are_compared_at_their_own_best_rate():
    runs = []
    for seed in range(3):
        jitter = 0.01 * seed
        # SGD is poor at 0.01 but good at 0.1; Adam is fast at 1e-3.
        runs += [_run("optimisers", "sgd", 0.01, seed, [20, 20.2, 20.4 + jitter], 20.4),
                 _run("optimisers", "sgd", 0.1, seed, [20, 21.0, 24.0 + jitter], 24.0),
                 _run("optimisers", "adam", 1e-3, seed, [20, 23.9, 24.0 + jitter], 24.0),
                 _run("optimisers", "adam", 1e-2, seed, [20, 19, 18 + jitter], 18.0)]
    rates = best_rates(runs)
    assert rates["sgd"]["lr"] == 0.1 and rates["adam"]["lr"] == 1e-3
    assert rates["sgd"]["at_edge"] and rates["adam"]["at_edge"]
    results = {"zero_filled_psnr": 20.0, "runs": runs}
    study = summarise(results)["optimisers"]
    speed, final = study["verdicts"]
    assert speed.claim.startswith("Adaptive optimisers") and speed.status == SUPPORTED
    assert final.status == INCONCLUSIVE  # both end at 24.0x dB
    results |= {"command": "test", "created": "now", "machine": "cpu", "elapsed_s": 1.0,
                "settings": {"chans": 4, "depth": 2, "patch": 32, "samples": 100,
                             "acceleration": 4.0, "train_data": "x", "validation": "y",
                             "seeds": 3, "optimiser_norm": "group", "optimiser_batch_size": 4}}
    text = markdown(results, summarise(results))
    assert speed.sentence in text and "edge of the sweep" in text


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_lecture",
                                                  ROOT / "benchmarks" / "bench_lecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_quick_benchmark_runs_end_to_end(tmp_path, capsys):
    volume = np.stack([shepp_logan(64) * (1 + 0.05 * k) for k in range(6)], axis=-1)
    nib.save(nib.Nifti1Image(volume.astype(np.float32), np.eye(4)), tmp_path / "brain.nii.gz")
    bench = _bench_module()
    out = tmp_path / "lecture"
    bench.main(["--quick", "--data", f"{tmp_path / 'brain.nii.gz'}?axes=2", "--out", str(out)])
    results = json.loads(out.with_suffix(".json").read_text())
    assert results["complete"]
    assert len(results["runs"]) == len(bench.runs_of(bench.QUICK))
    assert {r["seed"] for r in results["runs"]} == {0, 1, 2}
    for run in results["runs"]:
        curve = run["curve"]
        assert len(curve["psnr"]) == len(curve["samples"]) >= 2 and run["finite"]
        assert curve["samples"][-1] == bench.QUICK["samples"] // run["batch_size"] * \
            run["batch_size"]
    report = out.with_suffix(".md").read_text()
    summary = summarise(results)
    for study in ("optimisers", "norms"):
        for verdict in summary[study]["verdicts"]:
            assert verdict.sentence in report
    assert "group/32" in report and "Adaptive optimisers" in report
    bench.main(["--report-only", "--out", str(out)])  # Markdown again from the JSON
    assert out.with_suffix(".md").read_text() == report


def test_benchmark_refuses_to_train_on_the_validation_subject(tmp_path):
    bench = _bench_module()
    with pytest.raises(SystemExit, match="Colin27"):
        bench.prepare([str(tmp_path / "ch2.nii.gz")], bench.QUICK)
