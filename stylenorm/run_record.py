"""What a run records about itself, so that a comparison between runs can be checked.

* :func:`run_record` - the HPARAMS-tab entries that come from the whole config rather than from the
  task: the seed, the hardware and precision it ran on, the run length and the ablation preset's
  protocol (its reference variant, what it holds equal). The evidence standard of DESIGN.md asks
  for every one of these next to every number.
* :func:`varied_hparams` - which HPARAMS entries the command line (or a sweep) set, so TensorBoard
  can show those columns first (:mod:`stylenorm.tasks.hparams_tab`).
* :func:`write_result` - ``result.json`` in the run's log folder at the end of a run: finished,
  interrupted, diverged (a non-finite final metric) or crashed, with the final metrics. A run
  without it was killed or is still running; the ablation report lists such runs, never averages them.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

RESULT_FILE = "result.json"

#: ``ablation`` keys a preset sets (configs/train.yaml documents them); recorded as ``ablation/<key>``.
ABLATION_KEYS = ("preset", "reference", "compare_within", "holds_equal", "primary_metric")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_description(device: torch.device | str) -> str:
    """``cuda: NVIDIA H200`` or ``cpu: AMD EPYC 9B14, 2 threads``: what the numbers were measured on."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"{device.type}: {_cpu_name()}, {torch.get_num_threads()} threads"


def run_record(cfg: DictConfig, device: torch.device | str) -> dict[str, Any]:
    """Flat HPARAMS entries for the seed, hardware, run length and the ablation protocol."""
    ablation = cfg.get("ablation") or {}
    record: dict[str, Any] = {
        "seed": int(cfg.seed),
        "run/hardware": hardware_description(device),
        "run/torch": str(torch.__version__),
        "trainer/max_steps": int(cfg.trainer.get("max_steps", -1)),
        "trainer/max_epochs": int(cfg.trainer.get("max_epochs", -1) or -1),
        "run/init_from": str(cfg.get("init_from") or ""),  # fine-tuned from these weights ("" = from scratch)
        # batch norm statistics across all processes (Lightning's SyncBatchNorm conversion, GPUs only)
        "trainer/sync_batchnorm": bool(cfg.trainer.get("sync_batchnorm", False)),
    }
    for key in ABLATION_KEYS:
        value = ablation.get(key)
        record[f"ablation/{key}"] = "" if value is None else str(value)
    return record


def hparam_key(override_key: str) -> str:
    """The HPARAMS name of a config key: ``norm`` -> ``norm/kind``, ``model.lr`` -> ``lr``,
    ``data.batch_size`` -> ``data/batch_size`` (model hyperparameters are recorded unprefixed)."""
    key = override_key.lstrip("+~")
    if key == "norm":
        return "norm/kind"
    if key.startswith("model."):
        key = key[len("model.") :]
    return key.replace(".", "/")


def varied_hparams(overrides: Iterable[str]) -> set[str]:
    """HPARAMS names set by ``key=value`` overrides (the command line, or one job of a sweep)."""
    return {hparam_key(override.partition("=")[0]) for override in overrides if "=" in override}


def final_status(metrics: Mapping[str, float], interrupted: bool) -> str:
    if interrupted:
        return "interrupted"
    if any(not math.isfinite(value) for value in metrics.values()):
        return "diverged"
    return "finished"


def write_result(
    log_dir: str | os.PathLike,
    status: str,
    global_step: int,
    metrics: Mapping[str, float],
    error: str | None = None,
) -> Path:
    """Write ``result.json`` (via a temporary file, so a reader never sees half of it)."""
    path = Path(log_dir) / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "status": status,
        "global_step": int(global_step),
        # json has no NaN/inf: non-finite values are written as strings, so they stay visible
        "metrics": {k: (float(v) if math.isfinite(v) else str(float(v))) for k, v in sorted(metrics.items())},
        "error": error,
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(temporary, path)
    return path
