"""A whole seeded sweep, one run after another against ``hydra/launcher=parallel``: wall time and metrics.

Runs ``python train.py -m experiment=<preset>`` both ways in one sitting, matches the runs by job folder
and compares their final metrics (each job's ``result.json``) with the seed-to-seed spread. Why and
results: docs/modules.md, docs/performance.md.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from stylenorm.benchmark.workloads import CONFIG_DIR, compose_config

TRAIN_SCRIPT = CONFIG_DIR.parent / "train.py"
LAUNCHERS = {"sequential": [], "parallel": ["hydra/launcher=parallel"]}


def primary_metric(preset: str) -> str:
    """The preset's ``ablation.primary_metric`` (what its report ranks by), else ``val/loss``."""
    return compose_config([f"experiment={preset}"]).get("ablation", {}).get("primary_metric") or "val/loss"


def _train(arguments: list[str], log: Path) -> float:
    """Wall time of one ``train.py`` process; raises with the log's tail when it fails."""
    started = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.run([sys.executable, str(TRAIN_SCRIPT), *arguments], stdout=handle, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if code.returncode not in (0, 3):  # 3: the sweep skipped invalid grid points (stylenorm/sweep_summary.py)
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise RuntimeError(f"train.py {' '.join(arguments)} failed ({code.returncode}); end of {log}:\n{tail}")
    return seconds


def _paths(folder: Path) -> list[str]:
    return [f"paths.log_dir={folder}/logs", f"paths.checkpoint_dir={folder}/checkpoints"]


def _final_metrics(logs: Path, metric: str) -> dict[str, float]:
    """Job folder name -> final ``metric`` of every finished job of the sweeps under ``logs``."""
    finals = {}
    for result in logs.glob("multirun/*/*/result.json"):
        record = json.loads(result.read_text())
        if record.get("status") == "finished" and metric in record.get("metrics", {}):
            finals[result.parent.name] = float(record["metrics"][metric])
    return finals


def sweep_report(preset: str, out: Path, overrides: list[str], metric: str) -> dict[str, Any]:
    """Run ``preset`` both ways into ``out``; their wall times and the per-run metric differences."""
    out.mkdir(parents=True, exist_ok=True)
    common = [f"experiment={preset}", "trainer.enable_progress_bar=false", *overrides]
    # The warm-up is one run: no sweeping overrides (`norm=instance,batch`; a list `[a,b]` is one value).
    single = [o for o in common if "," not in (v := o.split("=", 1)[-1]) or v.startswith(("[", "{", "'", '"'))]
    warm = [*single, "hydra.mode=RUN", "trainer.max_steps=2", *_paths(out / "warm-up")]
    print("  warm-up run (builds the data) ...", flush=True)
    _train(warm, out / "warm-up.log")
    seconds, finals = {}, {}
    for launcher, extra in LAUNCHERS.items():
        print(f"  {launcher} sweep ...", flush=True)
        seconds[launcher] = _train(["-m", *common, *extra, *_paths(out / launcher)], out / f"{launcher}.log")
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
