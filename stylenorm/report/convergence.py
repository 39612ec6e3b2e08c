"""Had a variant stopped moving when its runs ended? (docs/evidence.md, 4)

A run's score is the mean of its last k validations. Over those same k validations of every seed of
a variant, the metric is regressed on the step with one intercept per seed (so seed offsets are not
read as a slope); the common slope, per 1000 optimizer steps, gets a 95% t interval. The variant
has "plateaued" on a metric only when that whole interval lies inside +-threshold (the claim's
declared ``plateau``); otherwise it is "still improving" and its rank is not final.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

PLATEAUED, IMPROVING = "plateaued", "still improving"
PER_STEPS = 1000


@dataclass(frozen=True)
class Slope:
    slope: float  # metric units per 1000 steps
    low: float
    high: float
    df: int

    def state(self, threshold: float) -> str:
        inside = math.isfinite(self.low) and -threshold <= self.low and self.high <= threshold
        return PLATEAUED if inside else IMPROVING


def last_k_slope(series: pd.DataFrame, k: int) -> Slope:
    """``series``: columns run, step, value (one variant, one metric). Common slope over each run's
    last ``k`` points, with per-run intercepts; NaN interval when there are too few points."""
    tails = series.sort_values(["run", "step"], kind="stable").groupby("run").tail(k)
    tails = tails[np.isfinite(tails["value"])]
    x = tails["step"].to_numpy(float) / PER_STEPS
    y = tails["value"].to_numpy(float)
    runs = tails["run"].to_numpy()
    xc = x - tails.groupby("run")["step"].transform("mean").to_numpy(float) / PER_STEPS
    yc = y - tails.groupby("run")["value"].transform("mean").to_numpy(float)
    sxx = float(xc @ xc)
    df = int(len(y) - len(set(runs)) - 1)
    if sxx == 0 or df < 1:
        return Slope(math.nan, math.nan, math.nan, max(df, 0))
    slope = float(xc @ yc / sxx)
    residual = yc - slope * xc
    se = math.sqrt(float(residual @ residual) / df / sxx)
    half = stats.t.ppf(0.975, df) * se
    return Slope(slope, slope - half, slope + half, df)
