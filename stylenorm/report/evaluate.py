"""From runs to verdicts: each declared claim tested on exactly the runs it selects, in its family.

Only finished runs with finite scores count (the others are listed). Per claim, metric and level: Welch,
or paired t when seeds are declared shared, >= 3 match and correlate positively; OLS for a trend. The
declared p (two-sided, or TOST for "equivalent") is Holm-corrected within the family (docs/training.md).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stylenorm.report import inference
from stylenorm.report.claims import Claim, last_k, matches, parse_claims, setting_text
from stylenorm.report.frame import ReportError, RunTable, scores

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
#: The columns of variants.csv per metric.
PARTS = ("mean", "sd", "low", "high")
#: An Estimate's fields as tests.csv orders them.
ESTIMATE_COLUMNS = ("estimate", "low", "high", "se", "df", "p", "method", "r")


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


def analyze(table: RunTable, alpha: float = 0.05) -> Analysis:
    if not 0 < alpha < 1:
        raise ReportError(f"alpha must lie between 0 and 1, got {alpha}")
    claims = parse_claims(table.ablation.get("claims"), str(table.ablation.get("preset") or "the runs' preset"))
    k = last_k(table.ablation)
    runs, raw = table.runs, scores(table, k)
    left = []
    for r in runs[runs["status"] != "finished"].itertuples():
        error = f": {r.error}" if isinstance(r.error, str) and r.error else ""
        left.append({"run": r.run, "metric": "all", "reason": f"{r.status} at step {r.global_step}{error}"})
    raw = raw[raw["run"].isin(set(runs.loc[runs["status"] == "finished", "run"]))]
    for r in raw[~raw["finite"]].itertuples():
        left.append({"run": r.run, "metric": r.metric, "reason": "non-finite value among its last validations"})
    wide = raw[raw["finite"]].pivot(index="run", columns="metric", values="score")
    settings = runs.set_index("run")
    rows, absent = [], []
    for claim in claims:
        _check_keys(claim, settings)
        for metric in claim.metrics:
            usable = wide[metric].dropna().index if metric in wide.columns else pd.Index([])
            groups = list(_groups(claim, settings, usable, table.varied()))
            if not any(a for _, a, _ in groups) or (claim.comparison.b and not any(b for _, _, b in groups)):
                absent.append((claim.id, metric))  # the sweep did not run this claim's variants
                continue
            rows += [_test(claim, metric, level, a, b, settings, wide[metric], table, k) for level, a, b in groups]
    tests = pd.DataFrame(rows)
    if not tests.empty:
        _decide(tests, claims, alpha)
    left_out = pd.DataFrame(left, columns=["run", "metric", "reason"])
    return Analysis(table, claims, k, alpha, wide, tests, left_out, absent)


def _check_keys(claim: Claim, settings: pd.DataFrame) -> None:
    """A selector key no run has would match nothing (or everything, for null) without a word."""
    comparison = claim.comparison
    keys = [*claim.where, *comparison.a, *(comparison.b or {}), *comparison.within, comparison.factor]
    if unknown := list(dict.fromkeys(key for key in keys if key and key not in settings.columns)):
        raise ReportError(
            f"claim {claim.id!r} names {unknown}, which no run's config has; use dotted config keys "
            f"such as norm.kind or data.batch_size (the runs have e.g. {sorted(settings.columns)[:6]})"
        )


def _groups(claim: Claim, settings: pd.DataFrame, usable: pd.Index, varied: list[str]):
    """(level label, runs of A, runs of B) per level of ``within`` (one level when there is none)."""
    comparison, within = claim.comparison, list(claim.comparison.within)

    def select(runs: list[str], selector: dict | None) -> list[str]:
        return [run for run in runs if selector is not None and matches(settings.loc[run].to_dict(), selector)]

    pool = select(list(usable), claim.where)
    levels = settings.loc[pool, within].drop_duplicates().to_dict("records") if within else [{}]
    for level in sorted(levels, key=lambda d: [str(v) for v in d.values()]):
        here = select(pool, {k: (v,) for k, v in level.items()})
        a, b = select(here, comparison.a), select(here, comparison.b)
        label = ", ".join(f"{key}={setting_text(value)}" for key, value in level.items())
        if comparison.type == "difference" and within and not (a and b):
            continue  # a level where the sweep ran one side only (e.g. affine on only) has nothing to compare
        for side, runs in (("a", a), ("b", b)) if comparison.type == "difference" else ():
            # a selector that catches several variants (e.g. every batch size) averages over an unnamed factor
            kinds = settings.loc[runs, varied].astype(str).drop_duplicates() if runs and varied else []
            if len(kinds) > 1:
                differ = [c for c in varied if kinds[c].nunique() > 1]
                raise ReportError(
                    f"claim {claim.id!r}{' at ' + label if label else ''}: comparison.{side} selects runs of "
                    f"{len(kinds)} variants (they differ in {differ}); narrow comparison.{side}, add where:, or "
                    f"add within: {differ}"
                )
        yield label, a, b


def _estimate(claim: Claim, a: pd.Series, b: pd.Series, seeds: pd.Series, x: pd.Series | None):
    comparison = claim.comparison
    if comparison.type == "trend":
        x = x[[*a.index, *b.index]].astype(float).to_numpy()  # A's runs, then B's (none for a trend of A alone)
        x = np.log2(x) if comparison.scale == "log2" else x
        group = None if comparison.b is None else [True] * len(a) + [False] * len(b)
        return inference.ols(np.concatenate([a, b]), x, group)
    if claim.pairing == "seed":
        sa, sb = a.groupby(seeds[a.index]).first(), b.groupby(seeds[b.index]).first()
        shared = sa.index.intersection(sb.index)
        if len(shared) >= 3:
            test = inference.difference(sa[shared], sb[shared], True, claim.log_scale)
            if test.r > 0:  # the pairing is real: seeds act as common random numbers
                return test
            unpaired = inference.difference(a, b, False, claim.log_scale)
            why = f"seed correlation r={test.r:.2f} <= 0" if math.isfinite(test.r) else ""
            why = why or "no seed correlation: a side is constant"
            return dataclasses.replace(unpaired, method=f"{unpaired.method} (pairing declared, {why})", r=test.r)
    return inference.difference(a, b, False, claim.log_scale)


def _test(claim, metric, level, a_runs, b_runs, settings, score, table, k) -> dict:
    comparison = claim.comparison
    log2_trend = comparison.type == "trend" and comparison.scale == "log2"  # log_scale is for differences only
    scale = "ratio A/B" if claim.log_scale else f"per log2 {comparison.factor}" if log2_trend else "difference"
    row = {"claim": claim.id, "family": claim.family, "metric": metric, "level": level, "expect": claim.expect}
    row.update(n_a=len(a_runs), n_b=len(b_runs), smallest_effect=claim.smallest_effect, scale=scale)
    factor = settings[comparison.factor] if comparison.factor else None
    try:
        est = _estimate(claim, score[a_runs], score[b_runs], settings["seed"], factor)
    except (ValueError, np.linalg.LinAlgError) as error:
        failed = {**dict.fromkeys(ESTIMATE_COLUMNS, math.nan), "method": "", "note": str(error)}
        return {**row, **failed, "p_declared": math.nan, "convergence": ""}
    row.update({column: getattr(est, column) for column in ESTIMATE_COLUMNS}, note="")
    row["p_declared"] = inference.tost(est, claim.margin) if claim.expect == "equivalent" else est.p
    row["convergence"] = _convergence(claim, metric, a_runs + b_runs, settings, table, k)
    return row


def _convergence(claim: Claim, metric: str, runs: list[str], settings: pd.DataFrame, table: RunTable, k: int) -> str:
    """plateaued when every variant among ``runs`` has plateaued on ``metric``; else the others, by state."""
    threshold = claim.plateau.get(metric)
    if threshold is None:
        return "no plateau threshold declared"
    # the settings that tell these runs' variants apart, not those they imply (a norm's eps follows its kind)
    varied = [
        c for c in table.distinguishing() if c in settings.columns and settings.loc[runs, c].map(str).nunique() > 1
    ]
    steps = table.steps[(table.steps["metric"] == metric) & table.steps["run"].isin(runs)]
    # iterating a groupby over a list yields tuples of values (its .groups keys would be scalars for one column)
    groups = [(v, f.index) for v, f in settings.loc[runs].groupby(varied, dropna=False)] if varied else [((), runs)]
    by_state: dict[str, list[str]] = {inference.CHANGING: [], inference.UNRESOLVED: []}
    for values, members in groups:
        slope = inference.last_k_slope(steps[steps["run"].isin(members)], k)
        state = slope.state(threshold)
        if state != inference.PLATEAUED:
            named = zip(varied, values, strict=False)
            name = ",".join(f"{c.rsplit('.', 1)[-1]}={v}" for c, v in named if not pd.isna(v))  # unset: not named
            by_state[state].append(f"{name} ({slope.slope:+.3g} [{slope.low:+.3g}, {slope.high:+.3g}]/1k steps)")
    said = [f"{state}: " + "; ".join(names) for state, names in by_state.items() if names]
    return "; ".join(said) if said else inference.PLATEAUED


def _decide(tests: pd.DataFrame, claims: list[Claim], alpha: float) -> None:
    """Holm within each family, then each test's outcome, verdict, detectable effect and whether it matters."""
    by_id = {claim.id: claim for claim in claims}
    tested = tests[tests["p_declared"].notna()].groupby("family")["p_declared"]
    tests["p_adjusted"] = tested.transform(lambda p: inference.holm(p.to_list()))  # NaN where untested
    size = tested.transform("size")
    decided = [_verdict(row, by_id[row["claim"]], alpha, alpha / size.get(i, 1)) for i, row in tests.iterrows()]
    tests["outcome"], tests["verdict"], tests["detectable"] = zip(*decided, strict=True)
    tests["matters"] = [_matters(row, by_id[row["claim"]].margin) for _, row in tests.iterrows()]
    logs = tests["claim"].map(lambda c: by_id[c].log_scale)
    for column in ("estimate", "low", "high", "detectable"):
        tests.loc[logs, column] = np.exp(tests.loc[logs, column])


