import json
from pathlib import Path

import numpy as np
import pytest

from csmri.mri.masks import equispaced_mask, make_mask, random_mask

RECORDED = json.loads((Path(__file__).parent / "data" / "fastmri_masks.json").read_text())


def _seed(value):
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("case", RECORDED, ids=lambda c: f"{c['kind']}-{c['num_cols']}-{c['seed']}")
def test_masks_are_bit_identical_to_recorded_fastmri_vectors(case):
    # Recorded with fastmri 0.3.0's RandomMaskFunc / EquiSpacedMaskFunc, called with seed=...
    mask = make_mask(
        case["kind"],
        case["num_cols"],
        case["center_fraction"],
        case["acceleration"],
        _seed(case["seed"]),
    )
    assert np.flatnonzero(mask.mask).tolist() == case["columns"]
    assert mask.num_low_frequencies == case["num_low"]


@pytest.mark.parametrize("num_cols,fraction", [(368, 0.08), (181, 0.04), (320, 0.08), (7, 0.3)])
def test_centre_block_follows_fastmri_formula(num_cols, fraction):
    mask = random_mask(num_cols, fraction, 4, seed=1)
    num_low = round(num_cols * fraction)
    start = (num_cols - num_low + 1) // 2
    assert mask.num_low_frequencies == num_low
    assert mask.mask[start : start + num_low].all()


def test_random_mask_sampling_rate_matches_probability_formula():
    num_cols, fraction, acceleration = 368, 0.08, 4
    num_low = round(num_cols * fraction)
    prob = (num_cols / acceleration - num_low) / (num_cols - num_low)
    rates = [random_mask(num_cols, fraction, acceleration, seed=s).mask.sum() for s in range(200)]
    expected = num_low + (num_cols - num_low) * prob
    # the centre columns may also be drawn, so the mean lies a little below num_cols/R
    assert abs(np.mean(rates) - expected) < 0.05 * expected
    assert np.mean(rates) <= num_cols / acceleration + 1


def test_same_seed_same_mask_and_different_seed_different_mask():
    a = random_mask(256, 0.08, 4, seed=7).mask
    b = random_mask(256, 0.08, 4, seed=7).mask
    c = random_mask(256, 0.08, 4, seed=8).mask
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_equispaced_mask_has_constant_spacing_outside_centre():
    mask = equispaced_mask(100, 0.1, 5, seed=None, offset=2)
    assert mask.mask[2::5].all()
    assert mask.mask[[0, 1, 3, 4]].sum() == 0


def test_realised_acceleration_is_reported():
    mask = random_mask(200, 0.08, 4, seed=0)
    assert mask.realised_acceleration == pytest.approx(200 / mask.mask.sum())
    assert mask.sampled_fraction == pytest.approx(mask.mask.mean())


@pytest.mark.parametrize(
    "args", [(1, 0.08, 4), (64, 0.0, 4), (64, 1.0, 4), (64, 0.08, 0.5), (64, 0.999, 4)]
)
def test_invalid_mask_parameters_are_refused(args):
    with pytest.raises(ValueError):
        random_mask(*args, seed=0)


def test_unknown_mask_type_is_refused():
    with pytest.raises(ValueError, match="unknown mask type"):
        make_mask("spiral", 64, 0.08, 4, 0)
