"""Figures that show convergence and the batch-size effect: ``curves.png`` and ``batch_size.png``.

``curves.png``: per study one row of panels - the primary metric first, then the other ``val/``
metrics, at most :data:`MAX_PANELS` - with each variant's validation metric against the step: the
mean over its averaged-in seeds as a line, the min-max over seeds as a band (with few seeds, a
band of extremes says more than ±std). Seeds may have validated at slightly different steps: a
variant's curve uses the steps all its seeds logged; when they share fewer than two, each seed is
interpolated onto the steps of the seed with the fewest, within the range they all cover (the
figure's title says when that happened).

``batch_size.png`` (like Wu & He 2018, Fig. 1): when a study's variants differ in
``data/batch_size``, its primary metric (mean, 95% CI error bars where n ≥ 2) against the batch
size on a log2 axis, one line per combination of the other label settings (the norm kind, ...).

Drawn on matplotlib's ``Figure`` directly (Agg canvas, no pyplot): no global backend to set, no
display needed, nothing left open between calls.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from stylenorm.report.analysis import Analysis
from stylenorm.report.metrics import higher_is_better
from stylenorm.report.runs import ReportError
from stylenorm.report.styles import per_style_index
from stylenorm.report.variants import Study, Variant, format_label, label_keys

MAX_PANELS = 4
BAND = "min-max over seeds"
BATCH_KEY = "data/batch_size"


def aligned(series: Sequence[Sequence[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(steps, values[run, step], interpolated)``: the runs' finite points on common steps."""
    points = [{step: value for step, value in one if math.isfinite(value)} for one in series]
    points = [p for p in points if p]
    if not points:
        return np.empty(0), np.empty((0, 0)), False
    shared = sorted(set.intersection(*(set(p) for p in points)))
    if len(shared) >= 2 or all(len(p) == len(shared) for p in points):  # enough in common, or all alike
        return np.asarray(shared, dtype=float), np.asarray([[p[s] for s in shared] for p in points]), False
    low = max(min(p) for p in points)
    high = min(max(p) for p in points)
    fewest = min(points, key=len)
    steps = np.asarray([s for s in sorted(fewest) if low <= s <= high], dtype=float)
    values = [np.interp(steps, sorted(p), [p[s] for s in sorted(p)]) for p in points]
    return steps, np.asarray(values), True


def curve_tags(analysis: Analysis, study: Study) -> list[str]:
    """The primary metric, then the study's other val/ metrics, at most :data:`MAX_PANELS`; the
    primary's per-style metrics (``val/style_K`` after ``val/style``) first among them, so that a
    multi-style study shows each style's curves, the ones its comparisons are about."""
    primary = analysis.primary[study]
    others = [
        tag
        for tag in analysis.metrics
        if tag != primary and tag.startswith("val/") and any((v, tag) in analysis.cells for v in study.variants)
    ]

    def per_style_of_primary_first(tag: str) -> tuple[int, int]:
        index = per_style_index(tag)
        return (0, index) if index is not None and tag.rpartition("_")[0] == primary else (1, 0)

    others.sort(key=per_style_of_primary_first)  # stable: the other metrics keep their order
    return [primary, *others][:MAX_PANELS]


def _colors(variants: Sequence[Variant]) -> dict[Variant, tuple]:
    from matplotlib import colormaps

    palette = colormaps["tab10" if len(variants) <= 10 else "tab20"]
    return {variant: palette(i % palette.N) for i, variant in enumerate(variants)}