def _verdict(row: pd.Series, claim: Claim, alpha: float, level: float) -> tuple[str, str, float]:
    """(outcome, verdict, detectable effect); ``level``: Holm's first step, the least a test of its family needs."""
    if math.isnan(row["p_adjusted"]):
        return "n too small", INCONCLUSIVE, math.nan
    significant = row["p_adjusted"] < alpha
    if claim.expect == "equivalent":
        if significant:
            return "equivalent", SUPPORTED, math.nan
        if row["low"] > claim.margin or row["high"] < -claim.margin:
            return "different", CONTRADICTED, math.nan
        return INCONCLUSIVE, INCONCLUSIVE, inference.detectable_margin(row["se"], row["df"], level)
    if significant:
        agrees = (row["estimate"] > 0) == (claim.expect == "greater")
        return "different", SUPPORTED if agrees else CONTRADICTED, math.nan
    return INCONCLUSIVE, INCONCLUSIVE, inference.detectable_difference(row["se"], row["df"], level)


def _matters(row: pd.Series, margin: float) -> str:
    """Whether the whole interval lies beyond +-``margin`` (yes), inside it (no), or neither (unclear)."""
    if not math.isfinite(row["low"]):
        return "unclear"
    if row["low"] >= margin or row["high"] <= -margin:
        return "yes"
    return "no" if -margin < row["low"] and row["high"] < margin else "unclear"


