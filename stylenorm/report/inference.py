"""The statistics of a claim: Welch or paired t for A - B, OLS (with an interaction) for trends,
Schuirmann's TOST for equivalence, Holm within a family, the smallest effect detectable at 80% power
(noncentral t), and the plateau rule (docs/evidence.md, 4). Distributions from scipy, fits from numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

CONFIDENCE = 0.95
POWER = 0.8
#: a slope interval inside the threshold; one that excludes 0; one that does neither (too noisy to tell)
PLATEAUED, CHANGING, UNRESOLVED = "plateaued", "still changing", "unresolved"
PER_STEPS = 1000


@dataclass(frozen=True)
class Estimate:
    """An effect (A - B, a slope or a slope difference) with its se, df, 95% interval and two-sided p;
    ``method`` names the test, ``r`` the seed correlation a paired test relied on."""

    estimate: float
    se: float
    df: float
    low: float
    high: float
    p: float
    method: str
    r: float = math.nan

    @classmethod
    def from_t(cls, estimate: float, se: float, df: float, method: str, r: float = math.nan) -> Estimate:
        if not (se > 0 and df > 0):  # no spread: nothing to test (a deterministic or identical result)
            p = 1.0 if estimate == 0 else 0.0
            return cls(estimate, 0.0, df, estimate, estimate, p, method + " (no spread)", r)
        half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
        p = float(2 * stats.t.sf(abs(estimate / se), df))
        return cls(float(estimate), float(se), float(df), float(estimate - half), float(estimate + half), p, method, r)


def _clean(values: Sequence[float]) -> np.ndarray:
    data = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(data)):
        raise ValueError(f"non-finite values must be left out before testing: {data.tolist()}")
    return data


def welch(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """Mean(a) - mean(b), Welch-Satterthwaite df (scipy's)."""
    a, b = _clean(a), _clean(b)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"a difference needs 2 runs on each side, got {a.size} and {b.size}")
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    df = float(stats.ttest_ind(a, b, equal_var=False).df) if se > 0 else a.size + b.size - 2
    return Estimate.from_t(a.mean() - b.mean(), se, df, "Welch t")


def paired(a: Sequence[float], b: Sequence[float]) -> Estimate:
    """Mean of the seed-matched differences a_i - b_i (``a``/``b`` aligned by seed)."""
    a, b = _clean(a), _clean(b)
    if a.size != b.size or a.size < 2:
        raise ValueError(f"a paired difference needs >= 2 matched pairs, got {a.size} and {b.size}")
    d = a - b
    r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else math.nan
    return Estimate.from_t(d.mean(), d.std(ddof=1) / math.sqrt(d.size), d.size - 1, "paired t", r)


def difference(a: Sequence[float], b: Sequence[float], pair: bool, log: bool) -> Estimate:
    """:func:`paired` or :func:`welch`; with ``log`` of log values (exp() of it: a ratio of geometric means)."""
    if log:
        a, b = _clean(a), _clean(b)
        if np.any(a <= 0) or np.any(b <= 0):
            raise ValueError("log_scale needs positive values on both sides")
        a, b = np.log(a), np.log(b)
    return (paired if pair else welch)(a, b)


def ols(y: Sequence[float], x: Sequence[float], group: Sequence[bool] | None = None) -> Estimate:
    """OLS slope of ``y`` on ``x``; with ``group`` (True = A), slope(A) - slope(B): y ~ g + x + g:x."""
    y, x = _clean(y), _clean(x)
    g = None if group is None else np.asarray(group, dtype=float)
    design = np.column_stack([np.ones_like(x), x] if g is None else [np.ones_like(x), g, x, g * x])
    df = y.size - design.shape[1]
    if df < 1 or np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError(
            f"a trend needs >= 2 factor levels per group and more runs than {design.shape[1]} coefficients"
        )
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    cov = residual @ residual / df * np.linalg.inv(design.T @ design)
    name = "OLS slope" if g is None else "OLS interaction (slope A - slope B)"
    return Estimate.from_t(coef[-1], math.sqrt(max(cov[-1, -1], 0.0)), df, name)


