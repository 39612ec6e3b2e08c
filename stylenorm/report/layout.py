"""A TensorBoard CUSTOM SCALARS layout: each metric of every run on one chart.

TensorBoard's SCALARS tab already overlays runs per tag, but mixes them with learning rates and
epochs; the layout gives one "val" and one "train" category with a chart per metric. It is written
to its own run folder, ``LOGDIR/.layout``, so no training run's event files are touched; the
custom scalars plugin reads the layout from whichever run holds it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

#: The folder under LOGDIR holding the layout's events file (skipped when collecting runs).
LAYOUT_DIR = ".layout"

#: Layout categories, in display order: the tag prefix each one groups.
CATEGORIES = ("val", "train")


def custom_scalars_layout(metric_tags: Iterable[str]) -> dict[str, dict[str, list]]:
    """``{"val": {"val/psnr": ["Multiline", ["^val/psnr$"]], ...}, "train": {...}}`` for
    :meth:`SummaryWriter.add_custom_scalars`: one chart per tag (anchored regex, so ``val/psnr``
    does not also draw ``val/psnr_shifted``); tags outside the categories are left out; empty
    categories are dropped."""
    tags = sorted(set(metric_tags))
    layout = {}
    for category in CATEGORIES:
        charts = {tag: ["Multiline", [f"^{re.escape(tag)}$"]] for tag in tags if tag.startswith(f"{category}/")}
        if charts:
            layout[category] = charts
    return layout


def write_layout(logdir: str | os.PathLike, tags: Iterable[str]) -> Path:
    """Write the layout for ``tags`` into ``logdir/.layout`` (replacing an earlier one, so a re-run
    after more training does not leave stale layouts); returns the events file written."""
    from torch.utils.tensorboard import SummaryWriter  # here: torch takes seconds to import, the rest needs none

    layout = custom_scalars_layout(tags)
    if not layout:
        raise ValueError("no val/... or train/... tag to lay out")
    folder = Path(logdir) / LAYOUT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("events.out.tfevents.*"):
        old.unlink()
    writer = SummaryWriter(log_dir=str(folder))
    try:
        writer.add_custom_scalars(layout)
    finally:
        writer.close()
    (written,) = folder.glob("events.out.tfevents.*")
    return written
