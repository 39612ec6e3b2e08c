"""The report as markdown (every table a DataFrame's ``to_markdown``): how to reproduce it, what the runs held
equal and varied, the claims with their tests, the variants, the runs left out and the figures; the same text
is a section of docs/ablations.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from stylenorm.report.aggregate import across_tasks as summarize_across_tasks
from stylenorm.report.claims import across_tasks, setting_text
from stylenorm.report.evaluate import PARTS, Analysis, variant_table
from stylenorm.report.frame import RunTable, images_seen
from stylenorm.report.tensorboard import variant_labels

#: Settings worth naming in "held equal" when every run shares them.
PROTOCOL_KEYS = (
    "model.name", "data.known_answer", "data.image_size", "data.batch_size", "model.network.base_channels",
    "norm.kind", "norm.affine", "norm.num_groups", "model.lr", "trainer.max_steps", "trainer.max_epochs",
    "trainer.precision",
)  # fmt: skip
#: (file, what it shows) of each figure a report folder may hold.
FIGURES = (("curves.png", "learning curves"), ("forest.png", "effects"))


def number(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}"


def interval_text(centre: float, low: float, high: float, unit: str = "") -> str:
    return f"{number(centre)}{unit} [{number(low)}, {number(high)}]"


def p_text(value: float) -> str:
    return "—" if not math.isfinite(value) else ("<1e-4" if value < 1e-4 else f"{value:.2g}")


def effect_text(row: pd.Series) -> str:
    if not math.isfinite(row["estimate"]):
        return "—"
    return interval_text(row["estimate"], row["low"], row["high"], "x" if row["scale"] == "ratio A/B" else "")


def n_text(tests: pd.DataFrame) -> pd.Series:
    """``5/5``, or ``15`` for a trend of one group."""
    return tests["n_a"].astype(str) + tests["n_b"].map(lambda n: f"/{n}" if n else "")


def selector_text(selector: dict) -> str:
    return ", ".join(f"{key}={'|'.join(map(setting_text, values))}" for key, values in selector.items())


def _spans(values: pd.Series, by: pd.Series) -> pd.Series:
    """Per level of ``by``, the range of ``values``: ``low-high``, or one number when they agree."""
    ranges = values.groupby(by).agg(["min", "max"]).astype(int)
    return ranges.apply(lambda r: str(r["min"]) if r["min"] == r["max"] else f"{r['min']}-{r['max']}", axis=1)


def learning_rate_line(table: RunTable) -> str | None:
    """Each variant's learning rate, from its runs, where they differ (the tuned protocol's choices)."""
    runs = table.runs[table.runs["status"] == "finished"].set_index("run")
    if "model.lr" not in table.varied() or runs.empty:
        return None
    leave_out = ("model.lr", "protocol.variant")
    labels = variant_labels(table, leave_out)
    lr = runs["model.lr"].groupby(labels).unique()
    order = labels.loc[runs.sort_values(table.distinguishing(leave_out)).index].unique()  # batch 2 before 16
    parts = [f"{label} {', '.join(f'{v:g}' for v in sorted(lr[label]))}" for label in order]
    return f"- **Learning rate** by variant (`model.lr`): {'; '.join(parts)}."


def protocol_lines(analysis: Analysis) -> list[str]:
    runs = analysis.table.runs
    finished = runs[runs["status"] == "finished"]
    varied = analysis.table.varied()
    held = [
        f"`{k}={finished[k].iloc[0]}`" for k in PROTOCOL_KEYS if k in finished and k not in varied and len(finished)
    ]
    values = "; ".join(f"`{k}` = {', '.join(sorted(map(str, runs[k].dropna().unique())))}" for k in varied)
    lines = [
        f"- **Runs**: {len(runs)} ({len(finished)} finished), seeds {' '.join(map(str, sorted(set(runs['seed']))))}; "
        f"a run's score is the mean of its last {analysis.k} logged values of a metric.",
        f"- **Held equal** (the runs' configs): {', '.join(held) or '—'}.",
        f"- **Varied**: {values or '—'}.",
    ]
    if line := learning_rate_line(analysis.table):
        lines.append(line)
    if len(finished) and "data.batch_size" in finished:
        batch = finished["data.batch_size"]
        steps = _spans(finished["global_step"], batch)
        seen = _spans(images_seen(finished, finished["global_step"].astype(float)), batch)
        spans = "; ".join(f"{b}: {steps[b]} / {seen[b]}" for b in steps.index)
        lines.append(f"- **Optimizer steps / images seen** by batch size: {spans}.")
    if claims_from := analysis.table.ablation.get("claims_from"):
        lines.append(f"- **Claims** from `{claims_from}` (--claims), not recorded by the runs.")
    if prov := [c for c in runs.columns if c.startswith("prov.")]:
        parts = [f"{c[5:]} {', '.join(sorted(map(str, runs[c].dropna().unique()))) or 'none'}" for c in prov]
        lines.append("- **Provenance** (result.json): " + "; ".join(parts) + ".")
    else:
        lines.append("- **Provenance**: not recorded by these runs (no `provenance` in result.json).")
    return lines


def claims_table(tests: pd.DataFrame) -> pd.DataFrame:
    if tests.empty:
        return pd.DataFrame()
    columns = {
        **tests[["claim", "metric"]],
        "level": tests["level"].replace("", "—"),
        "effect [95% CI]": tests.apply(effect_text, axis=1),
        "scale": tests["scale"],
        "n A/B": n_text(tests),
        "test": tests["method"] + tests["r"].map(lambda r: f", r={r:.2f}" if math.isfinite(r) else ""),
        "p declared": tests["p_declared"].map(p_text),
        "Holm p": tests["p_adjusted"].map(p_text),
        **tests[["outcome", "verdict"]],
        "beyond smallest effect": tests["matters"],
        "detectable at 80% power": tests["detectable"].map(number),
        "convergence": tests["convergence"],
    }
    return pd.DataFrame(columns)


def variants_markdown(analysis: Analysis) -> str:
    """The variants with the primary and claimed metrics as mean ± sd [95% CI] (every metric: variants.csv)."""
    table = variant_table(analysis)
    if table.empty:
        return "No finished run."
    logged = [c[: -len(" mean")] for c in table.columns if c.endswith(" mean")]
    wanted = [analysis.table.ablation.get("primary_metric"), *(m for claim in analysis.claims for m in claim.metrics)]
    metrics = [m for m in dict.fromkeys(wanted) if m in logged] or logged
    out = table[[*analysis.table.distinguishing(), "n", "seeds"]].copy()
    for metric in metrics:
        columns = table[[f"{metric} {part}" for part in PARTS]].itertuples(index=False)
        out[metric] = [interval_text(m, lo, hi, f" ± {number(sd, 2)}") for m, sd, lo, hi in columns]
    note = f"\n\nEvery logged metric of every variant: `variants.csv` ({len(logged)} metrics)."
    return out.to_markdown(index=False) + (note if metrics != logged else "")


def claim_line(claim) -> str:
    comparison = claim.comparison
    what = f"A = `{selector_text(comparison.a)}`" + (f", B = `{selector_text(comparison.b)}`" if comparison.b else "")
    if comparison.within:
        what += f", within each `{'`, `'.join(comparison.within)}`"
    if claim.where:
        what += f", runs with `{selector_text(claim.where)}`"
    if comparison.type == "trend":
        what += f", trend over {comparison.scale} `{comparison.factor}`"
    return (
        f"- **{claim.id}**: {claim.sentence} *Source*: {claim.source}. *Test*: {what}, expect {claim.expect}; "
        f"smallest effect that matters {claim.smallest_effect:g}; family `{claim.family}`; "
        f"pairing {claim.pairing}; budget: {claim.budget}."
    )


def render(
    analysis: Analysis, commands: Sequence[str], figures: Sequence[tuple[str, str]], heading: str = "###"
) -> str:
    """The report's markdown (``heading`` is the level of its sub-headings)."""
    parts = ["Reproduce:", "", "```bash", *commands, "```", "", *protocol_lines(analysis), ""]
    parts += [f"{heading} Claims (declared in the preset before the runs)", "", *map(claim_line, analysis.claims)]
    table = claims_table(analysis.tests)
    parts += ["", table.to_markdown(index=False) if not table.empty else "No claim tested.", ""]
    if analysis.absent:
        untested = ", ".join(f"{claim} ({metric})" for claim, metric in analysis.absent)
        parts += [f"Not in this sweep (no finished run matches their variants): {untested}.", ""]
    left_out = analysis.left_out
    parts += [
        f"Effects are A - B (or the slope difference, or A/B on the log scale), 95% intervals unadjusted; "
        f"Holm's correction within each family at alpha = {analysis.alpha}. Equivalence: TOST against the smallest "
        "effect. Inconclusive rows give the smallest effect (equivalence: margin) this n detects at 80% power "
        "at the family's first Holm step. Convergence: plateaued where the last-k slope's 95% interval lies inside "
        "the declared threshold; still changing where it excludes 0; else unresolved (too noisy to tell).",
        "",
        *across_tasks_section(analysis, heading),
        f"{heading} Variants (described, not tested)",
        "",
        variants_markdown(analysis),
        "",
        f"{heading} Runs left out",
        "",
        left_out.to_markdown(index=False) if not left_out.empty else "None: every run finished with finite metrics.",
        "",
    ]
    if figures:
        parts += [f"{heading} Figures", "", *(f"![{what}]({path})" for path, what in figures), ""]
    return "\n".join(parts)


