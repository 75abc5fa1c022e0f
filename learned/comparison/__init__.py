"""Compare reconstruction methods on identical masked inputs: cases, tuning, runs, reports.

The comparison is an application over both families, CS (:mod:`csmri`) and learned
(:mod:`learned`), so it lives above both in the layering: ``cli -> learned -> csmri``.
"""

from learned.comparison.cases import Case, cases_from_acquisition, cases_from_images
from learned.comparison.runner import ComparisonResult, run_comparison

__all__ = [
    "Case",
    "ComparisonResult",
    "cases_from_acquisition",
    "cases_from_images",
    "run_comparison",
]
