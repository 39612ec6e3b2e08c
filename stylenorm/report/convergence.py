"""Had a variant stopped changing when its runs ended? A ranking of runs still improving is not final.

Per run: the change of a metric over the last quarter of training - its value at the last
validation minus its value at the validation nearest 75% of the last validation's step (the last
validation itself excluded, so sparse validations still compare two points). Per variant: the mean
of those changes against the seed-to-seed standard deviation of the final values. A change smaller
than the noise between seeds is no evidence of movement ("plateaued"); a larger one is "still
improving" or "still getting worse" by the metric's direction. One run has no seed-to-seed spread:
it is held to :data:`SINGLE_RUN_TOLERANCE` of its value instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Where the last quarter starts, as a fraction of the last validation's step.
LATE_FRACTION = 0.75

#: Plateau tolerance for a variant with one run, relative to |final value|.
SINGLE_RUN_TOLERANCE = 0.01

PLATEAUED, IMPROVING, WORSENING, UNKNOWN = "plateaued", "still improving", "still getting worse", "unknown"

RULE = (
    "per run, change = value at the last validation minus value at the validation nearest "
    f"{LATE_FRACTION:.0%} of the last validation's step (the last one excluded); a variant has plateaued "
    "when |mean change over its seeds| ≤ the seed-to-seed std of its final values "
    f"(one run: ≤ {SINGLE_RUN_TOLERANCE:.0%} of |final value|), else it is still improving or still getting "
    "worse; a variant that has not plateaued has its rank marked *not final*"
)


@dataclass(frozen=True)
class LateChange:
    """One run: the metric at ``start_step`` (near 75%) and at ``end_step`` (last validation)."""

    start_step: int
    end_step: int
    start: float
    end: float

    @property
    def change(self) -> float:
        return self.end - self.start


def late_change(series: Sequence[tuple[int, float]], fraction: float = LATE_FRACTION) -> LateChange | None:
    """The change over the last part of ``series`` ((step, value) by step); None with fewer than
    two finite points (nothing to compare)."""
    points = [(step, value) for step, value in series if math.isfinite(value)]
    if len(points) < 2:
        return None
    end_step, end = points[-1]
    target = fraction * end_step
    start_step, start = min(points[:-1], key=lambda point: (abs(point[0] - target), point[0]))
    return LateChange(start_step, end_step, start, end)


@dataclass(frozen=True)
class Convergence:
    state: str  # PLATEAUED, IMPROVING, WORSENING or UNKNOWN
    mean_change: float = math.nan
    threshold: float = math.nan
    n: int = 0  # runs with a late change
    why: str = ""  # for UNKNOWN

    @property
    def final(self) -> bool:
        """Whether a ranking by this metric can be read as final."""
        return self.state == PLATEAUED

    def describe(self) -> str:
        if self.state == UNKNOWN:
            return f"unknown ({self.why})"
        return f"{self.state} (Δ last quarter {self.mean_change:+.3g}, tolerance {self.threshold:.3g}, n={self.n})"


def variant_convergence(
    changes: Sequence[LateChange | None], final_std: float, final_mean: float, higher_is_better: bool
) -> Convergence:
    """Combine the runs' late changes; ``final_std``/``final_mean`` describe the variant's final values."""
    known = [change.change for change in changes if change is not None]
    if not known:
        return Convergence(UNKNOWN, why="fewer than two validations per run")
    mean_change = sum(known) / len(known)
    # One run has no seed-to-seed spread to compare with: a relative tolerance instead.
    threshold = final_std if math.isfinite(final_std) else SINGLE_RUN_TOLERANCE * abs(final_mean)
    if abs(mean_change) <= threshold:
        state = PLATEAUED
    else:
        state = IMPROVING if (mean_change > 0) == higher_is_better else WORSENING
    return Convergence(state, mean_change, threshold, len(known))
