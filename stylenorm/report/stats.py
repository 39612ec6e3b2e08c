"""Seed-to-seed statistics: is a difference between two variants more than noise?

Every variant is run with a few seeds, so each metric gives a small sample per variant. The report
gives its mean, standard deviation (ddof=1: the sample estimate), a 95% Student-t confidence
interval of the mean and n, and tests each variant against its reference with Welch's t-test
(unequal variances: batch norm at batch size 2 is far noisier than group norm, so a pooled variance
would be wrong), then corrects the p-values of one metric for the number of comparisons with
Holm-Bonferroni (controls the chance of any false "different" among them, without assuming the
tests are independent - they share the reference).

The distributions come from scipy; the only arithmetic here is Holm's step-down rule. Samples too
small or without spread get an explicit verdict instead of a NaN (see :func:`welch`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Named in the report next to every p-value.
TEST_NAME = "Welch's t-test (two-sided, unequal variances; scipy.stats.ttest_ind(equal_var=False))"
CORRECTION_NAME = "Holm-Bonferroni, over all comparisons of the same metric"
INTERVAL_NAME = "95% Student-t confidence interval of the mean (scipy.stats.t)"

#: Verdicts of one comparison.
BETTER, WORSE, NOT_SIGNIFICANT, N_TOO_SMALL = "better", "worse", "not significant", "n too small"

#: Notes for the cases where no t-test is run.
NOTE_N_TOO_SMALL = "n too small (needs 2 runs on each side)"
NOTE_IDENTICAL = "no spread in either group and equal means: p = 1"
NOTE_DETERMINISTIC = "deterministic difference: no spread in either group, different means: p = 0"


@dataclass(frozen=True)
class Summary:
    """Mean, sample std, confidence interval and n of one metric over one variant's runs.

    n = 0: everything NaN. n = 1: the mean is the value, std and interval are NaN (one run says
    nothing about seed-to-seed spread). No spread (all values equal): std 0 and the interval is the
    mean itself.
    """

    n: int
    mean: float
    std: float
    ci_low: float
    ci_high: float


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    data = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"non-finite values must be left out before averaging: {list(values)}")
    n = int(data.size)
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(data.mean())
    if n == 1:
        return Summary(1, mean, math.nan, math.nan, math.nan)
    std = float(data.std(ddof=1))
    if std == 0.0:
        return Summary(n, mean, 0.0, mean, mean)
    low, high = stats.t.interval(confidence, df=n - 1, loc=mean, scale=std / math.sqrt(n))
    return Summary(n, mean, std, float(low), float(high))


@dataclass(frozen=True)
class Test:
    """One variant against its reference: difference of means (variant - reference) and p-value.

    ``p`` is None when no test was possible (n too small); ``note`` says why a p-value was set
    without a t-test, or why there is none.
    """

    difference: float
    p: float | None
    note: str = ""


def welch(variant: Sequence[float], reference: Sequence[float]) -> Test:
    """Welch's t-test of ``variant`` against ``reference`` (two-sided).

    Edge cases, decided here so the report never shows a NaN p-value:

    * n < 2 on either side: no variance estimate, no test (``p`` None, "n too small").
    * No spread on either side, equal means: p = 1 (nothing differs).
    * No spread on either side, different means: p = 0, a "deterministic difference" - every seed
      gave the same value on each side, so the difference is not seed noise. (It can still be
      hardware noise: the report prints precision and hardware.)
    * No spread on one side only: the t-test is well defined (the other side carries the variance).
    """
    a = np.asarray(variant, dtype=float)
    b = np.asarray(reference, dtype=float)
    difference = float(a.mean() - b.mean()) if a.size and b.size else math.nan
    if a.size < 2 or b.size < 2:
        return Test(difference, None, NOTE_N_TOO_SMALL)
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        if difference == 0:
            return Test(0.0, 1.0, NOTE_IDENTICAL)
        return Test(difference, 0.0, NOTE_DETERMINISTIC)
    with warnings.catch_warnings():
        # scipy warns about precision when one side has no spread; its variance is exactly 0 then.
        warnings.filterwarnings("ignore", message="Precision loss occurred", category=RuntimeWarning)
        result = stats.ttest_ind(a, b, equal_var=False)
    return Test(difference, float(result.pvalue))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given.

    Sorted ascending, the i-th smallest (i = 1..m) is multiplied by m - i + 1; each adjusted value
    is the running maximum of those products (so the order of the raw p-values is kept), capped at 1.
    Rejecting where adjusted p < alpha is Holm's step-down procedure at family-wise level alpha.
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return []
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1]: {list(pvalues)}")
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return [float(value) for value in adjusted]


def verdict(difference: float, p_adjusted: float | None, alpha: float, higher_is_better: bool) -> str:
    """ "better"/"worse" (than the reference) when the adjusted p is below ``alpha``, else "not
    significant"; "n too small" when there was no test."""
    if p_adjusted is None:
        return N_TOO_SMALL
    if p_adjusted >= alpha or difference == 0:
        return NOT_SIGNIFICANT
    return BETTER if (difference > 0) == higher_is_better else WORSE
