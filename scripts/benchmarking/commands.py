"""Whole commands timed in fresh processes, what a user waits for: ``--stylize-jobs`` (the stylize command under
``--compile auto`` and ``never``) and ``--sweep PRESET`` (sequential against parallel). Details: docs/modules.md.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from stylenorm.networks.public_checkpoints import transformer_net_to_fast_neural_style
from stylenorm.run_record import RESULT_FILE, read_result
from stylenorm.speed import STYLIZE_COMPILE_MIN_MEGAPIXELS

from .workloads import CONFIG_DIR, compose_config, inference_network, write_images

MODES = ("never", "auto")
TRAIN_SCRIPT = CONFIG_DIR.parent / "train.py"
LAUNCHERS = {"sequential": [], "parallel": ["hydra/launcher=parallel"]}


def timed_run(command: list[str], log: Path, ok: tuple[int, ...] = (0,), **env: str) -> float:
    """Wall time of one process, its output written to ``log``; raises with the log's tail when it fails."""
    started = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **env}).returncode
    seconds = time.perf_counter() - started
    if code not in ok:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"{' '.join(command[1:])} failed ({code}); end of {log}:\n{tail}")
    return seconds


def threshold_images(size: int) -> int:
    """The fewest images of ``size`` px whose megapixels reach the ``--compile auto`` threshold."""
    return math.ceil(STYLIZE_COMPILE_MIN_MEGAPIXELS * 1e6 / (size * size))


def stylize_jobs_report(size: int, counts: list[int] | None, device: torch.device, repeats: int = 3) -> dict[str, Any]:
    """``never`` and ``auto`` for jobs of each count (default: 1, 4 and the threshold's), alternating, ``repeats``
    times under the threshold (process starts vary as much as the differences)."""
    counts = counts or [1, 4, threshold_images(size)]
    network, _ = inference_network("stylize_style", torch.device("cpu"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="stylenorm-jobs-") as root:
        root = Path(root)
        checkpoint = root / "style.pth"
        torch.save(transformer_net_to_fast_neural_style(network.state_dict()), checkpoint)
        stylize = [sys.executable, "-m", "stylenorm.inference.cli", "-c", str(checkpoint), "--device", str(device)]
        for count in counts:
            folder = root / f"in{count}"
            write_images(folder, count, size, count, max(2, size // 32), ".png")
            times: dict[str, list[float]] = {mode: [] for mode in MODES}
            for _ in range(repeats if count < threshold_images(size) else 1):
                for mode in MODES:
                    cache = tempfile.mkdtemp(prefix="inductor-", dir=root)  # cold: nothing compiled yet
                    command = [*stylize, "-i", str(folder), "-o", str(root / f"out-{mode}-{count}"), "--compile", mode]
                    times[mode].append(timed_run(command, root / f"{mode}-{count}.log", TORCHINDUCTOR_CACHE_DIR=cache))
                    print(f"  {count} images, --compile {mode}: {times[mode][-1]:.1f} s", flush=True)
            found = re.search(r"--compile auto: (.*)", (root / f"auto-{count}.log").read_text())  # what auto decided
            decision = found[1] if found else "eager"
            row = {"images": count, "size": size, "megapixels": count * size * size / 1e6, "decision": decision}
            for mode in MODES:
                row.update({f"{mode}_s": statistics.median(times[mode]), f"{mode}_times_s": times[mode]})
            rows.append({**row, "auto_over_never": row["auto_s"] / row["never_s"]})
    return {"threshold_megapixels": STYLIZE_COMPILE_MIN_MEGAPIXELS, "repeats": repeats, "rows": rows}


def primary_metric(preset: str) -> str:
    """The preset's ``ablation.primary_metric`` (what its report ranks by), else ``val/loss``."""
    return compose_config([f"experiment={preset}"]).get("ablation", {}).get("primary_metric") or "val/loss"


def _train(arguments: list[str], folder: Path) -> float:
    """``train.py`` with its logs and checkpoints in ``folder``, its output in ``folder``.log."""
    paths = [f"paths.log_dir={folder}/logs", f"paths.checkpoint_dir={folder}/checkpoints"]
    # Exit status 3: the sweep skipped invalid grid points (stylenorm/sweep_summary.py).
    return timed_run([sys.executable, str(TRAIN_SCRIPT), *arguments, *paths], folder.with_suffix(".log"), ok=(0, 3))


def _final_metrics(logs: Path, metric: str) -> dict[str, float]:
    """Job folder name -> final ``metric`` of every finished job of the sweeps under ``logs``."""
    finals = {}
    for result in logs.glob(f"multirun/*/*/{RESULT_FILE}"):
        record = read_result(result.parent)
        if record["status"] == "finished" and metric in record["metrics"]:
            finals[result.parent.name] = record["metrics"][metric]
    return finals


def sweep_report(preset: str, out: Path, overrides: list[str], metric: str) -> dict[str, Any]:
    """Run ``preset`` both ways into ``out``; their wall times and the per-run metric differences."""
    out.mkdir(parents=True, exist_ok=True)
    common = [f"experiment={preset}", "trainer.enable_progress_bar=false", *overrides]
    # The warm-up is one run: no sweeping overrides (`norm=instance,batch`; a list `[a,b]` is one value).
    single = [o for o in common if "," not in (v := o.split("=", 1)[-1]) or v.startswith(("[", "{", "'", '"'))]
    print("  warm-up run (builds the data) ...", flush=True)
    _train([*single, "hydra.mode=RUN", "trainer.max_steps=2"], out / "warm-up")
    seconds, finals = {}, {}
    for launcher, extra in LAUNCHERS.items():
        print(f"  {launcher} sweep ...", flush=True)
        seconds[launcher] = _train(["-m", *common, *extra], out / launcher)
        finals[launcher] = _final_metrics(out / launcher / "logs", metric)
        print(f"  {launcher}: {len(finals[launcher])} runs finished in {seconds[launcher]:.0f} s", flush=True)
    sequential, parallel = finals["sequential"], finals["parallel"]
    matched = sorted(set(sequential) & set(parallel))
    differences = [abs(sequential[name] - parallel[name]) for name in matched]
    by_config: dict[str, list[float]] = {}
    for name in matched:  # the job folder less job number and seed: `4_norm-batch+seed-1` -> `norm-batch`
        by_config.setdefault(re.sub(r"\+?seed-\d+", "", name.split("_", 1)[-1]), []).append(sequential[name])
    seed_sds = [statistics.stdev(values) for values in by_config.values() if len(values) > 1]
    return {
        "preset": preset,
        "overrides": overrides,
        "metric": metric,
        "seconds": seconds,
        "speedup": seconds["sequential"] / seconds["parallel"],
        "runs": {launcher: len(values) for launcher, values in finals.items()},
        "unmatched": sorted(set(sequential) ^ set(parallel)),
        "per_run": [{"run": name, "sequential": sequential[name], "parallel": parallel[name]} for name in matched],
        "max_abs_difference": max(differences, default=0.0),
        "mean_abs_difference": statistics.mean(differences) if differences else 0.0,
        "median_seed_sd": statistics.median(seed_sds) if seed_sds else None,
    }
