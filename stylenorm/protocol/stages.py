"""From a tuning sweep to the final stage (docs/ablations-protocol.md): :func:`tuning_runs` reads the sweep,
:func:`~stylenorm.protocol.best_lr` picks each variant's learning rate, :func:`final_stage_command` writes the
sweep that trains every variant at it on fresh seeds, scored on the test photos.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
import yaml
from omegaconf import OmegaConf

from stylenorm.run_record import read_metrics, read_result

#: Override keys that are the tuning itself (or the run's seed), never part of a variant.
TUNING_KEYS = frozenset({"seed", "protocol", "protocol.lr", "protocol.lr_factor", "model.lr"})


def _key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0]


def _score(job: Path, metric: str, last_k: int) -> tuple[float, str]:
    """(score, status): the mean of the last ``last_k`` logged values, else result.json's; NaN if diverged."""
    result = read_result(job)
    if (status := result["status"]) == "diverged":
        return math.nan, status
    steps = read_metrics(job)
    values = steps.loc[steps["metric"] == metric, "value"].dropna()
    return float(values.tail(last_k).mean() if len(values) else result["metrics"].get(metric, math.nan)), status


def tuning_runs(folder: str | Path, metric: str, last_k: int = 3) -> pd.DataFrame:
    """One row per run under ``folder``: run, overrides, lr (``protocol.lr x lr_factor``), base_lr, seed, metric,
    status and variant (the overrides that differ between runs, less :data:`TUNING_KEYS`)."""
    rows = []
    for overrides_file in sorted(Path(folder).rglob(".hydra/overrides.yaml")):
        job = overrides_file.parent.parent
        config = OmegaConf.load(job / ".hydra" / "config.yaml")
        if "protocol" not in config:
            raise ValueError(
                f"{job} has no protocol settings: tune with e.g. experiment=ablation_autoencoder protocol=tune."
            )
        if config.protocol.get("stage") not in ("tune", None):  # a shared or final run in the same tree
            continue
        score, status = _score(job, metric, last_k)
        overrides = list(yaml.safe_load(overrides_file.read_text()) or [])
        base_lr = float(config.protocol.lr)
        lr = base_lr * float(config.protocol.lr_factor)
        row = dict(run=str(job), overrides=overrides, lr=lr, base_lr=base_lr, seed=int(config.seed), metric=score)
        rows.append({**row, "status": status})
    if not rows:
        raise FileNotFoundError(f"No runs under {folder} (looked for */.hydra/overrides.yaml); give a sweep's folder.")
    frame = pd.DataFrame(rows)
    shared = set.intersection(*(set(o) for o in frame["overrides"]))
    frame["variant"] = [
        " ".join(sorted(o for o in overrides if o not in shared and _key(o) not in TUNING_KEYS))
        for overrides in frame["overrides"]
    ]
    return frame


def common_overrides(runs: pd.DataFrame, drop: Iterable[str] = ()) -> list[str]:
    """The overrides every run shares, in command-line order, less the tuning stage's own and ``drop``'s keys."""
    dropped, shared = TUNING_KEYS | set(drop), set.intersection(*(set(o) for o in runs["overrides"]))
    first = runs["overrides"].iloc[0]
    return [o for o in first if o in shared and _key(o) not in dropped and not _key(o).startswith("hydra.")]


def final_stage_command(best: pd.DataFrame, runs: pd.DataFrame, drop: Sequence[str] = ()) -> str:
    """One ``train.py -m`` per variant at its best learning rate (``protocol=final``: fresh seeds, the test
    split, a sweep folder per variant), joined with ``&&`` so the shell runs them in turn."""
    base = ["python", "train.py", "-m", *common_overrides(runs, drop), "protocol=final"]
    lines = []
    for row in best.itertuples(index=False):
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", row.variant.replace(" ", "+").replace("=", "-")) or "all"
        words = [*base, *row.variant.split(), f"protocol.lr={row.lr:.6g}", f"protocol.variant={slug}"]
        lines.append(shlex.join(words))
    return " && \\\n".join(lines)


def extension_commands(best: pd.DataFrame, runs: pd.DataFrame, folder: str | Path) -> list[str]:
    """For each variant whose best learning rate is at the edge of its grid, the tuning runs one step (a factor
    of 2) beyond that edge, into the same sweep ``folder``, so that :func:`best_lr` sees them next time."""
    base = ["python", "train.py", "-m", *common_overrides(runs), "protocol=tune"]
    lines = []
    for row in best[best["at_edge"]].itertuples(index=False):
        beyond = row.tried[0] / 2 if row.lr == row.tried[0] else row.tried[-1] * 2
        base_lr = runs.loc[runs["variant"] == row.variant, "base_lr"].iloc[0]
        words = [*base, f"protocol.lr_factor={beyond / base_lr:.6g}", *row.variant.split(), f"hydra.sweep.dir={folder}"]
        lines.append(shlex.join(words))
    return lines
