"""The report as markdown, every table a DataFrame written by ``to_markdown``.

One report: how to reproduce it, what the runs held equal and what varied (read from their
configs), provenance, the declared claims with their tests, the variants (described, not tested),
the runs left out and the figures. The same text is a section of docs/ablations.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from stylenorm.report.claims import setting_text
from stylenorm.report.evaluate import Analysis, variant_table

#: Settings worth naming in "held equal" when every run shares them.
PROTOCOL_KEYS = (
    "model.name", "data.known_answer", "data.image_size", "data.batch_size", "model.network.base_channels",
    "norm.kind", "norm.affine", "norm.num_groups", "model.lr", "trainer.max_steps", "trainer.max_epochs",
    "trainer.precision",
)  # fmt: skip


def number(value: float, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:.{digits}g}"


def p_text(value: float) -> str:
    return "—" if not math.isfinite(value) else ("<1e-4" if value < 1e-4 else f"{value:.2g}")


def effect_text(row: pd.Series) -> str:
    if not math.isfinite(row["estimate"]):
        return "—"
    unit = "x" if row["scale"] == "ratio A/B" else ""
    return f"{number(row['estimate'])}{unit} [{number(row['low'])}, {number(row['high'])}]"


def n_text(tests: pd.DataFrame) -> pd.Series:
    """``5/5``, or ``15`` for a trend of one group."""
    b = tests["n_b"].map(lambda n: f"/{n}" if n else "")
    return tests["n_a"].astype(str) + b


def selector_text(selector: dict) -> str:
    return ", ".join(f"{key}={'|'.join(map(setting_text, values))}" for key, values in selector.items())


def images_seen(runs: pd.DataFrame) -> pd.Series:
    """Optimizer steps x batch size (CycleGAN takes two optimizer steps, G and D, per batch)."""
    per_batch = runs.get("model.name", pd.Series("", index=runs.index)).map(lambda m: 2 if m == "cyclegan" else 1)
    return runs["global_step"].astype(float) // per_batch * runs["data.batch_size"].astype(float)


def protocol_lines(analysis: Analysis) -> list[str]:
    runs = analysis.table.runs
    finished = runs[runs["status"] == "finished"]
    varied = analysis.table.varied()
    held = [
        f"`{k}={finished[k].iloc[0]}`" for k in PROTOCOL_KEYS if k in finished and k not in varied and len(finished)
    ]
    lines = [
        f"- **Runs**: {len(runs)} ({len(finished)} finished), seeds {' '.join(map(str, sorted(set(runs['seed']))))}; "
        f"a run's score is the mean of its last {analysis.k} logged values of a metric.",
        f"- **Held equal** (the runs' configs): {', '.join(held) or '—'}.",
        "- **Varied**: "
        + ("; ".join(f"`{k}` = {', '.join(sorted(map(str, runs[k].dropna().unique())))}" for k in varied) or "—")
        + ".",
    ]
    if len(finished) and "data.batch_size" in finished:
        steps = finished.groupby("data.batch_size")["global_step"].agg(["min", "max"])
        seen = images_seen(finished).groupby(finished["data.batch_size"]).agg(["min", "max"])
        lines.append(
            "- **Optimizer steps / images seen** by batch size: "
            + "; ".join(f"{b}: {_span(steps.loc[b])} / {_span(seen.loc[b])}" for b in steps.index)
            + "."
        )
    if analysis.table.ablation.get("claims_from"):
        lines.append(
            f"- **Claims** from `{analysis.table.ablation['claims_from']}` (--claims), not recorded by the runs."
        )
    prov = [c for c in runs.columns if c.startswith("prov.")]
    if prov:
        parts = [f"{c[5:]} {', '.join(sorted(map(str, runs[c].dropna().unique()))) or 'none'}" for c in prov]
        lines.append("- **Provenance** (result.json): " + "; ".join(parts) + ".")
    else:
        lines.append("- **Provenance**: not recorded by these runs (no `provenance` in result.json).")
    return lines


def _span(values: pd.Series) -> str:
    low, high = int(values["min"]), int(values["max"])
    return str(low) if low == high else f"{low}-{high}"


def claims_table(analysis: Analysis) -> pd.DataFrame:
    tests = analysis.tests
    if tests.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "claim": tests["claim"],
            "metric": tests["metric"],
            "level": tests["level"].replace("", "—"),
            "effect [95% CI]": tests.apply(effect_text, axis=1),
            "scale": tests["scale"],
            "n A/B": n_text(tests),
            "test": tests["method"] + tests["r"].map(lambda r: f", r={r:.2f}" if math.isfinite(r) else ""),
            "p declared": tests["p_declared"].map(p_text),
            "Holm p": tests["p_adjusted"].map(p_text),
            "outcome": tests["outcome"],
            "verdict": tests["verdict"],
            "beyond smallest effect": tests["matters"],
            "detectable at 80% power": tests["detectable"].map(number),
            "convergence": tests["convergence"],
        }
    )


def variants_markdown(analysis: Analysis) -> str:
    """The variants by the settings that tell them apart, with the primary metric and those the claims
    use as mean ± sd [95% CI]; every metric is in variants.csv."""
    table = variant_table(analysis)
    if table.empty:
        return "No finished run."
    logged = [c[: -len(" mean")] for c in table.columns if c.endswith(" mean")]
    wanted = [analysis.table.ablation.get("primary_metric"), *(m for claim in analysis.claims for m in claim.metrics)]
    metrics = [m for m in dict.fromkeys(wanted) if m in logged] or logged
    out = table[[*analysis.table.distinguishing(), "n", "seeds"]].copy()
    for metric in metrics:
        columns = [f"{metric} {part}" for part in ("mean", "sd", "low", "high")]
        out[metric] = [
            f"{number(m)} ± {number(sd, 2)} [{number(lo)}, {number(hi)}]"
            for m, sd, lo, hi in table[columns].itertuples(index=False)
        ]
    note = (
        ""
        if metrics == logged
        else f"\n\nEvery logged metric of every variant: `variants.csv` ({len(logged)} metrics)."
    )
    return out.to_markdown(index=False) + note


def render(
    analysis: Analysis, commands: Sequence[str], figures: Sequence[tuple[str, str]], heading: str = "###"
) -> str:
    """The report's markdown (``heading`` is the level of its sub-headings)."""
    parts = ["Reproduce:", "", "```bash", *commands, "```", "", *protocol_lines(analysis), ""]
    parts += [f"{heading} Claims (declared in the preset before the runs)", ""]
    for claim in analysis.claims:
        comparison = claim.comparison
        what = f"A = `{selector_text(comparison.a)}`" + (
            f", B = `{selector_text(comparison.b)}`" if comparison.b else ""
        )
        if comparison.within:
            what += f", within each `{'`, `'.join(comparison.within)}`"
        if claim.where:
            what += f", runs with `{selector_text(claim.where)}`"
        if comparison.type == "trend":
            what += f", trend over {comparison.scale} `{comparison.factor}`"
        parts.append(
            f"- **{claim.id}**: {claim.sentence} *Source*: {claim.source}. *Test*: {what}, expect {claim.expect}; "
            f"smallest effect that matters {claim.smallest_effect:g}; family `{claim.family}`; "
            f"pairing {claim.pairing}; budget: {claim.budget}."
        )
    table = claims_table(analysis)
    parts += ["", table.to_markdown(index=False) if not table.empty else "No claim tested.", ""]
    if analysis.absent:
        untested = ", ".join(f"{claim} ({metric})" for claim, metric in analysis.absent)
        parts += [f"Not in this sweep (no finished run matches their variants): {untested}.", ""]
    parts += [
        f"Effects are A - B (or the slope difference, or A/B on the log scale), 95% intervals unadjusted; "
        f"Holm's correction within each family at alpha = {analysis.alpha}. Equivalence: TOST against the smallest "
        "effect. Inconclusive rows give the smallest effect (equivalence: margin) this n detects at 80% power "
        "at the family's first Holm step. Convergence: the last-k slope's 95% interval inside the declared threshold.",
        "",
        *across_tasks_section(analysis, heading),
        f"{heading} Variants (described, not tested)",
        "",
        variants_markdown(analysis),
        "",
        f"{heading} Runs left out",
        "",
        analysis.left_out.to_markdown(index=False)
        if not analysis.left_out.empty
        else "None: every run finished with finite metrics.",
        "",
    ]
    if figures:
        parts += [f"{heading} Figures", ""] + [f"![{what}]({path})" for path, what in figures] + [""]
    return "\n".join(parts)


