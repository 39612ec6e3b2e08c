"""The report's statistics against independent computations: scipy's own tests, closed forms, and
Monte Carlo where a formula would repeat the code under test."""

import math

import numpy as np
import pytest
from scipy import stats

from stylenorm.report import aggregate, inference
from stylenorm.report.inference import CHANGING, PLATEAUED, UNRESOLVED, last_k_slope

RNG = np.random.default_rng(20260)


def test_welch_matches_scipy_ttest_ind():
    a, b = RNG.normal(10, 1, 6), RNG.normal(9, 2, 4)
    est = inference.welch(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    low, high = ref.confidence_interval(0.95)
    assert est.estimate == pytest.approx(a.mean() - b.mean())
    assert est.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert (est.low, est.high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))


def test_paired_matches_scipy_ttest_rel():
    common = RNG.normal(0, 3, 8)  # seeds as common random numbers: a large shared part
    a, b = common + RNG.normal(0.5, 0.2, 8), common + RNG.normal(0, 0.2, 8)
    est = inference.paired(a, b)
    ref = stats.ttest_rel(a, b)
    low, high = ref.confidence_interval(0.95)
    assert est.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert (est.low, est.high) == (pytest.approx(low, rel=1e-10), pytest.approx(high, rel=1e-10))
    assert est.r == pytest.approx(stats.pearsonr(a, b).statistic)
    assert est.p < inference.welch(a, b).p  # the pairing is real, so it is the sharper test


@pytest.mark.parametrize("shift", [0.0, 0.4, 2.0])
def test_tost_is_the_larger_of_two_one_sided_scipy_tests(shift):
    a, b, margin = RNG.normal(shift, 1, 7), RNG.normal(0, 1, 9), 1.0
    lower = stats.ttest_ind(a + margin, b, equal_var=False, alternative="greater").pvalue
    upper = stats.ttest_ind(a - margin, b, equal_var=False, alternative="less").pvalue
    assert inference.tost(inference.welch(a, b), margin) == pytest.approx(max(lower, upper), rel=1e-9)


def test_ols_slope_matches_linregress():
    x = np.repeat(np.log2([2, 4, 8, 16, 32]), 3)
    y = 1.3 * x + RNG.normal(0, 0.5, x.size)
    est, ref = inference.ols(y, x), stats.linregress(x, y)
    assert (est.estimate, est.se, est.p) == (
        pytest.approx(ref.slope),
        pytest.approx(ref.stderr),
        pytest.approx(ref.pvalue),
    )


def test_ols_interaction_is_the_slope_difference_with_a_pooled_variance():
    x = np.repeat(np.log2([2, 4, 8, 16, 32]), 3)
    ya, yb = 1.0 * x + RNG.normal(0, 0.4, x.size), 0.1 * x + RNG.normal(0, 0.6, x.size)
    est = inference.ols(np.concatenate([ya, yb]), np.concatenate([x, x]), [True] * x.size + [False] * x.size)
    ra, rb = stats.linregress(x, ya), stats.linregress(x, yb)
    sxx = ((x - x.mean()) ** 2).sum()
    # Each group's residual sum of squares, recovered from linregress's slope standard error.
    ssr = (ra.stderr**2 + rb.stderr**2) * sxx * (x.size - 2)
    se = math.sqrt(ssr / (2 * x.size - 4) * 2 / sxx)
    assert est.estimate == pytest.approx(ra.slope - rb.slope)
    assert est.se == pytest.approx(se)
    assert est.p == pytest.approx(2 * stats.t.sf(abs(est.estimate) / se, 2 * x.size - 4))


def _holm_by_definition(p):
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def test_holm_matches_its_definition_and_bonferroni_at_the_first_step():
    p = [0.01, 0.04, 0.03, 0.005, 0.5, 0.04]
    assert inference.holm(p) == pytest.approx(_holm_by_definition(p))
    assert min(inference.holm(p)) == pytest.approx(min(p) * len(p))


def test_detectable_difference_has_80_percent_power_by_simulation():
    n, sd, alpha = 5, 1.0, 0.05
    se, df = sd * math.sqrt(2 / n), 2 * n - 2
    effect = inference.detectable_difference(se, df, alpha)
    rng = np.random.default_rng(1)
    a = rng.normal(effect, sd, (20000, n))
    b = rng.normal(0, sd, (20000, n))
    power = (stats.ttest_ind(a, b, axis=1).pvalue < alpha).mean()
    assert power == pytest.approx(0.8, abs=0.02)