def report_markdown(analysis: Analysis, commands: Sequence[str], figures: Sequence[tuple[str, str]]) -> str:
    return f"# Ablation report: {analysis.preset}\n\n" + render(analysis, commands, figures, heading="##")


def across_tasks_section(analysis: Analysis, heading: str) -> list[str]:
    """IQM of normalised scores and P(improvement) across tasks (Agarwal et al. 2021), when declared."""
    spec = across_tasks(analysis.table.ablation)
    if spec is None:
        return []
    title = [f"{heading} Across tasks ({spec['metric']} by `{spec['task']}`)", ""]
    settings = analysis.table.runs.set_index("run").loc[analysis.scores.index]
    labels = variant_labels(analysis.table, leave_out=(spec["task"],))
    result = summarize_across_tasks(analysis.scores, settings, labels, spec)
    if result is None:
        return [*title, "Not computed: it needs 2 variants with >= 5 seeds on each of >= 2 tasks.", ""]
    iqm, improvement, chosen = result
    left_out = [f"{what} left out: {', '.join(chosen[key])}" for what, key in
                (("Variants", "left_out_variants"), ("Tasks", "left_out_tasks")) if chosen[key]]  # fmt: skip
    iqm["IQM [95% CI]"] = [interval_text(*row) for row in iqm[["IQM", "low", "high"]].itertuples(index=False)]
    return [
        *title,
        f"Scores normalised per task: 0 = doing nothing (`{spec['nothing']}`), 1 = the best variant's mean; "
        "interquartile mean over runs x tasks with a stratified bootstrap interval (runs resampled within tasks). "
        f"Tasks: {', '.join(chosen['tasks'])} (the variants with >= 5 seeds on each, where doing nothing scores a "
        f"finite value). {'. '.join(left_out)}{'.' if left_out else ''}",
        "",
        iqm[["variant", "IQM [95% CI]"]].to_markdown(index=False),
        "",
        "P(a run of the row variant beats one of the column variant), averaged over tasks [95% CI]:",
        "",
        improvement.to_markdown(),
        "",
    ]


def summary_rows(analysis: Analysis) -> list[dict]:
    """One summary line per claim (its tests joined): id, claim, verdict, effect with interval, n."""
    rows = []
    for claim_id, tests in analysis.tests.groupby("claim", sort=False) if not analysis.tests.empty else []:
        claim = next(c for c in analysis.claims if c.id == claim_id)
        effects = [
            f"{r.metric}{' ' + r.level if r.level else ''}: {effect_text(r)} ({r.verdict})" for _, r in tests.iterrows()
        ]
        verdict = tests["verdict"].iloc[0] if tests["verdict"].nunique() == 1 else "mixed"
        row = {"id": claim.id, "claim": claim.sentence, "verdict": verdict, "effect [95% CI]": "; ".join(effects)}
        rows.append({**row, "n A/B": ", ".join(dict.fromkeys(n_text(tests)))})
    return rows
