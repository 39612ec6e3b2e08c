"""The report's figures: learning curves (seeds as points, against images seen when batch sizes differ)
and a forest plot of every tested effect with its 95% interval.

Colours from matplotlib's tab10 (distinguishable, colour-blind tolerable); legends sit outside the axes.
The forest plot puts each effect in units of its claim's smallest effect that matters, so claims on
different metrics share one axis: the band [-1, 1] holds effects too small to matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from stylenorm.report.evaluate import Analysis

COLOURS = "tab10"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display here or in CI
    import matplotlib.pyplot as plt

    return plt


def write_curves(analysis: Analysis, path: Path) -> Path | None:
    """One panel per metric a claim uses: each run's values as points, each variant's mean as a line."""
    plt = _pyplot()
    table = analysis.table
    metrics = (
        list(dict.fromkeys(m for claim in analysis.claims for m in claim.metrics))
        or [m for m in analysis.scores.columns if m.startswith("val/")][:2]
    )
    if not metrics:
        return None
    runs = table.runs.set_index("run")
    runs = runs[runs["status"] == "finished"]
    varied = table.varied()
    batch_varies = "data.batch_size" in varied
    steps = table.steps[table.steps["run"].isin(runs.index) & table.steps["metric"].isin(metrics)].copy()
    steps = steps[np.isfinite(steps["value"])]
    if batch_varies:
        per_batch = runs.get("model.name", pd.Series("", index=runs.index)).map(lambda m: 2 if m == "cyclegan" else 1)
        steps["x"] = (
            steps["step"] // steps["run"].map(per_batch) * steps["run"].map(runs["data.batch_size"].astype(float))
        )
    else:
        steps["x"] = steps["step"]
    labels = runs[varied].map(str).agg(", ".join, axis=1) if varied else pd.Series("all runs", index=runs.index)
    steps["variant"] = steps["run"].map(labels)
    colours = plt.get_cmap(COLOURS)
    figure, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics) + 2.5, 4), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=False):
        here = steps[steps["metric"] == metric]
        for index, (variant, group) in enumerate(here.groupby("variant", sort=True)):
            colour = colours(index % 10)
            axis.scatter(group["x"], group["value"], s=6, color=colour, alpha=0.5)
            mean = group.groupby("x")["value"].mean()
            axis.plot(mean.index, mean.to_numpy(), color=colour, label=variant, linewidth=1.5)
        values = here["value"].to_numpy()
        if values.size and values.min() > 0 and values.max() / values.min() > 100:
            axis.set_yscale("log")  # one variant dwarfs the rest (e.g. a loss 1e-7 against 1e-2)
        axis.set_title(metric)
        axis.set_xlabel("images seen" if batch_varies else "optimizer step")
        axis.grid(alpha=0.3)
    handles, names = axes[0][0].get_legend_handles_labels()
    figure.legend(
        handles, names, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title=", ".join(varied) or None
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def write_forest(tests: pd.DataFrame, path: Path) -> Path | None:
    """Each tested effect / the claim's smallest effect, with its 95% interval; ratios on the log scale."""
    tests = tests[np.isfinite(tests["estimate"].astype(float))] if not tests.empty else tests
    if tests.empty:
        return None
    plt = _pyplot()
    ratio = tests["scale"] == "ratio A/B"

    def scaled(column: str) -> np.ndarray:
        values = tests[column].astype(float).to_numpy()
        effect = tests["smallest_effect"].astype(float).to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):  # np.where computes both branches
            return np.where(ratio, np.log(values) / np.log(effect), values / effect)

    centre, low, high = scaled("estimate"), scaled("low"), scaled("high")
    labels = [f"{r.claim} · {r.metric}{' · ' + r.level if r.level else ''} ({r.verdict})" for r in tests.itertuples()]
    colours = {"supported": "tab:green", "contradicted": "tab:red", "inconclusive": "tab:gray"}
    y = np.arange(len(tests))[::-1]
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(tests) + 1.4))
    axis.axvspan(-1, 1, color="0.9", label="smaller than the smallest effect that matters")
    axis.axvline(0, color="0.4", linewidth=0.8)
    for yi, c, lo, hi, verdict in zip(y, centre, low, high, tests["verdict"], strict=False):
        colour = colours.get(verdict, "tab:blue")
        axis.plot([lo, hi], [yi, yi], color=colour, linewidth=2)
        axis.plot([c], [yi], "o", color=colour)
    axis.set_yticks(y, labels, fontsize=8)
    axis.set_xlabel("effect / smallest effect that matters (ratios: log ratio / log smallest ratio)")
    finite = np.concatenate([low, high])
    finite = finite[np.isfinite(finite)]
    if finite.size and max(abs(finite)) > 50:
        axis.set_xscale("symlog", linthresh=1)
    axis.legend(loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path
