"""A run's two folders: Hydra's job output dir (logs) and its mirror under ``paths.checkpoint_dir``, laid out by
configs/train.yaml with this module's resolvers. No torch or Lightning import (``--help``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from datetime import datetime
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from stylenorm.atomic_files import atomic_path

_placed_at = time.monotonic()  # reset by place_run


def _relative(path: str | os.PathLike, root: str | os.PathLike) -> Path | None:
    path, root = Path(path).absolute(), Path(root).absolute()
    return path.relative_to(root) if path.is_relative_to(root) else None


def checkpoint_dir_of(
    run_dir: str | os.PathLike, log_dir: str | os.PathLike, checkpoint_dir: str | os.PathLike
) -> Path:
    """``logs/X`` -> ``checkpoints/X``; a run folder outside ``log_dir`` keeps its checkpoints inside it."""
    relative = _relative(run_dir, log_dir)
    return Path(checkpoint_dir) / relative if relative is not None else Path(run_dir) / "checkpoints"


def run_dir_of_checkpoint(ckpt_path: str | None, log_dir: str, checkpoint_dir: str) -> Path | None:
    """``checkpoints/X/last.ckpt`` -> ``logs/X`` when that run folder exists (a resume continues there)."""
    relative = _relative(Path(ckpt_path).parent, checkpoint_dir) if ckpt_path else None
    if relative is None or relative == Path("."):
        return None
    run_dir = Path(log_dir) / relative
    return run_dir if run_dir.is_dir() else None


def holds_a_run(folder: str | os.PathLike) -> bool:
    """Whether a run has written its record in ``folder`` (its logs or ``result.json``), not only Hydra's files."""
    folder = Path(folder)
    return any((folder / name).is_file() for name in ("result.json", "metrics.csv")) or any(
        folder.glob("events.out.tfevents.*")
    )


def config_subdir(ckpt_path: str | None, log_dir: str, checkpoint_dir: str, now: str, output_dir: str = "") -> str:
    """``.hydra`` for a new run, ``.hydra/resume_<now>`` for a resume, ``.hydra/relaunch_<now>`` for a relaunch."""
    if run_dir_of_checkpoint(ckpt_path, log_dir, checkpoint_dir) is not None:
        return f".hydra/resume_{now}"
    return f".hydra/relaunch_{now}" if output_dir and holds_a_run(output_dir) else ".hydra"


def _recorded_overrides(folder: Path) -> set[str] | None:
    file = folder / ".hydra" / "overrides.yaml"
    return {str(o) for o in OmegaConf.load(file)} if file.is_file() else None


