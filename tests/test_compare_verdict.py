"""``csmri compare`` states the learned-versus-CS verdict and CS time vs scan time."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli.main import csmri
from csmri.io.images import load_sample
from learned.comparison.verdict import family_verdicts, format_footer

FAMILIES = {"unet": "learned", "tv-fista": "CS", "wavelet-fista": "CS", "zero-filled": None}


def _rows(psnr_by_method: dict[str, list[float]], seconds: dict[str, float], accel=4.0):
    return [
        {"input": "x", "slice": i, "method": method, "acceleration": accel, "psnr": value,
         "seconds": seconds[method], "iterations": 1, "realised_acceleration": accel}
        for method, values in psnr_by_method.items() for i, value in enumerate(values)
    ]


def test_consistent_per_slice_lead_is_decided_and_best_cs_method_represents_cs():
    base = np.array([25.0, 30.0, 35.0, 28.0])  # slices differ a lot from each other
    lead = np.array([1.0, 1.1, 0.9, 1.0])
    rows = _rows({"unet": list(base + lead), "tv-fista": list(base),
                  "wavelet-fista": list(base - 2), "zero-filled": list(base - 5)},
                 {"unet": 0.01, "tv-fista": 3.0, "wavelet-fista": 2.0, "zero-filled": 0.0})
    (verdict,) = family_verdicts(rows, FAMILIES, scan_time=6.0)
    assert verdict.comparison.b == "tv-fista"
    assert "learned (unet) beats CS (tv-fista) by 1.00 dB" in verdict.sentence
    assert verdict.sentence.endswith(": decided.")
    assert "3.00 s per slice" in verdict.timing and "1.50 s" in verdict.timing
    assert "2.0x the scan time" in verdict.timing


def test_lead_within_the_spread_over_slices_is_inconclusive_and_cs_can_win():
    rows = _rows({"unet": [30.0, 28.0, 31.0], "tv-fista": [29.0, 30.0, 30.5]},
                 {"unet": 0.01, "tv-fista": 0.5})
    (verdict,) = family_verdicts(rows, FAMILIES)
    assert "inconclusive at this scale" in verdict.sentence
    rows = _rows({"unet": [28.0, 27.0, 29.0], "tv-fista": [30.0, 29.1, 30.9]},
                 {"unet": 0.01, "tv-fista": 0.5})
    (verdict,) = family_verdicts(rows, FAMILIES, scan_time=6.0)
    assert "CS (tv-fista) beats learned (unet) by 2.00 dB" in verdict.sentence
    assert "0.33x the scan time" in verdict.timing


def test_no_verdict_without_both_families():
    rows = _rows({"tv-fista": [30.0], "zero-filled": [25.0]}, {"tv-fista": 1, "zero-filled": 0})
    assert family_verdicts(rows, FAMILIES) == []
    assert format_footer([]) == ""


@pytest.mark.slow
def test_compare_footer_and_results_md_state_the_computed_verdict(tmp_path):
    np.save(tmp_path / "stack.npy", load_sample()[::4, 40:136, 40:136])
    out = tmp_path / "out"
    result = CliRunner().invoke(csmri, [
        "compare", str(tmp_path / "stack.npy"), "--methods", "zero-filled,tv-admm,unet",
        "--iters", "3", "--accel", "4", "--lam", "0.01", "--scan-time", "2", "-o", str(out),
    ])
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "results.json").read_text())["rows"]
    unet = np.array([r["psnr"] for r in rows if r["method"] == "unet"])
    cs = np.array([r["psnr"] for r in rows if r["method"] == "tv-admm"])
    margin, spread = abs((unet - cs).mean()), (unet - cs).std(ddof=1)
    winner = "learned (unet)" if unet.mean() > cs.mean() else "CS (tv-admm)"
    assert f"4x: {winner} beats" in result.stdout
    assert f"by {margin:.2f} dB PSNR (mean over 3 slices)" in result.stdout
    assert f"({spread:.2f} dB, std of the per-slice differences)" in result.stdout
    cs_seconds = np.mean([r["seconds"] for r in rows if r["method"] == "tv-admm"])
    assert f"CS (tv-admm) takes {cs_seconds:.2f} s per slice" in result.stdout
    assert "(2 s fully sampled /" in result.stdout
    md = (out / "results.md").read_text()
    assert "### Learned versus CS" in md and f"- 4x: {winner} beats" in md


def test_one_slice_is_never_decided_whatever_the_margin():
    from csmri.app.verdict import compare

    one = compare([30.0], [20.0], paired=True)
    assert one.margin == 10.0 and not one.decided and one.winner is None
    assert compare([30.0, 31.0], [20.0, 20.5], paired=True).decided
