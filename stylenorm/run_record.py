"""What a run records about itself (docs/evidence.md, 6): HPARAMS entries, ``result.json`` and ``metrics.csv``; the
one writer and reader of both files, with no torch import at load (the report reads runs).
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stylenorm.atomic_files import atomic_write_text

if TYPE_CHECKING:
    import pandas as pd
    import torch
    from omegaconf import DictConfig

RESULT_FILE, METRICS_FILE = "result.json", "metrics.csv"
#: The status :func:`read_result` gives a run folder without a readable ``result.json``; no run records it.
NO_RECORD = "incomplete"

#: ``ablation`` keys a preset sets (configs/train.yaml documents them); recorded as ``ablation/<key>``.
ABLATION_KEYS = ("preset", "reference", "compare_within", "holds_equal", "primary_metric")


def _git(*args: str) -> str | None:
    source = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", *args], cwd=source, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def git_commit() -> str | None:
    """The commit of the source tree this code runs from, None outside a git checkout."""
    return _git("rev-parse", "HEAD")


def provenance(device: torch.device | str, precision: str) -> dict[str, Any]:
    """Where and with what a run's numbers were made."""
    import lightning
    import torch

    from stylenorm.speed import cpu_flags, cpu_name

    device = torch.device(device)
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": git_commit(),
        "git_dirty": None if status is None else bool(status),
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "threads": torch.get_num_threads(),
        "torch": str(torch.__version__),
        "lightning": lightning.__version__,
        "python": platform.python_version(),
        "precision": str(precision),
        "command": " ".join(sys.argv),
    }


def run_record(cfg: DictConfig, device: torch.device | str) -> dict[str, Any]:
    """Flat HPARAMS entries for the seed, hardware, run length and the ablation protocol."""
    import torch

    from stylenorm.speed import cpu_flags, cpu_name

    device = torch.device(device)
    if device.type == "cuda":
        hardware = f"cuda: {torch.cuda.get_device_name(device)}"
    else:  # e.g. cpu: AMD EPYC 9B14 (avx2 avx512f avx512_bf16), 2 threads
        flags = " ".join(cpu_flags())
        hardware = f"{device.type}: {cpu_name()}{f' ({flags})' if flags else ''}, {torch.get_num_threads()} threads"
    ablation = cfg.get("ablation") or {}
    return {
        "seed": int(cfg.seed),
        "run/hardware": hardware,
        "run/torch": str(torch.__version__),
        "trainer/max_steps": int(cfg.trainer.get("max_steps", -1)),
        "trainer/max_epochs": int(cfg.trainer.get("max_epochs", -1) or -1),
        "run/init_from": str(cfg.get("init_from") or ""),  # fine-tuned from these weights ("" = from scratch)
        # batch norm statistics across all processes (Lightning's SyncBatchNorm conversion, GPUs only)
        "trainer/sync_batchnorm": bool(cfg.trainer.get("sync_batchnorm", False)),
        **{f"ablation/{key}": "" if ablation.get(key) is None else str(ablation.get(key)) for key in ABLATION_KEYS},
    }


def hparam_key(override_key: str) -> str:
    """The HPARAMS name of a config key: ``norm`` -> ``norm/kind``, ``model.lr`` -> ``lr``, ``data.x`` -> ``data/x``."""
    key = override_key.lstrip("+~")
    return "norm/kind" if key == "norm" else key.removeprefix("model.").replace(".", "/")


def varied_hparams(overrides: Iterable[str]) -> set[str]:
    """HPARAMS names set by ``key=value`` overrides (the command line, or one job of a sweep)."""
    return {hparam_key(override.partition("=")[0]) for override in overrides if "=" in override}


def final_status(metrics: Mapping[str, float], interrupted: bool) -> str:
    if interrupted:
        return "interrupted"
    return "finished" if all(math.isfinite(value) for value in metrics.values()) else "diverged"


def write_result(
    run_dir: str | os.PathLike,
    status: str,
    global_step: int,
    metrics: Mapping[str, float],
    error: str | None = None,
    **record: Any,
) -> Path:
    """Write ``result.json`` atomically; ``record`` adds entries such as ``provenance`` and ``wall_seconds``."""
    payload = {
        "status": status,
        "global_step": int(global_step),
        # json has no NaN/inf: non-finite values are written as strings, so they stay visible
        "metrics": {k: (float(v) if math.isfinite(v) else str(float(v))) for k, v in sorted(metrics.items())},
        "error": error,
        **record,
    }
    return atomic_write_text(Path(run_dir) / RESULT_FILE, json.dumps(payload, indent=1) + "\n")


def read_result(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's ``result.json``, metrics as floats; without a readable one, ``status`` :data:`NO_RECORD` and why."""
    path = Path(run_dir) / RESULT_FILE
    if not path.is_file():
        return {"status": NO_RECORD, "error": f"no {RESULT_FILE}: killed, still running or crashed", "metrics": {}}
    try:
        record = json.loads(path.read_text())
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        metrics = {str(key): float(value) for key, value in (record.get("metrics") or {}).items()}
    except (OSError, ValueError, TypeError, AttributeError) as error:
        return {"status": NO_RECORD, "error": f"{RESULT_FILE} unreadable: {error}", "metrics": {}}
    return {"status": NO_RECORD, "error": None, **record, "metrics": metrics}


def read_metrics(run_dir: str | os.PathLike) -> pd.DataFrame:
    """``metrics.csv`` in long form (step, metric, value), sorted by metric and step; empty without the file."""
    import pandas as pd

    path = Path(run_dir) / METRICS_FILE
    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame(columns=["step", "metric", "value"])
    wide = pd.read_csv(path, dtype=str, keep_default_na=False)
    metrics = [c for c in wide.columns if c not in ("step", "epoch")]
    long = wide.melt(id_vars=["step"], value_vars=metrics, var_name="metric", value_name="value")
    long = long[long["value"] != ""]
    long = long.assign(step=long["step"].astype(int), value=long["value"].astype(float))
    # A resumed run re-logs the steps after its last checkpoint: the later row is the run that went on.
    long = long.drop_duplicates(["step", "metric"], keep="last").sort_values(["metric", "step"], kind="stable")
    return long.reset_index(drop=True)
