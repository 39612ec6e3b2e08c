"""The runs of a sweep as pandas tables: a row per run folder (dotted settings from ``.hydra/config.yaml``,
status and provenance from ``result.json``, never from folder names), a row per value in ``metrics.csv``. A
:class:`RunTable` round-trips through ``runs.csv``, ``steps.csv.gz`` and ``claims.yaml``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from stylenorm.run_record import read_metrics, read_result

CONFIG_FILE, OVERRIDES_FILE = ".hydra/config.yaml", ".hydra/overrides.yaml"
RUNS_CSV, STEPS_CSV, CLAIMS_YAML = "runs.csv", "steps.csv.gz", "claims.yaml"
#: every logged value of a sweep runs to megabytes as text; mtime 0 keeps a regenerated file byte-identical
STEPS_COMPRESSION = {"method": "gzip", "mtime": 0}
#: Config keys (and prefixes) that say where and how a run ran, not what it is: never part of a variant.
NOT_A_SETTING = (
    *("seed", "paths.", "hydra.", "ckpt_path", "ablation.", "logger.", "callbacks.", "speed."),
    *("trainer.enable_progress_bar", "trainer.accelerator", "trainer.devices"),
    *("data.num_workers", "data.root", "data.embedded_root"),
)


class ReportError(Exception):
    """A problem with the input a person can fix (wrong LOGDIR, no runs, bad claims)."""


@dataclass
class RunTable:
    """``runs``: run, status, global_step, error, wall_seconds, overrides, ``prov.*`` and the dotted settings;
    ``steps``: run, step, metric, value (NaN kept); ``ablation``: the protocol the runs recorded."""

    runs: pd.DataFrame
    steps: pd.DataFrame
    ablation: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: str | os.PathLike) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.runs.to_csv(folder / RUNS_CSV, index=False)
        self.steps.to_csv(folder / STEPS_CSV, index=False, compression=STEPS_COMPRESSION)
        (folder / CLAIMS_YAML).write_text(yaml.safe_dump(self.ablation, sort_keys=False, allow_unicode=True))
        return [folder / RUNS_CSV, folder / STEPS_CSV, folder / CLAIMS_YAML]

    @classmethod
    def read(cls, folder: str | os.PathLike) -> RunTable:
        folder = Path(folder)
        if missing := [name for name in (RUNS_CSV, STEPS_CSV, CLAIMS_YAML) if not (folder / name).is_file()]:
            raise ReportError(f"{folder} is not a report folder: {missing} missing (ablation_report.py writes them)")
        runs = pd.read_csv(folder / RUNS_CSV, keep_default_na=False, na_values=[""])
        return cls(runs, pd.read_csv(folder / STEPS_CSV), yaml.safe_load((folder / CLAIMS_YAML).read_text()) or {})

    def varied(self) -> list[str]:
        """Settings whose value differs between runs (the seed and where-it-ran keys excepted)."""
        keep = [c for c in self.runs.columns if "." in c and not c.startswith(("prov.", *NOT_A_SETTING))]
        # a skipped grid point (refused before training) records a partial config: its missing keys vary nothing
        ran = self.runs[self.runs["status"] != "skipped"] if "status" in self.runs else self.runs
        varied, seen = [], set()
        for column in sorted(keep, key=lambda c: (c.count("."), keep.index(c))):
            values = tuple(ran[column].astype(str))
            if len(set(values)) > 1 and values not in seen:  # model.norm.kind repeats norm.kind (${norm})
                varied.append(column)
                seen.add(values)
        return sorted(varied, key=keep.index)

    def distinguishing(self, leave_out: tuple[str, ...] = ()) -> list[str]:
        """The :meth:`varied` settings but ``leave_out`` that earlier ones (those the command lines set first) do
        not imply among the finished runs (a norm's eps follows its kind): what tells the variants apart."""
        varied = [column for column in self.varied() if column not in leave_out]
        runs = self.runs[self.runs["status"] == "finished"] if "status" in self.runs else self.runs
        runs = runs.astype({c: str for c in varied})
        overrides = self.runs.get("overrides", pd.Series(dtype=object)).dropna()
        given = {item.partition("=")[0].lstrip("+~") for text in overrides for item in str(text).split()}
        shown: list[str] = []
        for column in sorted(varied, key=lambda column: column not in given):
            if not shown or (runs.groupby(shown)[column].nunique() > 1).any():
                shown.append(column)
        return sorted(shown, key=varied.index)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"norm": {"kind": "batch"}}`` -> ``{"norm.kind": "batch"}``; lists are kept as yaml flow text."""
    if isinstance(tree, dict):
        return {key: value for name, item in tree.items() for key, value in flatten(item, f"{prefix}{name}.").items()}
    if isinstance(tree, list):
        tree = yaml.safe_dump(tree, default_flow_style=True, width=10**6).strip()
    return {prefix[:-1]: tree}


def _overrides(folder: Path) -> list[str]:
    try:
        return [str(item) for item in yaml.safe_load((folder / OVERRIDES_FILE).read_text()) or []]
    except (OSError, yaml.YAMLError):  # the config is what counts; overrides only name the variant
        return []


def read_runs(logdir: str | os.PathLike) -> RunTable:
    """Every folder under ``logdir`` holding ``.hydra/config.yaml``, as a :class:`RunTable`."""
    root = Path(logdir)
    if not root.is_dir():
        raise ReportError(f"LOGDIR {root} is not a folder; give a sweep's folder, e.g. logs/multirun/<time>")
    folders = sorted(
        {p.parent.parent for p in root.rglob(CONFIG_FILE) if p.parent.name == ".hydra"},
        key=lambda path: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())],
    )
    if not folders:
        raise ReportError(f"LOGDIR {root} holds no run: expected run folders with {CONFIG_FILE} below it")
    rows, steps, protocols = [], [], {}
    for folder in folders:
        name = folder.relative_to(root).as_posix()
        try:
            config = yaml.safe_load((folder / CONFIG_FILE).read_text()) or {}
        except yaml.YAMLError as error:
            raise ReportError(f"{folder / CONFIG_FILE} is not valid yaml ({error}); fix or delete the run") from error
        result = read_result(folder)
        row = {"run": name, "status": result["status"]}
        row.update({key: result.get(key) for key in ("global_step", "error", "wall_seconds")})
        row["overrides"] = " ".join(result.get("overrides") or _overrides(folder))
        for key, value in (result.get("provenance") or {}).items():
            row[f"prov.{key}"] = " ".join(map(str, value)) if isinstance(value, list) else value
        rows.append({**row, **flatten({k: v for k, v in config.items() if k not in ("ablation", "hydra")})})
        steps.append(read_metrics(folder).assign(run=name))
        protocols[name] = config.get("ablation") or {}
    first = next(iter(protocols.values()))
    if differing := [name for name, protocol in protocols.items() if protocol != first]:
        first_run = next(iter(protocols))
        raise ReportError(f"{differing[0]} and {first_run} ran different ablation protocols; report each sweep apart")
    # a run that logged nothing (e.g. a skipped grid point) gives an empty frame of object columns
    steps = pd.concat(steps, ignore_index=True).astype({"step": int, "value": float})
    return RunTable(pd.DataFrame(rows), steps[["run", "step", "metric", "value"]], dict(first))


def images_seen(runs: pd.DataFrame, step: pd.Series) -> pd.Series:
    """``step`` optimizer steps of each run (rows aligned with ``runs``) in images (CycleGAN: 2 steps a batch)."""
    per_batch = runs.get("model.name", pd.Series("", index=runs.index)).map(lambda m: 2 if m == "cyclegan" else 1)
    return step // per_batch * runs["data.batch_size"].astype(float)


def scores(table: RunTable, k: int) -> pd.DataFrame:
    """Per run and metric: the score (docs/evidence.md, 4: the mean of its last ``k`` values), ``n``, ``finite``."""
    steps = table.steps.sort_values(["run", "metric", "step"], kind="stable")
    grouped = steps.groupby(["run", "metric"], sort=False).tail(k).groupby(["run", "metric"])["value"]
    finite = grouped.apply(lambda v: bool(np.isfinite(v).all()))
    out = pd.DataFrame({"score": grouped.mean().where(finite, math.nan), "n": grouped.size(), "finite": finite})
    return out.reset_index()
