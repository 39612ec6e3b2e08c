"""The ablation table as markdown (best value per column in bold) and as CSV (raw numbers)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from stylenorm.report.metrics import best_runs, higher_is_better, metric_columns
from stylenorm.report.runs import RunSummary

IDENTITY_COLUMNS = ("run", "model", "norm", "affine", "batch size", "image size", "steps")


def _identity_cells(run: RunSummary) -> list[str]:
    def show(value) -> str:
        return "" if value is None else str(value)

    return [
        run.name,
        run.model,
        run.norm_kind,
        show(run.affine),
        show(run.batch_size),
        show(run.image_size),
        show(run.steps),
    ]


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def markdown_table(runs: Sequence[RunSummary], logdir: str | os.PathLike) -> str:
    """The report's text: a header line, then one row per run in the order given."""
    columns = metric_columns(runs)
    best = {tag: best_runs(runs, tag) for tag in columns}
    arrows = {tag: "↑" if higher_is_better(tag) else "↓" for tag in columns}
    header = [*IDENTITY_COLUMNS, *(f"{tag} {arrows[tag]}" for tag in columns)]
    lines = [
        f"Ablation of `{logdir}`: {len(runs)} run{'s' if len(runs) != 1 else ''}. Final values (last finite "
        "value logged); ↑ higher is better, ↓ lower is better; **bold**: best of its model.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for i, run in enumerate(runs):
        cells = _identity_cells(run)
        for tag in columns:
            if tag not in run.metrics:
                cells.append("")
                continue
            text = f"{run.metrics[tag]:.4g}"
            cells.append(f"**{text}**" if i in best[tag] else text)
        lines.append("| " + " | ".join(_escape(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(runs: Sequence[RunSummary], path: str | os.PathLike, logdir: str | os.PathLike) -> Path:
    """Write :func:`markdown_table` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(markdown_table(runs, logdir), encoding="utf-8")
    return path


def write_csv(runs: Sequence[RunSummary], path: str | os.PathLike) -> Path:
    """The same rows with full-precision numbers and no marks, for plots and papers."""
    path = Path(path)
    columns = metric_columns(runs)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(c.replace(" ", "_") for c in IDENTITY_COLUMNS), *columns])
        for run in runs:
            writer.writerow(
                [*_identity_cells(run), *(repr(run.metrics[tag]) if tag in run.metrics else "" for tag in columns)]
            )
    return path