def test_positive_interval_stays_above_zero_and_centres_on_the_geometric_mean():
    values = [0.001, 0.02, 0.5]
    low, high = inference.mean_interval(values, positive=True)
    t_low, _ = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert t_low < 0 < low < stats.gmean(values) < high


def test_iqm_is_the_mean_of_the_middle_half():
    scores = RNG.normal(0, 1, 40)
    middle = np.sort(scores)[10:30]
    assert aggregate.iqm(scores) == pytest.approx(middle.mean())


@pytest.mark.integration
def test_stratified_bootstrap_of_one_task_matches_scipy_bootstrap():
    scores = RNG.normal(0.6, 0.2, 24)
    _, low, high = aggregate.stratified_bootstrap({"task": scores}, reps=4000, seed=3)
    ref = stats.bootstrap(
        (scores,), aggregate.iqm, method="percentile", n_resamples=4000, vectorized=False, random_state=4
    )
    assert low == pytest.approx(ref.confidence_interval.low, abs=0.03)
    assert high == pytest.approx(ref.confidence_interval.high, abs=0.03)


def test_stratified_bootstrap_keeps_each_tasks_runs_in_their_task():
    """With one run per task there is nothing to resample: the interval is the point."""
    point, low, high = aggregate.stratified_bootstrap({"a": [0.2], "b": [0.9], "c": [0.5]}, reps=50)
    assert low == high == point == pytest.approx(np.mean([0.2, 0.9, 0.5]))


def test_probability_of_improvement_is_mann_whitney_u_over_nm():
    a, b = RNG.normal(1, 1, 7), np.append(RNG.normal(0, 1, 5), 1.0)
    a[0] = 1.0  # a tie counts one half
    u = stats.mannwhitneyu(a, b).statistic
    assert aggregate.probability_of_improvement(a, b) == pytest.approx(u / (a.size * b.size))
    point, low, high = aggregate.improvement_interval({"t1": a, "t2": b}, {"t1": b, "t2": a}, reps=500)
    assert point == pytest.approx(0.5) and low < 0.5 < high


def test_normalise_puts_doing_nothing_at_0_and_the_best_at_1():
    assert aggregate.normalise(np.array([10.0, 15.0, 20.0]), nothing=10.0, best=20.0).tolist() == [0.0, 0.5, 1.0]


def _series(runs, steps, values):
    import pandas as pd

    return pd.DataFrame({"run": runs, "step": steps, "value": values})


def test_last_k_slope_of_one_run_matches_linregress():
    steps = [100, 200, 300, 400, 500]
    values = [1.0, 1.5, 1.7, 1.9, 2.4]
    slope = last_k_slope(_series(["r"] * 5, steps, values), k=4)
    ref = stats.linregress(np.array(steps[1:]) / 1000, values[1:])
    half = stats.t.ppf(0.975, 2) * ref.stderr
    assert (slope.slope, slope.low, slope.high) == (
        pytest.approx(ref.slope),
        pytest.approx(ref.slope - half),
        pytest.approx(ref.slope + half),
    )


def test_plateau_needs_the_slope_interval_inside_the_threshold_else_changing_or_unresolved():
    steps = [100, 200, 300] * 3
    runs = ["a"] * 3 + ["b"] * 3 + ["c"] * 3
    flat = [20.0, 20.0, 20.01, 21.0, 21.01, 21.0, 19.0, 19.0, 19.01]  # offsets between seeds are not a slope
    rising = [20.0, 20.5, 21.0, 21.0, 21.5, 22.0, 19.0, 19.5, 20.0]
    noisy = [20.0, 22.0, 20.0, 21.0, 19.0, 21.0, 19.0, 20.5, 19.0]  # slope 0, but too noisy to tell
    assert last_k_slope(_series(runs, steps, flat), 3).state(0.5) == PLATEAUED
    assert last_k_slope(_series(runs, steps, rising), 3).state(0.5) == CHANGING
    falling = [-value for value in rising]  # a direction-free label: a score that gets worse is changing too
    assert last_k_slope(_series(runs, steps, falling), 3).state(0.5) == CHANGING
    noisy_slope = last_k_slope(_series(runs, steps, noisy), 3)
    assert noisy_slope.slope == pytest.approx(0.0) and noisy_slope.state(0.5) == UNRESOLVED