def higher_is_better(tag: str) -> bool:
    """PSNR and SSIM are better high; losses, L1, gaps, content and style terms are better low."""
    name = tag.rsplit("/", 1)[-1].lower()
    return "psnr" in name or "ssim" in name


def variant_table(analysis: Analysis) -> pd.DataFrame:
    """Per variant: n, seeds, each val/, flicker/ and claimed metric's mean, sd and 95% interval (not tested)."""
    varied = analysis.table.varied()
    settings = analysis.table.runs.set_index("run").loc[analysis.scores.index]
    frame = analysis.scores.join(settings[[*varied, "seed"]])
    declared = {metric for claim in analysis.claims for metric in claim.metrics}
    metrics = [m for m in analysis.scores.columns if m.startswith(("val/", "flicker/")) or m in declared]
    rows = []
    for values, group in frame.groupby(varied, dropna=False, sort=True) if varied else [((), frame)]:
        row = dict(zip(varied, values if isinstance(values, tuple) else (values,), strict=False))
        row.update(n=len(group), seeds=" ".join(str(s) for s in sorted(group["seed"])))
        for metric in metrics:
            data = group[metric].dropna()
            low, high = inference.mean_interval(data, positive=not higher_is_better(metric))  # log scale for losses
            row.update({f"{metric} {k}": v for k, v in zip(PARTS, (data.mean(), data.std(), low, high), strict=True)})
        rows.append(row)
    return pd.DataFrame(rows)
