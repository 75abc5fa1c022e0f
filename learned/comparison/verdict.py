"""Learned versus compressed sensing: the verdict per acceleration, and CS time vs scan time.

Within each family the method with the highest mean PSNR at that acceleration represents
it (chosen on the scored slices themselves, which favours neither family). The two are
compared slice by slice (paired) with :func:`csmri.app.verdict.compare`: the margin is the
mean per-slice PSNR difference and the spread its standard deviation over slices.

Scan time: ``scan_time`` is the acquisition time of one fully sampled slice; a scan
accelerated R-fold takes ``scan_time / R`` per slice. The default, 6 s, is that of a
2-D T1-weighted spin-echo brain series (TR ~ 500 ms, 256 phase encodes, ~20 interleaved
slices: 128 s / 20 slices ~ 6 s per slice); set ``--scan-time`` for another protocol.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from csmri.app.methods import CompressedSensing, ReconMethod, SenseAdjoint, ZeroFilled
from csmri.app.verdict import Comparison, compare

DEFAULT_SCAN_TIME = 6.0
"""Seconds to acquire one fully sampled slice (see the module notes)."""


@dataclass(frozen=True)
class FamilyVerdict:
    """The learned-versus-CS outcome at one acceleration.

    Attributes
    ----------
    acceleration : float
        Nominal acceleration.
    comparison : Comparison
        Best learned method (``a``) against the best CS method (``b``) on PSNR, paired.
    sentence : str
        Which family won, by how much, and whether the margin exceeds the spread.
    timing : str
        CS seconds per slice next to the scan time per slice.
    """

    acceleration: float
    comparison: Comparison
    sentence: str
    timing: str


def _best(rows: list[dict], names: set[str]) -> str:
    means = {n: np.mean([r["psnr"] for r in rows if r["method"] == n]) for n in names}
    return max(means, key=means.get)


def method_family(method: ReconMethod) -> str | None:
    """``"CS"``, ``"learned"`` (a network) or None (the baselines: zero-filled, GRAPPA)."""
    from csmri.app.grappa import Grappa

    if isinstance(method, CompressedSensing):
        return "CS"
    return None if isinstance(method, ZeroFilled | SenseAdjoint | Grappa) else "learned"


def family_verdicts(
    rows: list[dict], families: dict[str, str], scan_time: float = DEFAULT_SCAN_TIME
) -> list[FamilyVerdict]:
    """One verdict per acceleration at which both families were run.

    Parameters
    ----------
    rows : list of dict
        Per-slice rows of a comparison (``method``, ``acceleration``, ``input``, ``slice``,
        ``psnr``, ``seconds``, ``iterations``, ``realised_acceleration``).
    families : dict of str to str
        Method name -> ``"learned"`` or ``"CS"``; other methods are ignored.
    scan_time : float
        Seconds to acquire one fully sampled slice.

    Returns
    -------
    list of FamilyVerdict
        In order of first appearance of each acceleration.
    """
    by_accel: dict[float, list[dict]] = defaultdict(list)
    for row in rows:
        by_accel[row["acceleration"]].append(row)
    verdicts = []
    for accel, group in by_accel.items():
        present = {row["method"] for row in group}
        learned = {n for n in present if families.get(n) == "learned"}
        cs = {n for n in present if families.get(n) == "CS"}
        if not learned or not cs:
            continue
        a, b = _best(group, learned), _best(group, cs)

        def per_slice(name: str, rows: list[dict] = group) -> dict[tuple, dict]:
            return {(r["input"], r["slice"]): r for r in rows if r["method"] == name}

        slices_a, slices_b = per_slice(a), per_slice(b)
        keys = sorted(set(slices_a) & set(slices_b))
        comparison = compare([slices_a[k]["psnr"] for k in keys],
                             [slices_b[k]["psnr"] for k in keys], (a, b), paired=True,
                             resolution=0.005)
        verdicts.append(FamilyVerdict(accel, comparison, _sentence(accel, comparison),
                                      _timing(accel, [slices_a[k] for k in keys],
                                              [slices_b[k] for k in keys], scan_time)))
    return verdicts


def _sentence(accel: float, c: Comparison) -> str:
    if c.margin == 0:
        lead = f"learned ({c.a}) and CS ({c.b}) tie on PSNR"
    else:
        won, lost = (("learned", c.a), ("CS", c.b)) if c.margin > 0 else (("CS", c.b),
                                                                           ("learned", c.a))
        lead = (f"{won[0]} ({won[1]}) beats {lost[0]} ({lost[1]}) by {abs(c.margin):.2f} dB "
                f"PSNR (mean over {c.n_a} slices)")
    if min(c.n_a, c.n_b) < 2:
        return (f"{accel:g}x: {lead}; one slice has no spread to judge the margin by: "
                "inconclusive at this scale.")
    relation = "exceeds" if c.decided else "does not exceed"
    outcome = "decided" if c.decided else "inconclusive at this scale"
    return (f"{accel:g}x: {lead}; the margin {relation} the spread over slices "
            f"({c.spread:.2f} dB, std of the per-slice differences): {outcome}.")


def _timing(accel: float, learned: list[dict], cs: list[dict], scan_time: float) -> str:
    cs_seconds = float(np.mean([r["seconds"] for r in cs]))
    learned_seconds = float(np.mean([r["seconds"] for r in learned]))
    realised = float(np.mean([r["realised_acceleration"] for r in cs]))
    scan = scan_time / realised
    ratio = cs_seconds / scan
    relation = f"{ratio:.1f}x the scan time" if ratio >= 1 else f"{ratio:.2f}x the scan time"
    return (f"{accel:g}x: CS ({cs[0]['method']}) takes {cs_seconds:.2f} s per slice "
            f"(learned {learned[0]['method']}: {learned_seconds:.3f} s); acquiring a slice "
            f"takes about {scan:.2f} s ({scan_time:g} s fully sampled / {realised:.2f}, "
            f"--scan-time): CS needs {relation}.")


def format_footer(verdicts: list[FamilyVerdict], markdown: bool = False) -> str:
    """Footer lines (text or Markdown bullets) for the comparison tables.

    Parameters
    ----------
    verdicts : list of FamilyVerdict
        From :func:`family_verdicts`.
    markdown : bool
        Markdown section with bullets instead of plain lines.

    Returns
    -------
    str
        Empty when there is no verdict (a family was not run).
    """
    if not verdicts:
        return ""
    lines = [v.sentence for v in verdicts] + [v.timing for v in verdicts]
    if markdown:
        return "\n### Learned versus CS\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"
    return "Learned versus CS:\n" + "\n".join(f"  {line}" for line in lines) + "\n"