def write_curves(analysis: Analysis, path: str | os.PathLike) -> Path:
    """Draw the learning curves; returns the path written."""
    rows = [(study, curve_tags(analysis, study)) for study in analysis.studies]
    columns = max(len(tags) for _, tags in rows)
    figure = Figure(figsize=(max(6.5, 4.2 * columns), 3.4 * len(rows) + 0.8), layout="constrained")
    axes = figure.subplots(len(rows), columns, squeeze=False)
    interpolated = []
    drawn = 0
    for r, (study, tags) in enumerate(rows):
        colors = _colors(study.variants)
        for c in range(columns):
            ax = axes[r][c]
            if c >= len(tags):
                ax.set_axis_off()
                continue
            tag = tags[c]
            for variant in study.variants:
                cell = analysis.cells.get((variant, tag))
                if cell is None or not cell.runs:
                    continue
                steps, values, interp = aligned([run.series.get(tag, []) for run in cell.runs])
                if not steps.size:
                    continue
                if interp:
                    interpolated.append(f"{variant.label} ({tag})")
                color = colors[variant]
                ax.plot(steps, values.mean(axis=0), color=color, marker=".", label=f"{variant.label} (n={len(values)})")
                if len(values) > 1:
                    ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=color, alpha=0.2, lw=0)
                drawn += 1
            arrow = "↑" if higher_is_better(tag) else "↓"
            ax.set_title(f"{study.title}: {tag} {arrow}" if len(rows) > 1 else f"{tag} {arrow}", fontsize=9)
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
            if c == 0:
                ax.legend(fontsize=7)
    if not drawn:
        raise ReportError("no averaged-in run logged a finite validation metric: no learning curves to draw")
    title = f"Validation metrics against step: mean over seeds, band = {BAND}"
    if interpolated:
        title += f" (seeds interpolated onto common steps: {', '.join(interpolated)})"
    figure.suptitle("\n".join(textwrap.wrap(title, width=int(22 * figure.get_figwidth()))), fontsize=10)
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path


def batch_size_studies(analysis: Analysis) -> list[Study]:
    """Studies whose variants differ in ``data/batch_size``."""
    return [s for s in analysis.studies if len({repr(v.settings.get(BATCH_KEY)) for v in s.variants}) > 1]


def write_batch_size_plot(analysis: Analysis, path: str | os.PathLike) -> Path:
    """Primary metric (mean ± 95% CI) against batch size, one line per other setting; returns the path."""
    studies = batch_size_studies(analysis)
    if not studies:
        raise ReportError(f"no study varies {BATCH_KEY}: no batch-size plot")
    figure = Figure(figsize=(5.5 * len(studies), 4.2), layout="constrained")
    axes = figure.subplots(1, len(studies), squeeze=False)[0]
    for ax, study in zip(axes, studies, strict=True):
        tag = analysis.primary[study]
        line_keys = [key for key in label_keys(study.variants) if key != BATCH_KEY]
        lines: dict[str, list[tuple[float, float, float, float]]] = {}
        for variant in study.variants:
            cell = analysis.cells.get((variant, tag))
            batch = variant.settings.get(BATCH_KEY)
            if cell is None or not cell.summary.n or not isinstance(batch, int | float) or isinstance(batch, bool):
                continue
            s = cell.summary
            low = s.mean - s.ci_low if math.isfinite(s.ci_low) else 0.0
            high = s.ci_high - s.mean if math.isfinite(s.ci_high) else 0.0
            name = format_label(variant.settings, line_keys) or variant.label
            lines.setdefault(name, []).append((float(batch), s.mean, low, high))
        sizes = sorted({point[0] for points in lines.values() for point in points})
        for name, points in lines.items():
            points.sort()
            x, y, low, high = (np.asarray(column) for column in zip(*points, strict=True))
            ax.errorbar(x, y, yerr=np.vstack([low, high]), marker="o", capsize=3, label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [f"{size:g}" for size in sizes])
        ax.minorticks_off()
        ax.set_xlabel("batch size (data/batch_size)")
        arrow = "↑" if higher_is_better(tag) else "↓"
        ax.set_ylabel(f"{tag} {arrow}")
        ax.set_title(f"{study.title}\nfinal {tag}: mean and 95% CI over seeds (n ≥ 2)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path
