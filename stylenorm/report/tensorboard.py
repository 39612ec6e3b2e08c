"""A sweep's variants in TensorBoard: one run per variant under ``OUT/tensorboard/<variant>``, every metric as
its mean, minimum and maximum over seeds (``val/psnr``, ``val/psnr/min``, ``/max``), drawn as margin charts
by the CUSTOM SCALARS tab. Nothing is written into the sweep's own folder.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from stylenorm.report.frame import RunTable

#: Layout categories, in display order: the tag prefix each one groups.
CATEGORIES = ("val", "train")


def variant_labels(table: RunTable, leave_out: tuple[str, ...] = ()) -> pd.Series:
    """``run -> "kind=instance, affine=True"`` for the finished runs: the :meth:`RunTable.distinguishing` settings
    but ``leave_out``, each named by its last dotted part unless two would share it."""
    runs = table.runs.set_index("run")
    runs = runs[runs["status"] == "finished"]
    shown = table.distinguishing(leave_out)
    if not shown:
        return pd.Series("all runs", index=runs.index)
    last = [c.rsplit(".", 1)[-1] for c in shown]
    names = [short if last.count(short) == 1 else full for short, full in zip(last, shown, strict=True)]
    return (
        runs[shown].map(str).apply(lambda row: ", ".join(f"{n}={v}" for n, v in zip(names, row, strict=True)), axis=1)
    )


def write_tensorboard(table: RunTable, folder: str | Path, first: Iterable[str] = ()) -> list[Path]:
    """One TensorBoard run per variant under ``folder`` (replaced), the layout (``first`` leading) in the first."""
    from torch.utils.tensorboard import SummaryWriter  # here: torch takes seconds to import, the rest needs none

    labels = variant_labels(table)
    steps = table.steps[table.steps["run"].isin(labels.index) & np.isfinite(table.steps["value"])]
    bands = steps.assign(variant=steps["run"].map(labels)).groupby(["variant", "metric", "step"])["value"]
    bands = bands.agg(["mean", "min", "max"]).reset_index()
    if bands.empty:
        raise ValueError("no finished run logged a finite value; nothing to draw in TensorBoard")
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    logged = set(bands["metric"])
    # a margin chart per tag, by category; TensorBoard (2.x) draws a category's charts last first: list them reversed
    tags = list(dict.fromkeys([*(m for m in first if m in logged), *sorted(logged)]))[::-1]
    layout = {
        c: {t: ["Margin", [t, f"{t}/min", f"{t}/max"]] for t in tags if t.startswith(f"{c}/")} for c in CATEGORIES
    }
    layout = {category: charts for category, charts in layout.items() if charts}
    written = []
    for index, (variant, rows) in enumerate(bands.groupby("variant", sort=True)):
        # the folder name is the run's name in TensorBoard
        run = folder / (re.sub(r"[^\w.=+-]+", "_", variant.replace(", ", " ")).strip("_") or "variant")
        with SummaryWriter(log_dir=str(run)) as writer:
            if index == 0 and layout:
                writer.add_custom_scalars(layout)
            for row in rows.itertuples(index=False):
                for suffix, value in (("", row.mean), ("/min", row.min), ("/max", row.max)):
                    writer.add_scalar(row.metric + suffix, value, row.step)
        written.append(run)
    return written
