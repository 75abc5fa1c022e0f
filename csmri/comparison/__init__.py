"""Compare reconstruction methods on identical masked inputs: cases, tuning, runs, reports."""

from csmri.comparison.cases import Case, cases_from_images, cases_from_kspace_file
from csmri.comparison.runner import ComparisonResult, run_comparison

__all__ = [
    "Case",
    "ComparisonResult",
    "cases_from_images",
    "cases_from_kspace_file",
    "run_comparison",
]