def across_tasks_section(analysis: Analysis, heading: str) -> list[str]:
    """IQM of normalised scores and P(improvement) across tasks (Agarwal et al. 2021), when declared."""
    from stylenorm.report.aggregate import across_tasks as summarize
    from stylenorm.report.claims import across_tasks
    from stylenorm.report.tensorboard import variant_labels

    spec = across_tasks(analysis.table.ablation)
    if spec is None:
        return []
    title = [f"{heading} Across tasks ({spec['metric']} by `{spec['task']}`)", ""]
    settings = analysis.table.runs.set_index("run").loc[analysis.scores.index]
    labels = variant_labels(analysis.table, leave_out=(spec["task"],))
    result = summarize(analysis.scores, settings, labels, spec)
    if result is None:
        return [*title, "Not computed: it needs 2 variants with >= 5 seeds on each of >= 2 tasks.", ""]
    iqm, improvement, chosen = result
    left_out = [f"{what} left out: {', '.join(chosen[key])}" for what, key in
                (("Variants", "left_out_variants"), ("Tasks", "left_out_tasks")) if chosen[key]]  # fmt: skip
    iqm = iqm.assign(
        **{
            "IQM [95% CI]": [
                f"{number(p)} [{number(lo)}, {number(hi)}]"
                for p, lo, hi in iqm[["IQM", "low", "high"]].itertuples(index=False)
            ]
        }
    )
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
    by_claim = analysis.tests.groupby("claim", sort=False) if not analysis.tests.empty else []
    for claim_id, tests in by_claim:
        claim = next(c for c in analysis.claims if c.id == claim_id)
        effects = "; ".join(
            f"{r.metric}{' ' + r.level if r.level else ''}: {effect_text(r)} ({r.verdict})" for _, r in tests.iterrows()
        )
        verdicts = set(tests["verdict"])
        rows.append(
            {
                "id": claim.id,
                "claim": claim.sentence,
                "verdict": verdicts.pop() if len(verdicts) == 1 else "mixed",
                "effect [95% CI]": effects,
                "n A/B": ", ".join(dict.fromkeys(n_text(tests))),
            }
        )
    return rows
