"""From runs to verdicts: each declared claim tested on exactly the runs it selects, in its family.

Only finished runs with finite scores count (the others are listed). Per claim, metric and level:
A - B by Welch, or paired t when seeds are declared shared, >= 3 match and correlate positively; OLS
slope or interaction for a trend; log values when ``log_scale``. The declared p (two-sided, or TOST
against the smallest effect for "equivalent") is Holm-corrected within the family; the verdict is
supported / contradicted / inconclusive, the latter with the effect this n detects at 80% power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stylenorm.report import inference
from stylenorm.report.claims import Claim, last_k, matches, parse_claims, same, setting_text
from stylenorm.report.convergence import IMPROVING, PLATEAUED, last_k_slope
from stylenorm.report.frame import ReportError, RunTable, scores
from stylenorm.report.metrics import higher_is_better

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
DIFFERENT, EQUIVALENT = "different", "equivalent"


@dataclass
class Analysis:
    table: RunTable
    claims: list[Claim]
    k: int
    alpha: float
    scores: pd.DataFrame  # run x metric (finished runs, finite scores only)
    tests: pd.DataFrame  # one row per test
    left_out: pd.DataFrame  # run, metric ("all" for the whole run), reason
    absent: list[tuple[str, str]]  # (claim, metric) no run of this sweep could test

    @property
    def preset(self) -> str:
        return str(self.table.ablation.get("preset") or "preset")


def _left_out(table: RunTable, raw: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    runs = table.runs
    rows = [
        {
            "run": r.run,
            "metric": "all",
            "reason": f"{r.status} at step {r.global_step}"
            + (f": {r.error}" if isinstance(r.error, str) and r.error else ""),
        }
        for r in runs.itertuples()
        if r.status != "finished"
    ]
    finished = set(runs.loc[runs["status"] == "finished", "run"])
    raw = raw[raw["run"].isin(finished)]
    for r in raw[~raw["finite"]].itertuples():
        rows.append({"run": r.run, "metric": r.metric, "reason": "non-finite value among its last validations"})
    wide = raw[raw["finite"]].pivot(index="run", columns="metric", values="score")
    return wide, rows


def analyze(table: RunTable, alpha: float = 0.05) -> Analysis:
    if not 0 < alpha < 1:
        raise ReportError(f"alpha must lie between 0 and 1, got {alpha}")
    preset = str(table.ablation.get("preset") or "the runs' preset")
    claims = parse_claims(table.ablation.get("claims"), preset)
    k = last_k(table.ablation)
    wide, left = _left_out(table, scores(table, k))
    settings = table.runs.set_index("run")
    rows, absent = [], []
    for claim in claims:
        _check_keys(claim, settings)
        for metric in claim.metrics:
            usable = wide[metric].dropna().index if metric in wide.columns else pd.Index([])
            groups = list(_groups(claim, settings, usable, table.varied()))
            if not any(a for _, a, _ in groups) or (claim.comparison.b and not any(b for _, _, b in groups)):
                absent.append((claim.id, metric))  # the sweep did not run this claim's variants
                continue
            for level, a_runs, b_runs in groups:
                rows.append(_test(claim, metric, level, a_runs, b_runs, settings, wide[metric], table, k))
    tests = pd.DataFrame(rows)
    if not tests.empty:
        _decide(tests, claims, alpha)
    left_out = pd.DataFrame(left, columns=["run", "metric", "reason"])
    return Analysis(table, claims, k, alpha, wide, tests, left_out, absent)


def _check_keys(claim: Claim, settings: pd.DataFrame) -> None:
    """A selector key no run has would match nothing (or everything, for null) without a word."""
    comparison = claim.comparison
    named = {**claim.where, **comparison.a, **(comparison.b or {})}
    keys = [*named, *comparison.within, *([comparison.factor] if comparison.factor else [])]
    unknown = [key for key in keys if key not in settings.columns]
    if unknown:
        raise ReportError(
            f"claim {claim.id!r} names {unknown}, which no run's config has; use dotted config keys "
            f"such as norm.kind or data.batch_size (the runs have e.g. {sorted(settings.columns)[:6]})"
        )


def _groups(claim: Claim, settings: pd.DataFrame, usable: pd.Index, varied: list[str]):
    """(level label, runs of A, runs of B) per level of ``within`` (one level when there is none)."""
    pool = [run for run in usable if matches(settings.loc[run].to_dict(), claim.where)]
    within = list(claim.comparison.within)
    levels = settings.loc[pool, within].drop_duplicates().to_dict("records") if within else [{}]
    for level in sorted(levels, key=lambda d: [str(v) for v in d.values()]):
        here = [run for run in pool if all(same(settings.at[run, key], value) for key, value in level.items())]
        a = [run for run in here if matches(settings.loc[run].to_dict(), claim.comparison.a)]
        b = [run for run in here if claim.comparison.b and matches(settings.loc[run].to_dict(), claim.comparison.b)]
        label = ", ".join(f"{key}={setting_text(value)}" for key, value in level.items())
        if within and claim.comparison.type == "difference" and not (a and b):
            continue  # a level where the sweep ran one side only (e.g. affine on only) has nothing to compare
        if claim.comparison.type == "difference":
            for side, runs in (("a", a), ("b", b)):
                _one_variant(claim, side, label, runs, settings, varied)
        yield label, a, b


def _one_variant(
    claim: Claim, side: str, level: str, runs: list[str], settings: pd.DataFrame, varied: list[str]
) -> None:
    """A difference compares two variants: a selector that catches several (e.g. every batch size) would
    average over a factor the claim did not name."""
    kinds = settings.loc[runs, varied].astype(str).drop_duplicates() if runs and varied else []
    if len(kinds) > 1:
        differ = [c for c in varied if kinds[c].nunique() > 1]
        raise ReportError(
            f"claim {claim.id!r}{' at ' + level if level else ''}: comparison.{side} selects runs of {len(kinds)} "
            f"variants (they differ in {differ}); narrow comparison.{side}, add where:, or add within: {differ}"
        )


def _estimate(claim: Claim, a: pd.Series, b: pd.Series, seeds: pd.Series, x: pd.Series):
    comparison = claim.comparison
    if comparison.type == "trend":
        xa = np.log2(x[a.index].astype(float)) if comparison.scale == "log2" else x[a.index].astype(float)
        if comparison.b is None:
            return inference.ols(a.to_numpy(), xa.to_numpy())
        xb = np.log2(x[b.index].astype(float)) if comparison.scale == "log2" else x[b.index].astype(float)
        y = np.concatenate([a.to_numpy(), b.to_numpy()])
        return inference.ols(y, np.concatenate([xa, xb]), [True] * len(a) + [False] * len(b))
    if claim.pairing == "seed":
        sa, sb = a.groupby(seeds[a.index]).first(), b.groupby(seeds[b.index]).first()
        shared = sa.index.intersection(sb.index)
        if len(shared) >= 3:
            va, vb = sa[shared].to_numpy(), sb[shared].to_numpy()
            test = inference.log_ratio(va, vb, True) if claim.log_scale else inference.paired(va, vb)
            if test.r > 0:  # the pairing is real: seeds act as common random numbers
                return test
            unpaired = inference.log_ratio(a, b, False) if claim.log_scale else inference.welch(a, b)
            return inference.Estimate(
                *[getattr(unpaired, f) for f in ("estimate", "se", "df", "low", "high", "p")],
                unpaired.method + f" (pairing declared, {_correlation_note(test.r)})",
                test.r,
            )
    return inference.log_ratio(a, b, False) if claim.log_scale else inference.welch(a, b)


def _test(claim, metric, level, a_runs, b_runs, settings, score, table, k) -> dict:
    row = {
        "claim": claim.id,
        "family": claim.family,
        "metric": metric,
        "level": level,
        "expect": claim.expect,
        "n_a": len(a_runs),
        "n_b": len(b_runs),
        "smallest_effect": claim.smallest_effect,
        "scale": "ratio A/B"
        if claim.log_scale
        else (
            "per log2 " + claim.comparison.factor
            if claim.comparison.type == "trend" and claim.comparison.scale == "log2"
            else "difference"
        ),
    }
    try:
        est = _estimate(
            claim,
            score[a_runs],
            score[b_runs],
            settings["seed"],
            settings.get(claim.comparison.factor) if claim.comparison.factor else None,
        )
    except (ValueError, np.linalg.LinAlgError) as error:
        row.update(
            estimate=math.nan,
            low=math.nan,
            high=math.nan,
            se=math.nan,
            df=math.nan,
            p=math.nan,
            method="",
            r=math.nan,
            note=str(error),
            p_declared=math.nan,
            convergence="",
        )
        return row
    row.update(
        estimate=est.estimate,
        low=est.low,
        high=est.high,
        se=est.se,
        df=est.df,
        p=est.p,
        method=est.method,
        r=est.r,
        note="",
    )
    margin = math.log(claim.smallest_effect) if claim.log_scale else claim.smallest_effect
    row["p_declared"] = inference.tost(est, margin) if claim.expect == "equivalent" else est.p
    row["convergence"] = _convergence(claim, metric, a_runs + b_runs, settings, table, k)
    return row


def _convergence(claim: Claim, metric: str, runs: list[str], settings: pd.DataFrame, table: RunTable, k: int) -> str:
    """plateaued when every variant among ``runs`` has its last-k slope interval inside the declared
    threshold; else the variants still improving, by their varied settings."""
    threshold = claim.plateau.get(metric)
    if threshold is None:
        return "no plateau threshold declared"
    # named by the settings that differ among these runs only (not eps, momentum, ... of other kinds)
    varied = [c for c in table.varied() if c in settings.columns and settings.loc[runs, c].map(str).nunique() > 1]
    steps = table.steps[(table.steps["metric"] == metric) & table.steps["run"].isin(runs)]
    moving = []
    # iterating a groupby over a list yields tuples of values (its .groups keys would be scalars for one column)
    grouped = settings.loc[runs].groupby(varied, dropna=False) if varied else None
    groups = [(values, frame.index) for values, frame in grouped] if varied else [((), runs)]
    for values, members in groups:
        slope = last_k_slope(steps[steps["run"].isin(members)], k)
        if slope.state(threshold) != PLATEAUED:
            name = ",".join(f"{c.rsplit('.', 1)[-1]}={v}" for c, v in zip(varied, values, strict=False))
            moving.append(f"{name} ({slope.slope:+.3g} [{slope.low:+.3g}, {slope.high:+.3g}]/1k steps)")
    return PLATEAUED if not moving else f"{IMPROVING}: " + "; ".join(moving)


def _decide(tests: pd.DataFrame, claims: list[Claim], alpha: float) -> None:
    by_id = {claim.id: claim for claim in claims}
    tests["p_adjusted"] = math.nan
    tested = tests["p_declared"].notna()
    for _family, index in tests[tested].groupby("family").groups.items():
        tests.loc[index, "p_adjusted"] = inference.holm(tests.loc[index, "p_declared"].to_list())
    size = tests[tested].groupby("family")["claim"].transform("size")
    outcomes, verdicts, detect = [], [], []
    for i, row in tests.iterrows():
        claim = by_id[row["claim"]]
        margin = math.log(claim.smallest_effect) if claim.log_scale else claim.smallest_effect
        if not tested[i]:
            outcomes.append("n too small")
            verdicts.append(INCONCLUSIVE)
            detect.append(math.nan)
            continue
        significant = row["p_adjusted"] < alpha
        level = alpha / size[i]  # Holm's first step: the power a test in this family needs at least
        if claim.expect == "equivalent":
            if significant:
                outcome, verdict = EQUIVALENT, SUPPORTED
            elif row["low"] > margin or row["high"] < -margin:
                outcome, verdict = DIFFERENT, CONTRADICTED
            else:
                outcome, verdict = INCONCLUSIVE, INCONCLUSIVE
            found = inference.detectable_margin(row["se"], row["df"], level) if verdict == INCONCLUSIVE else math.nan
        else:
            if significant:
                outcome = DIFFERENT
                verdict = SUPPORTED if (row["estimate"] > 0) == (claim.expect == "greater") else CONTRADICTED
            else:
                outcome, verdict = INCONCLUSIVE, INCONCLUSIVE
            found = (
                inference.detectable_difference(row["se"], row["df"], level) if verdict == INCONCLUSIVE else math.nan
            )
        outcomes.append(outcome)
        verdicts.append(verdict)
        detect.append(found)
    tests["outcome"], tests["verdict"], tests["detectable"] = outcomes, verdicts, detect
    tests["matters"] = [_matters(row, by_id[row["claim"]]) for _, row in tests.iterrows()]
    logs = tests["claim"].map(lambda c: by_id[c].log_scale)
    for column in ("estimate", "low", "high", "detectable"):
        tests.loc[logs, column] = np.exp(tests.loc[logs, column])


def _matters(row: pd.Series, claim: Claim) -> str:
    """Whether the effect is as large as the smallest that matters: "yes" when the whole interval lies
    beyond it, "no" when it lies inside (-m, m), else "unclear" (before the log-scale back-transform)."""
    if not math.isfinite(row["low"]):
        return "unclear"
    margin = math.log(claim.smallest_effect) if claim.log_scale else claim.smallest_effect
    if row["low"] >= margin or row["high"] <= -margin:
        return "yes"
    if -margin < row["low"] and row["high"] < margin:
        return "no"
    return "unclear"


def _correlation_note(r: float) -> str:
    """Why a declared pairing was not used: the seeds do not correlate, or a side does not vary at all."""
    return f"seed correlation r={r:.2f} <= 0" if math.isfinite(r) else "no seed correlation: a side is constant"


def variant_table(analysis: Analysis) -> pd.DataFrame:
    """Every variant (finished runs grouped by the settings that vary, the seed apart): n, seeds, and per
    val/ or flicker/ metric (and any a claim uses) the mean, sd and 95% interval (log scale for losses) -
    described, not tested."""
    varied = analysis.table.varied()
    settings = analysis.table.runs.set_index("run").loc[analysis.scores.index]
    frame = analysis.scores.join(settings[[*varied, "seed"]])
    declared = {metric for claim in analysis.claims for metric in claim.metrics}
    metrics = [m for m in analysis.scores.columns if m.startswith(("val/", "flicker/")) or m in declared]
    rows = []
    for values, group in frame.groupby(varied, dropna=False, sort=True) if varied else [((), frame)]:
        values = values if isinstance(values, tuple) else (values,)
        row = dict(zip(varied, values, strict=False))
        row["n"] = len(group)
        row["seeds"] = " ".join(str(s) for s in sorted(group["seed"]))
        for metric in metrics:
            data = group[metric].dropna().to_numpy()
            low, high = (
                inference.mean_interval(data, positive=not higher_is_better(metric))
                if len(data)
                else (math.nan, math.nan)
            )
            row[f"{metric} mean"] = data.mean() if len(data) else math.nan
            row[f"{metric} sd"] = data.std(ddof=1) if len(data) > 1 else math.nan
            row[f"{metric} low"], row[f"{metric} high"] = low, high
        rows.append(row)
    return pd.DataFrame(rows)
