"""The run folder a checkpoint came from, and what that run recorded about itself.

Checkpoints mirror their run folder (configs/train.yaml): ``checkpoints/X/last.ckpt`` belongs to
``logs/X``, X being ``runs/<time>_<model>-<norm>`` or ``multirun/<time>/<job>``. ``paths.log_dir`` and
``paths.checkpoint_dir`` are set independently (a preset may log to ``logs/<preset>``), so a
checkpoint is matched to its run by the part of the path from ``runs``/``multirun`` on. What the run
measured is its ``result.json`` (:mod:`stylenorm.run_record`): status and final metrics, the record
the ablation report reads too.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: The folders under paths.log_dir (and paths.checkpoint_dir) where the run layout starts.
LAYOUT_ROOTS = ("runs", "multirun")
RESULT_FILE, CONFIG_FILE = "result.json", ".hydra/config.yaml"


@dataclass
class RunRecord:
    name: str  # the run key, e.g. multirun/2026-12-05_10-00-00/3_norm-group+seed-1
    status: str  # result.json's, or "incomplete" without one
    metrics: dict[str, float] = field(default_factory=dict)  # final values (NaN where non-finite)


def run_key(folder: str | os.PathLike) -> str:
    """``.../logs/multirun/<time>/3_norm-group`` -> ``multirun/<time>/3_norm-group`` (the folder itself
    when it is not in the run layout)."""
    parts = Path(folder).parts
    starts = [i for i, part in enumerate(parts) if part in LAYOUT_ROOTS]
    return "/".join(parts[starts[-1] :]) if starts else Path(folder).as_posix()


def index_log_runs(roots: Iterable[str | os.PathLike]) -> dict[str, Path]:
    """Run key -> run folder (one with ``.hydra/config.yaml``) under ``roots``; roots without runs add
    nothing. When two folders share a key the first root wins and the clash is logged: metrics shown
    for a checkpoint must not come from another run."""
    index: dict[str, Path] = {}
    for root in roots:
        if not Path(root).is_dir():
            continue
        for config in sorted(Path(root).rglob(CONFIG_FILE)):
            folder = config.parent.parent
            key = run_key(folder)
            if key in index and index[key] != folder:
                log.warning("Two log folders for run %s: %s and %s; using the first.", key, index[key], folder)
                continue
            index[key] = folder
    return index


def read_run(folder: Path, key: str) -> RunRecord | None:
    """Status and final metrics from the run's ``result.json``; ``None`` when it cannot be read."""
    path = folder / RESULT_FILE
    if not path.is_file():
        return RunRecord(key, "incomplete")
    try:
        result = json.loads(path.read_text())
        metrics = {str(k): float(v) for k, v in (result.get("metrics") or {}).items()}  # "nan" strings too
    except (OSError, ValueError, TypeError, AttributeError) as error:
        log.warning("Could not read %s: %s", path, error)
        return None
    return RunRecord(
        key,
        str(result.get("status", "incomplete")),
        {k: v if math.isfinite(v) else math.nan for k, v in metrics.items()},
    )
