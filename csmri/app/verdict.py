"""Verdicts computed from numbers: does a claim hold, given per-seed or per-slice values.

The rule is descriptive, not a significance test, and the same everywhere in csmri:

* two groups are **decided** when the margin between their means exceeds their spread.
  Independent groups (seeds): spread = ``std(a) + std(b)`` (sample standard deviations),
  i.e. the ``mean +- std`` intervals do not overlap. Paired groups (the same slices under
  two methods): margin = mean of the per-item differences, spread = their standard deviation.
* a margin no larger than the reporting resolution (half a unit of the last printed
  digit) never decides, so a verdict never rests on a difference that prints as zero;
* a claim "every group in ``better`` beats every group in ``worse``" is **supported** when
  every such pair is decided in its favour, **not supported** when at least one pair is
  decided against it, and **inconclusive at this scale** otherwise.

With 3 seeds a standard deviation is itself uncertain; "inconclusive" then means that
more seeds or a larger budget are needed, not that the groups are equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive at this scale"


@dataclass(frozen=True)
class Comparison:
    """Group ``a`` against group ``b`` on one metric.

    Attributes
    ----------
    a, b : str
        Group names.
    mean_a, std_a, mean_b, std_b : float
        Mean and sample standard deviation of each group (std 0 for a single value).
    margin : float
        How much better ``a`` is than ``b`` (positive: ``a`` better), in the metric's units.
    spread : float
        ``std_a + std_b`` (independent) or the std of the paired differences.
    n_a, n_b : int
        Number of values.
    paired : bool
        Whether the values were paired.
    resolution : float
        Margins no larger than this never decide (see the module notes).
    """

    a: str
    b: str
    mean_a: float
    std_a: float
    mean_b: float
    std_b: float
    margin: float
    spread: float
    n_a: int
    n_b: int
    paired: bool
    resolution: float = 0.0

    @property
    def decided(self) -> bool:
        """Whether the margin exceeds the spread (and the resolution), on two or more items.

        One item per group has no spread to judge a margin by: never decided.
        """
        if min(self.n_a, self.n_b) < 2:
            return False
        return bool(abs(self.margin) > max(self.spread, self.resolution))

    @property
    def winner(self) -> str | None:
        """The better group when decided, else None."""
        if not self.decided:
            return None
        return self.a if self.margin > 0 else self.b


@dataclass(frozen=True)
class Verdict:
    """The outcome of a claim.

    Attributes
    ----------
    claim : str
        The claim in words.
    status : {"supported", "not supported", "inconclusive at this scale"}
        The verdict.
    comparisons : tuple of Comparison
        Every (better, worse) pair the claim is about, ``a`` the claimed-better group.
    sentence : str
        One generated sentence with the verdict, the margin and the spread.
    """

    claim: str
    status: str
    comparisons: tuple[Comparison, ...]
    sentence: str


def _stats(values: Sequence[float]) -> tuple[float, float, int]:
    x = np.asarray(values, dtype=float).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("each group needs one or more finite values")
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return float(x.mean()), std, int(x.size)


def compare(
    a: Sequence[float],
    b: Sequence[float],
    names: tuple[str, str] = ("a", "b"),
    higher_is_better: bool = True,
    paired: bool = False,
    resolution: float = 0.0,
) -> Comparison:
    """Margin and spread of group ``a`` against group ``b``.

    Parameters
    ----------
    a, b : sequence of float
        Values per seed (or per slice when ``paired``).
    names : tuple of str
        Group names.
    higher_is_better : bool
        Direction of the metric (False for times, errors).
    paired : bool
        ``a[i]`` and ``b[i]`` belong to the same item (slice): judge the differences.
    resolution : float
        Margins no larger than this are not decided.

    Returns
    -------
    Comparison
        The numbers.
    """
    mean_a, std_a, n_a = _stats(a)
    mean_b, std_b, n_b = _stats(b)
    sign = 1.0 if higher_is_better else -1.0
    if paired:
        if n_a != n_b:
            raise ValueError(f"paired groups need equal lengths, got {n_a} and {n_b}")
        diff, spread, _ = _stats(np.asarray(a, float) - np.asarray(b, float))
        margin = sign * diff
    else:
        margin, spread = sign * (mean_a - mean_b), std_a + std_b
    return Comparison(names[0], names[1], mean_a, std_a, mean_b, std_b, margin, spread,
                      n_a, n_b, paired, resolution)


def _pair_text(c: Comparison, unit: str, digits: int) -> str:
    def num(mean: float, std: float) -> str:
        return f"{mean:.{digits}f} ± {std:.{digits}f}{unit}"

    ahead = c.a if c.margin > 0 else c.b
    relation = "more" if c.decided else "not more"
    spread = (f"std of the differences over {c.n_a} slices" if c.paired
              else f"sum of the stds over {c.n_a} and {c.n_b} seeds")
    if c.margin == 0:
        lead = "a tie"
    else:
        lead = f"{ahead} ahead by {abs(c.margin):.{digits}f}{unit}"
    return (f"{c.a} {num(c.mean_a, c.std_a)} vs {c.b} {num(c.mean_b, c.std_b)}: {lead}, "
            f"{relation} than the spread {c.spread:.{digits}f}{unit} ({spread})")


def claim_verdict(
    claim: str,
    groups: Mapping[str, Sequence[float]],
    better: Sequence[str],
    worse: Sequence[str],
    metric: str,
    unit: str = "",
    digits: int = 2,
    higher_is_better: bool = True,
    paired: bool = False,
) -> Verdict:
    """Judge "every group in ``better`` beats every group in ``worse``" on ``metric``.

    Parameters
    ----------
    claim : str
        The claim in words (starts the sentence).
    groups : mapping of str to sequence of float
        Values per group (per seed, or per slice when ``paired``).
    better, worse : sequence of str
        Names of the groups claimed to be better and worse.
    metric : str
        What the values are (e.g. ``"final validation PSNR"``).
    unit : str
        Appended to numbers (e.g. ``" dB"``).
    digits : int
        Decimals in the sentence; margins below half a unit of the last digit never decide.
    higher_is_better : bool
        Direction of the metric.
    paired : bool
        Values of all groups are paired item by item.

    Returns
    -------
    Verdict
        Status and sentence.
    """
    missing = [name for name in (*better, *worse) if name not in groups]
    if missing or not better or not worse:
        raise ValueError(f"claim needs known groups on both sides; missing {missing}")
    pairs = tuple(
        compare(groups[b], groups[w], (b, w), higher_is_better, paired, 0.5 * 10.0**-digits)
        for b in better for w in worse
    )
    against = [c for c in pairs if c.decided and c.margin < 0]
    if against:
        status, shown = NOT_SUPPORTED, against
    elif all(c.decided for c in pairs):
        status, shown = SUPPORTED, list(pairs)
    else:
        status, shown = INCONCLUSIVE, [c for c in pairs if not c.decided]
    details = "; ".join(_pair_text(c, unit, digits) for c in shown)
    sentence = f"{claim} — {status} ({metric}): {details}."
    return Verdict(claim, status, pairs, sentence)


def best_of(
    groups: Mapping[str, Sequence[float]],
    metric: str,
    unit: str = "",
    digits: int = 2,
    higher_is_better: bool = True,
    paired: bool = False,
) -> Verdict:
    """Which group is best: the top group against the runner-up.

    Parameters
    ----------
    groups : mapping of str to sequence of float
        Two or more groups.
    metric, unit, digits, higher_is_better, paired
        As in :func:`claim_verdict`.

    Returns
    -------
    Verdict
        ``supported`` (claim: "<top> is best") when the top group's margin over the
        runner-up exceeds the spread, else ``inconclusive at this scale``.
    """
    if len(groups) < 2:
        raise ValueError("need two or more groups")
    sign = 1.0 if higher_is_better else -1.0
    ranked = sorted(groups, key=lambda name: -sign * _stats(groups[name])[0])
    top, runner_up = ranked[0], ranked[1]
    return claim_verdict(f"{top} is best", groups, [top], [runner_up], metric, unit,
                         digits, higher_is_better, paired)