def _swept_dirname(*, _root_) -> str:
    """``norm-group+seed-1``: this job's values of the keys the sweep varies (else all its overrides)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    hydra = _root_.hydra
    keys = {str(key) for key in (hydra.sweeper.get("params") or {})}
    multirun = Path(hydra.sweep.dir) / "multirun.yaml"
    if multirun.is_file():
        command_line = OverridesParser.create().parse_overrides(list(OmegaConf.load(multirun).hydra.overrides.task))
        keys |= {override.get_key_element() for override in command_line if override.is_sweep_override()}
    task = [str(override) for override in hydra.overrides.task]
    swept = [o for o in task if o.partition("=")[0].lstrip("+~") in keys or not keys]
    # A second launch into the sweep folder with other fixed overrides is told apart from the first's job of the
    # same number by the overrides that differ, else by a digest of them all.
    first = Path(hydra.sweep.dir) / f"{hydra.job.num}_{_dirname(swept)}"
    recorded = _recorded_overrides(first)
    candidates = [swept, swept + [o for o in task if o not in swept and o not in (recorded or ())]]
    for overrides in candidates:
        name = _dirname(overrides)
        if _recorded_overrides(Path(hydra.sweep.dir) / f"{hydra.job.num}_{name}") in (None, set(task)):
            return name
    return f"{_dirname(swept)[:140]}+{hashlib.sha1(' '.join(sorted(task)).encode()).hexdigest()[:8]}"


def _dirname(overrides: list[str]) -> str:
    """``norm=group``, ``seed=1`` -> ``norm-group+seed-1``: characters a shell and ``ckpt_path=`` take unquoted."""
    parts = [o.lstrip("+~").replace("=", "-", 1) for o in overrides]
    return re.sub(r"[^A-Za-z0-9_.,+=-]", "_", "+".join(parts)).replace(",", "_").replace("=", "-")[:150]


def new_run_dir(log_dir: str | os.PathLike, model: str, norm: str) -> Path:
    """A fresh folder for a run composed outside Hydra (tests, notebooks), as configs/train.yaml lays them out."""
    stem = f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{model}-{norm}"
    for index in range(1000):
        folder = Path(log_dir) / "runs" / (stem if index == 0 else f"{stem}_{index}")
        with contextlib.suppress(FileExistsError):
            folder.mkdir(parents=True)
            return folder
    raise FileExistsError(f"No free run folder for {stem} under {log_dir}/runs")


def _hydra() -> DictConfig | None:
    return HydraConfig.get() if HydraConfig.initialized() else None


def task_overrides() -> list[str]:
    return list(_hydra().overrides.task) if _hydra() else []


def is_multirun() -> bool:
    return bool(_hydra()) and _hydra().mode == RunMode.MULTIRUN


def place_run(cfg: DictConfig) -> None:
    """Set ``paths.run_dir`` (Hydra's job output dir, or a new folder outside Hydra) and its checkpoint folder."""
    global _placed_at
    _placed_at = time.monotonic()
    paths = cfg.paths
    if _hydra():
        run_dir = Path(_hydra().runtime.output_dir)
    else:
        resumed = run_dir_of_checkpoint(cfg.ckpt_path, paths.log_dir, paths.checkpoint_dir)
        run_dir = resumed or new_run_dir(paths.log_dir, cfg.model.name, cfg.norm.kind)
    with open_dict(cfg):
        paths.run_dir = str(run_dir)
        paths.run_checkpoint_dir = str(checkpoint_dir_of(run_dir, paths.log_dir, paths.checkpoint_dir))
        # Where Hydra wrote this job's config, decided now: read later, the run's own logs would change it.
        paths.run_config_subdir = _hydra().output_subdir if _hydra() else None


def save_config(cfg: DictConfig) -> None:
    """The resolved config (auto values filled in) as ``.hydra/config.yaml`` (a resume: its own subdir)."""
    now = f"{datetime.now():%Y-%m-%d_%H-%M-%S}"
    subdir = cfg.paths.get("run_config_subdir") or config_subdir(
        cfg.ckpt_path, cfg.paths.log_dir, cfg.paths.checkpoint_dir, now
    )
    with atomic_path(Path(cfg.paths.run_dir) / subdir / "config.yaml") as temporary:
        OmegaConf.save(cfg, temporary, resolve=True)


def seconds_since_placed() -> float:
    """Wall time since :func:`place_run`, for ``result.json``."""
    return round(time.monotonic() - _placed_at, 2)


def register_resolvers() -> None:
    """Every resolver of configs/ (the run folder's, ``${usable_cores:}``, ``${scaled_lr:...}``); idempotent."""
    from stylenorm.cores import usable_cores
    from stylenorm.protocol.learning_rate import scaled_lr

    resolvers = {
        "usable_cores": usable_cores,
        "scaled_lr": scaled_lr,
        "resumed_or_new": lambda ckpt_path, log_dir, checkpoint_dir, new: str(
            run_dir_of_checkpoint(ckpt_path, log_dir, checkpoint_dir) or new
        ),
        "config_subdir": config_subdir,
        "swept": _swept_dirname,
        "sweep_name": lambda preset, fallback: preset or fallback,
    }
    for name, resolver in resolvers.items():
        OmegaConf.register_new_resolver(name, resolver, replace=True)
