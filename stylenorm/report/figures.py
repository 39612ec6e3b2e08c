"""The report's figures: learning curves (seeds as points, against images seen when batch sizes differ)
and a forest plot of every tested effect with its 95% interval, in units of its claim's smallest effect
that matters so claims on different metrics share one axis. Colours: matplotlib's tab10.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from stylenorm.report.evaluate import Analysis
from stylenorm.report.frame import images_seen

VERDICT_COLOURS = {"supported": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:gray"}


def write_curves(analysis: Analysis, path: Path) -> Path | None:
    """One panel per metric a claim uses: each run's values as points, each variant's mean as a line."""
    metrics = list(dict.fromkeys(m for claim in analysis.claims for m in claim.metrics))
    metrics = metrics or [m for m in analysis.scores.columns if m.startswith("val/")][:2]
    if not metrics:
        return None
    runs = analysis.table.runs.set_index("run")
    runs = runs[runs["status"] == "finished"]
    varied = analysis.table.varied()
    steps = analysis.table.steps
    steps = steps[steps["run"].isin(runs.index) & steps["metric"].isin(metrics) & np.isfinite(steps["value"])].copy()
    batch_varies = "data.batch_size" in varied
    if batch_varies:
        columns = [c for c in ("model.name", "data.batch_size") if c in runs]
        steps["x"] = images_seen(runs.loc[steps["run"], columns].set_axis(steps.index), steps["step"])
    else:
        steps["x"] = steps["step"]
    labels = runs[varied].map(str).agg(", ".join, axis=1) if varied else pd.Series("all runs", index=runs.index)
    steps["variant"] = steps["run"].map(labels)
    colours = matplotlib.colormaps["tab10"]
    figure = Figure(figsize=(5.5 * len(metrics) + 2.5, 4))
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axis, metric in zip(axes, metrics, strict=False):
        here = steps[steps["metric"] == metric]
        for index, (variant, group) in enumerate(here.groupby("variant", sort=True)):
            axis.scatter(group["x"], group["value"], s=6, color=colours(index % 10), alpha=0.5)
            mean = group.groupby("x")["value"].mean()
            axis.plot(mean.index, mean.to_numpy(), color=colours(index % 10), label=variant, linewidth=1.5)
        values = here["value"].to_numpy()
        if values.size and values.min() > 0 and values.max() / values.min() > 100:
            axis.set_yscale("log")  # one variant dwarfs the rest (e.g. a loss 1e-7 against 1e-2)
        axis.set(title=metric, xlabel="images seen" if batch_varies else "optimizer step")
        axis.grid(alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    title = ", ".join(varied) or None
    figure.legend(handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title=title)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def write_forest(tests: pd.DataFrame, path: Path) -> Path | None:
    """Each tested effect / the claim's smallest effect, with its 95% interval; ratios on the log scale."""
    tests = tests[np.isfinite(tests["estimate"].astype(float))] if not tests.empty else tests
    if tests.empty:
        return None
    ratio, effect = tests["scale"] == "ratio A/B", tests["smallest_effect"].astype(float).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):  # np.where computes both branches
        centre, low, high = (
            np.where(ratio, np.log(v) / np.log(effect), v / effect)
            for v in (tests[c].astype(float).to_numpy() for c in ("estimate", "low", "high"))
        )
    labels = [f"{r.claim} · {r.metric}{' · ' + r.level if r.level else ''} ({r.verdict})" for r in tests.itertuples()]
    y = np.arange(len(tests))[::-1]
    figure = Figure(figsize=(9, 0.35 * len(tests) + 1.4))
    axis = figure.subplots()
    axis.axvspan(-1, 1, color="0.9", label="smaller than the smallest effect that matters")
    axis.axvline(0, color="0.4", linewidth=0.8)
    for yi, c, lo, hi, verdict in zip(y, centre, low, high, tests["verdict"], strict=False):
        axis.plot([lo, hi], [yi, yi], color=VERDICT_COLOURS.get(verdict, "tab:blue"), linewidth=2)
        axis.plot([c], [yi], "o", color=VERDICT_COLOURS.get(verdict, "tab:blue"))
    axis.set_yticks(y, labels, fontsize=8)
    axis.set_xlabel("effect / smallest effect that matters (ratios: log ratio / log smallest ratio)")
    bounds = np.concatenate([low, high])
    if np.isfinite(bounds).any() and np.abs(bounds[np.isfinite(bounds)]).max() > 50:
        axis.set_xscale("symlog", linthresh=1)
    axis.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path
