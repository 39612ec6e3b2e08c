"""The per-run table (``ablation_runs.md``, best value per column in bold, and ``ablation_runs.csv``).

One row per run - seed and status included - so every number averaged into ``ablation.md`` can be
traced to its run. ``extra`` columns (the variant, whether the run is averaged in) come from the
analysis and sit after the run's name.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from stylenorm.report.metrics import best_runs, higher_is_better, metric_columns
from stylenorm.report.runs import RunSummary

IDENTITY_COLUMNS = ("run", "model", "norm", "affine", "batch size", "image size", "seed", "status", "steps")

#: ``{column: {run name: cell}}``: columns inserted after "run".
Extra = Mapping[str, Mapping[str, str]]


def _identity_cells(run: RunSummary, extra: Extra) -> list[str]:
    def show(value) -> str:
        return "" if value is None else str(value)

    return [
        run.name,
        *(cells.get(run.name, "") for cells in extra.values()),
        run.model,
        run.norm_kind,
        show(run.affine),
        show(run.batch_size),
        show(run.image_size),
        show(run.seed),
        run.status,
        show(run.steps),
    ]


def _escape(cell: str) -> str:
    return cell.replace("|", "\\|")


def _header(extra: Extra) -> list[str]:
    return [IDENTITY_COLUMNS[0], *extra, *IDENTITY_COLUMNS[1:]]


def markdown_table(runs: Sequence[RunSummary], logdir: str | os.PathLike, extra: Extra | None = None) -> str:
    """The table's text: a header line, then one row per run in the order given."""
    extra = extra or {}
    columns = metric_columns(runs)
    best = {tag: best_runs(runs, tag) for tag in columns}
    arrows = {tag: "↑" if higher_is_better(tag) else "↓" for tag in columns}
    header = [*_header(extra), *(f"{tag} {arrows[tag]}" for tag in columns)]
    lines = [
        f"Ablation of `{logdir}`: {len(runs)} run{'s' if len(runs) != 1 else ''}. Final values (last finite "
        "value logged); ↑ higher is better, ↓ lower is better; **bold**: best single run of its model. "
        "Over seeds, with tests: ablation.md.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    for i, run in enumerate(runs):
        cells = _identity_cells(run, extra)
        for tag in columns:
            if tag not in run.metrics:
                cells.append("")
                continue
            text = f"{run.metrics[tag]:.4g}"
            cells.append(f"**{text}**" if i in best[tag] else text)
        lines.append("| " + " | ".join(_escape(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(
    runs: Sequence[RunSummary], path: str | os.PathLike, logdir: str | os.PathLike, extra: Extra | None = None
) -> Path:
    """Write :func:`markdown_table` to ``path``; returns the path."""
    path = Path(path)
    path.write_text(markdown_table(runs, logdir, extra), encoding="utf-8")
    return path


def write_csv(runs: Sequence[RunSummary], path: str | os.PathLike, extra: Extra | None = None) -> Path:
    """The same rows with full-precision numbers and no marks, for plots and papers. A metric cell
    holds the last finite value, like the markdown; a run whose last value is non-finite is listed
    in ablation.md's "Runs left out" (and its status column says how it ended)."""
    extra = extra or {}
    path = Path(path)
    columns = metric_columns(runs)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*(c.replace(" ", "_") for c in _header(extra)), *columns])
        for run in runs:
            writer.writerow(
                [
                    *_identity_cells(run, extra),
                    *(repr(run.metrics[tag]) if tag in run.metrics else "" for tag in columns),
                ]
            )
    return path
