"""The log folder a checkpoint's run wrote, and what that run measured (the ablation report's reader).

Logs and checkpoints of a run share ``<model>/<variant>/version_N`` (:mod:`stylenorm.run_naming`),
but ``paths.log_dir`` and ``paths.checkpoint_dir`` are set independently (presets log to
``logs/<preset>``), so a checkpoint is matched to its log folder by those three trailing parts, not
by a fixed sibling path. A version is reserved in both places at once, so the match is unique
within one checkpoint folder. What the run measured is read with
:func:`stylenorm.report.runs.collect_runs`, the same reader the ablation report uses.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from stylenorm.report.runs import ReportError, RunSummary, collect_runs, find_run_dirs, identity_from_folder

log = logging.getLogger(__name__)

#: ``<model>/<variant>/version_N``: the parts a run's log and checkpoint folders share.
RUN_PARTS = 3


def run_key(folder: str | os.PathLike) -> str:
    """``.../autoencoder/instance-affine_true/version_0`` -> ``autoencoder/instance-affine_true/version_0``."""
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