def tost(estimate: Estimate, margin: float) -> float:
    """Schuirmann's TOST p-value for |effect| < ``margin``: the larger of the two one-sided p-values."""
    if estimate.se == 0:
        return 0.0 if abs(estimate.estimate) < margin else 1.0
    lower = stats.t.sf((estimate.estimate + margin) / estimate.se, estimate.df)
    upper = stats.t.cdf((estimate.estimate - margin) / estimate.se, estimate.df)
    return float(max(lower, upper))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the order given (step-down, monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=float)
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1]: {p.tolist()}")
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(p.size)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(p[order] * (p.size - np.arange(p.size))))
    return adjusted.tolist()


def detectable_difference(se: float, df: float, alpha: float, power: float = POWER) -> float:
    """The smallest true effect a two-sided t-test at ``alpha`` finds with ``power`` (noncentral t)."""
    if not (se > 0 and df > 0):
        return math.nan
    crit = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(effect: float) -> float:
        far_tail = np.nan_to_num(stats.nct.cdf(-crit, df, effect / se))  # ~0, and scipy gives NaN far out
        return stats.nct.sf(crit, df, effect / se) + far_tail - power

    upper = se * (crit + 2)
    while shortfall(upper) < 0:  # few df: the power rises slowly with the effect
        upper *= 2
    return float(optimize.brentq(shortfall, 0.0, upper))


def detectable_margin(se: float, df: float, alpha: float, power: float = POWER) -> float:
    """The smallest margin TOST at ``alpha`` establishes with ``power`` for a true effect 0 (se taken as known)."""
    if not (se > 0 and df > 0):
        return math.nan
    return float(se * (stats.t.ppf(1 - alpha, df) + stats.t.ppf((1 + power) / 2, df)))


def mean_interval(values: Sequence[float], positive: bool) -> tuple[float, float]:
    """95% t interval of a mean; for a positive quantity (no zeros) on the log scale: the geometric mean's."""
    data = _clean(values)
    if data.size < 2:
        return math.nan, math.nan
    log = positive and np.all(data > 0)
    work = np.log(data) if log else data
    sd = work.std(ddof=1)
    if sd == 0:
        low = high = float(work.mean())
    else:
        low, high = stats.t.interval(CONFIDENCE, work.size - 1, loc=work.mean(), scale=sd / math.sqrt(work.size))
    return (math.exp(low), math.exp(high)) if log else (float(low), float(high))


@dataclass(frozen=True)
class Slope:
    slope: float  # metric units per 1000 steps
    low: float
    high: float
    df: int

    def state(self, threshold: float) -> str:
        if math.isfinite(self.low) and -threshold <= self.low and self.high <= threshold:
            return PLATEAUED
        # "still improving" would claim a direction and a trend that a wide interval around 0 does not show
        return CHANGING if self.low > 0 or self.high < 0 else UNRESOLVED


def last_k_slope(series: pd.DataFrame, k: int) -> Slope:
    """The common slope per 1000 steps of each run's last ``k`` values (``series``: run, step, value), per-run
    intercepts: a variant has plateaued when its 95% interval lies inside the declared threshold."""
    tails = series.sort_values(["run", "step"], kind="stable").groupby("run").tail(k)
    tails = tails[np.isfinite(tails["value"])]
    x = tails["step"].to_numpy(float) / PER_STEPS
    xc = x - tails.groupby("run")["step"].transform("mean").to_numpy(float) / PER_STEPS
    yc = tails["value"].to_numpy(float) - tails.groupby("run")["value"].transform("mean").to_numpy(float)
    sxx = float(xc @ xc)
    df = int(len(tails) - tails["run"].nunique() - 1)
    if sxx == 0 or df < 1:
        return Slope(math.nan, math.nan, math.nan, max(df, 0))
    slope = float(xc @ yc / sxx)
    residual = yc - slope * xc
    half = stats.t.ppf(0.975, df) * math.sqrt(float(residual @ residual) / df / sxx)
    return Slope(slope, slope - half, slope + half, df)
