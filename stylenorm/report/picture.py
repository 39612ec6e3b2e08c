"""The same validation inputs through every variant, side by side, in one labelled PNG.

Validation order is fixed, so the last validation grid of every run shows the same images. Layout:
one block of rows per model (models in table order), each block at most ``columns`` panels wide,
every panel at its native size under a white label strip naming the variant. Models never share a
row, so a mixed sweep still compares like with like within a row. With seeds, the report shows one
run per variant (:func:`one_seed_each`: seed 0 where it is averaged in), labelled with the variant
and the seed.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from stylenorm.report.analysis import Analysis
from stylenorm.report.runs import ReportError, RunSummary

GAP = 4  # pixels between panels and between rows
PADDING = 3  # around the label text


def _wrap(draw: ImageDraw.ImageDraw, font, text: str, width: int) -> list[str]:
    """Split the label at its commas so that it fits over a narrow panel."""
    lines: list[str] = []
    for part in text.split(", "):
        candidate = f"{lines[-1]}, {part}" if lines else part
        if lines and draw.textlength(candidate, font=font) <= width - 2 * PADDING:
            lines[-1] = candidate
        else:
            lines.append(part)
    return lines


def _panel(run: RunSummary, font, label: str) -> Image.Image:
    grid = Image.open(io.BytesIO(run.grid_png)).convert("RGB")
    draw = ImageDraw.Draw(grid)  # only used to measure text
    lines = _wrap(draw, font, label, grid.width)
    line_height = font.getbbox("Ag")[3] + 2
    strip = len(lines) * line_height + 2 * PADDING
    panel = Image.new("RGB", (grid.width, strip + grid.height), "white")
    panel.paste(grid, (0, strip))
    draw = ImageDraw.Draw(panel)
    for n, line in enumerate(lines):
        draw.text((PADDING, PADDING + n * line_height), line, fill="black", font=font)
    return panel


def picture_rows(runs: Sequence[RunSummary], columns: int = 4) -> list[list[RunSummary]]:
    """The runs with a validation grid, grouped as the picture lays them out: row by row."""
    rows: list[list[RunSummary]] = []
    for model in dict.fromkeys(run.model for run in runs):
        shown = [run for run in runs if run.model == model and run.grid_png]
        rows += [shown[i : i + columns] for i in range(0, len(shown), columns)]
    return rows


def one_seed_each(analysis: Analysis) -> tuple[list[RunSummary], dict[str, str]]:
    """One run with a grid per variant - seed 0 if it is averaged in, else its lowest averaged-in
    seed, else any of its runs (say, all crashed after a validation) - and its panel label."""
    runs, labels = [], {}
    for variant in analysis.variants:
        with_grid = [run for run in variant.runs if run.grid_png]
        averaged = [run for run in analysis.averaged_runs(variant) if run.grid_png]
        pool = averaged or with_grid
        if not pool:
            continue
        run = min(pool, key=lambda r: (r.seed != 0, r.seed if r.seed is not None else 1 << 30))
        runs.append(run)
        note = "" if any(r is run for r in averaged) else ", left out"
        labels[run.name] = f"{variant.label}, seed {run.seed if run.seed is not None else '?'}{note}"
    return runs, labels


def write_picture(
    runs: Sequence[RunSummary], path: str | os.PathLike, columns: int = 4, labels: Mapping[str, str] | None = None
) -> Path:
    """Paste the last validation grid of each run under its label (``labels[run.name]``, else
    :meth:`RunSummary.label`); returns the path written."""
    rows = picture_rows(runs, columns)
    if not rows:
        raise ReportError("no run logged a validation image grid (a val/... image): nothing to picture")
    font = ImageFont.load_default()
    labels = labels or {}
    panels = [[_panel(run, font, labels.get(run.name) or run.label()) for run in row] for row in rows]
    widths = [sum(p.width for p in row) + GAP * (len(row) - 1) for row in panels]
    heights = [max(p.height for p in row) for row in panels]
    canvas = Image.new("RGB", (max(widths), sum(heights) + GAP * (len(rows) - 1)), "white")
    y = 0
    for row, height in zip(panels, heights, strict=True):
        x = 0
        for panel in row:
            canvas.paste(panel, (x, y))
            x += panel.width + GAP
        y += height + GAP
    path = Path(path)
    canvas.save(path)
    return path
