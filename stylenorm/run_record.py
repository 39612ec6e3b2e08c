"""What a run records about itself, so that a comparison between runs can be checked (docs/evidence.md,
6: provenance). :func:`run_record` gives the HPARAMS entries from the whole
config (seed, hardware, run length, the preset's protocol); :func:`write_result` writes ``result.json``
in the run folder - how the run ended, its final metrics and its provenance (git commit, CPU model and
flags, GPU, threads, versions, precision). A run without ``result.json`` was killed or is running.
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
from typing import Any

import torch
from omegaconf import DictConfig

from stylenorm.atomic_files import atomic_write_text

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


#: CPU flags that change what a CPU run computes or how fast (vector width, bf16 and matrix units).
_SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "asimd", "sve")


def cpu_flags() -> list[str]:
    """The :data:`_SPEED_FLAGS` this CPU has (from /proc/cpuinfo; empty elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                present = set(line.partition(":")[2].split())
                return [flag for flag in _SPEED_FLAGS if flag in present]
    except OSError:
        pass
    return []


def hardware_description(device: torch.device | str) -> str:
    """``cuda: NVIDIA H200`` or ``cpu: AMD EPYC 9B14 (avx2 avx512f avx512_bf16), 2 threads``."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    flags = " ".join(cpu_flags())
    return f"{device.type}: {_cpu_name()}{f' ({flags})' if flags else ''}, {torch.get_num_threads()} threads"


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
    """Where and with what a run's numbers were made; ``git_commit`` is None outside a git checkout."""
    import lightning

    device = torch.device(device)
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": git_commit(),
        "git_dirty": None if status is None else bool(status),
        "cpu": _cpu_name(),
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
    run_dir: str | os.PathLike,
    status: str,
    global_step: int,
    metrics: Mapping[str, float],
    error: str | None = None,
    **record: Any,
) -> Path:
    """Write ``result.json`` (via a temporary file, so a reader never sees half of it); ``record`` adds
    entries such as ``provenance``, ``overrides`` and ``wall_seconds``."""
    path = Path(run_dir) / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "status": status,
        "global_step": int(global_step),
        # json has no NaN/inf: non-finite values are written as strings, so they stay visible
        "metrics": {k: (float(v) if math.isfinite(v) else str(float(v))) for k, v in sorted(metrics.items())},
        "error": error,
        **record,
    }
    return atomic_write_text(path, json.dumps(payload, indent=1) + "\n")
