"""The end of ``python train.py -m ...`` (a Hydra callback): one row per job and the report command. Exit status: 0 all
finished, 3 the rest skipped as invalid combinations, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from stylenorm.run_record import RESULT_FILE, read_result
from stylenorm.tensorboard_link import view_lines


def _job_row(folder: Path, metric: str | None) -> dict[str, Any]:
    overrides = OmegaConf.load(folder / ".hydra" / "overrides.yaml")
    result = read_result(folder)
    metrics = result["metrics"]  # nan for a diverged run's
    name = metric or next((key for key in sorted(metrics) if key.startswith("val/")), None)
    return {
        "job": folder.name.split("_", 1)[0],
        "variant": folder.name.split("_", 1)[-1] or " ".join(overrides) or "(none)",
        "status": result["status"],
        "metric": f"{name} {metrics[name]:.4g}" if name in metrics else "",
        "minutes": round(result["wall_seconds"] / 60, 1) if result.get("wall_seconds") is not None else None,
        "reason": (result.get("error") or "")[:120],
    }


def _job_number(folder: Path) -> int:
    head = folder.name.split("_", 1)[0]
    return int(head) if head.isdigit() else 1 << 30


def summarize(sweep_dir: str | Path, metric: str | None = None):
    """A DataFrame of the jobs under ``sweep_dir`` (folders holding ``.hydra``), in job order."""
    import pandas as pd

    folders = sorted((p.parent.parent for p in Path(sweep_dir).glob("*/.hydra/overrides.yaml")), key=_job_number)
    return pd.DataFrame([_job_row(folder, metric) for folder in folders])


class SweepSummary(Callback):
    """Prints :func:`summarize` and the report command after a multirun; exit status as the module says."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        primary = OmegaConf.select(config, "ablation.primary_metric")
        table = summarize(sweep_dir, primary)
        if table.empty:
            return
        unfinished = table[table.status != "finished"]
        print(f"\nSweep {sweep_dir}: {len(table) - len(unfinished)} of {len(table)} jobs finished", file=sys.stderr)
        print(table.to_string(index=False), file=sys.stderr)
        print(f"Report: python scripts/ablation_report.py {sweep_dir}", file=sys.stderr)
        logged = {tag for path in sweep_dir.glob(f"*/{RESULT_FILE}") for tag in read_result(path.parent)["metrics"]}
        for line in view_lines(sweep_dir, [*([primary] if primary else []), *sorted(logged)]):
            print(f"Curves: {line}", file=sys.stderr)
        if len(unfinished):
            sys.exit(3 if (unfinished.status == "skipped").all() else 1)
