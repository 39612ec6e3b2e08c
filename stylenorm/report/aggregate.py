"""Across tasks: normalised scores, interquartile mean with stratified bootstrap intervals, and the
probability of improvement (Agarwal et al. 2021, "Deep RL at the edge of the statistical precipice"; the
method of the archived ``rliable`` library). Scores run per task from doing nothing (0) to the best
variant's mean (1); intervals resample runs within each task; P(A > B) is Mann-Whitney's, averaged over tasks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

REPS = 2000


def normalise(score: np.ndarray, nothing: float, best: float) -> np.ndarray:
    """0 = doing nothing, 1 = the best variant on this task."""
    if best == nothing:
        raise ValueError("the best variant scores the same as doing nothing: this task cannot normalise scores")
    return (np.asarray(score, dtype=float) - nothing) / (best - nothing)


def iqm(scores: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy's 25% trimmed mean)."""
    return float(stats.trim_mean(np.asarray(scores, dtype=float).ravel(), 0.25))


def _bootstrap(samples: list[np.ndarray], statistic, reps: int, seed: int, tail: float) -> tuple[float, float, float]:
    """``statistic(samples)`` with its percentile interval when each sample is resampled (in order) ``reps`` times."""
    rng = np.random.default_rng(seed)
    draws = [statistic([s[rng.integers(0, s.size, s.size)] for s in samples]) for _ in range(reps)]
    low, high = np.percentile(draws, [tail, 100 - tail])
    return statistic(samples), float(low), float(high)


def stratified_bootstrap(
    per_task: Mapping[str, Sequence[float]], statistic=iqm, reps: int = REPS, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """``statistic`` over all runs, with its percentile interval when runs are resampled within each task."""
    arrays = [np.asarray(v, dtype=float) for v in per_task.values()]
    return _bootstrap(arrays, lambda parts: statistic(np.concatenate(parts)), reps, seed, (1 - confidence) / 2 * 100)


def probability_of_improvement(a: Sequence[float], b: Sequence[float]) -> float:
    """P(X > Y) + P(X = Y)/2 for a run X of A and a run Y of B on one task (U / (n m))."""
    a, b = np.asarray(a, dtype=float)[:, None], np.asarray(b, dtype=float)[None, :]
    return float((a > b).mean() + (a == b).mean() / 2)


def improvement_interval(
    a: Mapping[str, Sequence[float]], b: Mapping[str, Sequence[float]], reps: int = REPS, seed: int = 0
) -> tuple[float, float, float]:
    """P(A > B) averaged over the tasks both have, with a stratified bootstrap percentile interval."""
    tasks = [t for t in a if t in b]
    if not tasks:
        raise ValueError("A and B share no task")
    samples = [np.asarray(side[t], dtype=float) for t in tasks for side in (a, b)]  # A, B of each task in turn

    def statistic(parts: list[np.ndarray]) -> float:
        return float(np.mean([probability_of_improvement(x, y) for x, y in zip(parts[::2], parts[1::2], strict=True)]))

    return _bootstrap(samples, statistic, reps, seed, 2.5)


def across_tasks(scores: pd.DataFrame, settings: pd.DataFrame, labels: pd.Series, spec: Mapping, min_seeds: int = 5):
    """``ablation.across_tasks`` for runs grouped by ``labels`` (run -> variant): per variant the IQM with its
    interval, P(row > column) as text, and what was left out. Counts the variants with >= ``min_seeds`` runs on
    every chosen task, tasks where doing nothing scores finite values; None unless 2 variants and 2 tasks remain."""
    task, metric, nothing = spec["task"], spec["metric"], spec["nothing"]
    if metric not in scores or nothing not in scores:
        return None
    frame = scores[[metric, nothing]].join(settings[[task]]).join(labels.rename("variant"), how="inner")
    frame = frame.dropna(subset=[metric])
    frame[task] = frame[task].map(lambda value: "null" if pd.isna(value) else str(value))
    finite = frame.groupby(task)[nothing].apply(lambda values: bool(np.isfinite(values).all()))
    enough = frame.groupby(["variant", task]).size().unstack(fill_value=0).ge(min_seeds)
    enough = enough.loc[:, [t for t in enough.columns if finite.get(t, False)]]
    variants = sorted(enough.index[enough.sum(axis=1) >= 2])
    tasks = [t for t in enough.columns if variants and enough.loc[variants, t].all()]
    if len(variants) < 2 or len(tasks) < 2:
        return None
    chosen = {
        "tasks": [str(t) for t in tasks],
        "left_out_variants": sorted(set(frame["variant"]) - set(variants)),
        "left_out_tasks": sorted(str(t) for t in set(frame[task]) - set(tasks)),
    }
    per_task = {}
    for name, runs in frame[frame["variant"].isin(variants) & frame[task].isin(tasks)].groupby(task):
        best = runs.groupby("variant")[metric].mean().max()
        per_task[name] = runs.assign(normalised=normalise(runs[metric], runs[nothing].mean(), best))

    def side(variant: str, column: str) -> dict[str, pd.Series]:
        return {t: r.loc[r["variant"] == variant, column] for t, r in per_task.items()}

    iqm = [(variant, *stratified_bootstrap(side(variant, "normalised"))) for variant in variants]
    improvement = pd.DataFrame("—", index=variants, columns=variants, dtype=object)
    for a, b in ((a, b) for a in variants for b in variants if a != b):
        interval = improvement_interval(side(a, metric), side(b, metric), reps=500)
        improvement.loc[a, b] = "{:.2f} [{:.2f}, {:.2f}]".format(*interval)
    return pd.DataFrame(iqm, columns=["variant", "IQM", "low", "high"]), improvement, chosen
