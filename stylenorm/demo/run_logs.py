"""The log folder a checkpoint's run wrote, and what that run measured (the ablation report's reader).

A run's checkpoint folder mirrors its log folder (``logs/runs/<time>_<model>-<norm>`` and
``checkpoints/runs/<time>_<model>-<norm>``; sweep jobs ``.../multirun/<time>/<job>``; configs/train.yaml),
but ``paths.log_dir`` and ``paths.checkpoint_dir`` are set independently, so a checkpoint is matched
to its log folder by the two trailing parts they share, not by a fixed sibling path. What the run
measured is read with :func:`stylenorm.report.runs.collect_runs`, the same reader the ablation report uses.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from stylenorm.report.runs import ReportError, RunSummary, collect_runs, find_run_dirs, identity_from_folder

log = logging.getLogger(__name__)

#: ``runs/<time>_<model>-<norm>`` or ``<time>/<job>``: the parts a run's log and checkpoint folders share.
RUN_PARTS = 2


def run_key(folder: str | os.PathLike) -> str:
    """``.../logs/runs/<time>_autoencoder-instance`` -> ``runs/<time>_autoencoder-instance``."""
    return "/".join(Path(folder).parts[-RUN_PARTS:])


def index_log_runs(roots: Iterable[str | os.PathLike]) -> dict[str, Path]:
    """Run key -> log folder, for every run (a folder with event files) under ``roots``.

    Roots without runs are fine (a fresh clone's ``logs/``): they add nothing. When two log folders
    share a key (the same run name logged under two ``paths.log_dir``), the first root wins and the
    clash is logged: metrics shown for a checkpoint must not come from another run.
    """
    index: dict[str, Path] = {}
    for root in roots:
        try:
            folders = find_run_dirs(root)
        except ReportError:  # not a folder, or no runs in it
            continue
        for folder in folders:
            key = run_key(folder)
            if key in index and index[key] != folder:
                log.warning("Two log folders for run %s: %s and %s; using the first.", key, index[key], folder)
                continue
            index[key] = folder
    return index


def read_run(folder: Path, key: str) -> RunSummary | None:
    """What the run in ``folder`` is and measured, or ``None`` when its files cannot be read."""
    try:
        (summary,) = collect_runs(folder)
    except (ReportError, ValueError, OSError) as error:
        log.warning("Could not read the run in %s: %s", folder, error)
        return None
    # collect_runs names runs relative to the folder it was given; this is the run's real name.
    summary.name = key
    summary.extras = identity_from_folder(key).get("extras", {})
    return summary
