"""SSDU splits (learned.data.splits): disjoint, covering, centre kept, seeded, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import learned.adapt as adapt
from csmri.errors import InputError, UsageError
from csmri.mri.masks import random_mask
from learned.data import splits
from learned.data.splits import centre_units, draw_subset, ssdu_split, ssdu_splits
from learned.models.consistency import centre_block


def column_mask(seed: int = 0) -> np.ndarray:
    return random_mask(64, 0.1, 3, seed=seed).mask


def grid_mask(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = rng.random((32, 40)) < 0.3
    mask[12:21, 16:25] = True  # a 9x9 fully sampled centre
    return mask


@pytest.mark.parametrize("mask", [column_mask(), grid_mask()], ids=["columns", "2-D"])
def test_split_is_disjoint_covers_the_mask_and_keeps_the_centre(mask: np.ndarray) -> None:
    centre = centre_units(mask)
    assert centre.any()
    theta, loss = ssdu_split(mask, 0.4, np.random.default_rng(0))
    assert theta.shape == loss.shape == mask.shape
    assert not (theta & loss).any()
    np.testing.assert_array_equal(theta | loss, mask)
    assert (theta & centre).sum() == centre.sum()
    assert not (loss & centre).any()
    assert loss.any()


@pytest.mark.parametrize("fraction", [0.2, 0.4, 0.6])
def test_loss_set_holds_the_requested_fraction_of_non_centre_units(fraction: float) -> None:
    mask = grid_mask(1)
    outer = int((mask & ~centre_units(mask)).sum())
    _, loss = ssdu_split(mask, fraction, np.random.default_rng(5))
    assert loss.sum() == round(fraction * outer)


def test_split_is_deterministic_under_a_seed_and_varies_with_it() -> None:
    mask = column_mask(2)
    first = ssdu_split(mask, 0.4, np.random.default_rng(7))
    again = ssdu_split(mask, 0.4, np.random.default_rng(7))
    other = ssdu_split(mask, 0.4, np.random.default_rng(8))
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_split_is_the_draw_adaptation_makes() -> None:
    """One implementation: ssdu_split is draw_subset of the non-centre units, theta the rest."""
    mask = column_mask(3)
    loss = draw_subset(mask & ~centre_units(mask), 0.4, np.random.default_rng(1))
    theta, split_loss = ssdu_split(mask, 0.4, np.random.default_rng(1))
    np.testing.assert_array_equal(split_loss, loss)
    np.testing.assert_array_equal(theta, mask & ~loss)


def test_explicit_centre_is_kept_and_wrong_shape_refused() -> None:
    mask = np.ones(16, dtype=bool)
    centre = np.zeros(16, dtype=bool)
    centre[:3] = True
    theta, loss = ssdu_split(mask, 0.5, np.random.default_rng(0), centre=centre)
    assert theta[:3].all() and not loss[:3].any()
    assert loss.sum() == round(0.5 * 13)
    with pytest.raises(UsageError, match="does not fit"):
        ssdu_split(mask, 0.5, np.random.default_rng(0), centre=np.zeros(8, dtype=bool))


@pytest.mark.parametrize("outside", [0, 1])
def test_fewer_than_two_non_centre_units_are_refused(outside: int) -> None:
    mask = np.zeros(32, dtype=bool)
    mask[12:20] = True  # the centre run
    mask[:outside] = True
    with pytest.raises(InputError, match=f"at least 2 measured columns .* got {outside}"):
        ssdu_split(mask, 0.4, np.random.default_rng(0))
    mask[[28, 30]] = True  # now 2 or 3 outside: one goes to the loss set
    theta, loss = ssdu_split(mask, 0.4, np.random.default_rng(0))
    assert loss.sum() == 1 and theta.sum() == mask.sum() - 1


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_fraction_outside_the_open_interval_is_refused(fraction: float) -> None:
    with pytest.raises(UsageError, match="strictly between 0 and 1"):
        ssdu_split(column_mask(), fraction, np.random.default_rng(0))


def test_multi_mask_draws_are_independent_valid_splits_in_order() -> None:
    mask = grid_mask(4)
    draws = ssdu_splits(mask, 4, 0.3, np.random.default_rng(11))
    rng = np.random.default_rng(11)
    expected = [ssdu_split(mask, 0.3, rng) for _ in range(4)]
    assert len(draws) == 4
    for (theta, loss), (want_theta, want_loss) in zip(draws, expected):
        np.testing.assert_array_equal(theta, want_theta)
        np.testing.assert_array_equal(loss, want_loss)
        np.testing.assert_array_equal(theta | loss, mask)
    assert len({draw[1].tobytes() for draw in draws}) == 4
    with pytest.raises(UsageError, match="at least one split"):
        ssdu_splits(mask, 0, 0.3, np.random.default_rng(0))


def test_column_centre_matches_the_torch_centre_block() -> None:
    for seed in range(20):
        mask = np.random.default_rng(seed).random(33) < 0.6
        expected = centre_block(torch.as_tensor(mask)).numpy()
        np.testing.assert_array_equal(centre_units(mask), expected)


def test_adapt_keeps_the_split_helpers_importable_and_shared() -> None:
    assert adapt.centre_units is splits.centre_units
    assert adapt.holdout_set is splits.holdout_set
    assert adapt.draw_subset is splits.draw_subset
