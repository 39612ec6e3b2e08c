"""A run's two folders: Hydra's job output dir (logs) and its mirror under ``paths.checkpoint_dir``.

The layout is decided in configs/train.yaml (``hydra.run`` / ``hydra.sweep``); this module places a run
there (:func:`place_run`), maps a run folder to its checkpoint folder and back, so a resume continues
in the run it came from, and gives the config's resolvers. No torch or Lightning import (``--help``).
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

_placed_at = time.monotonic()  # reset by place_run


def _relative(path: str | os.PathLike, root: str | os.PathLike) -> Path | None:
    try:
        return Path(path).absolute().relative_to(Path(root).absolute())
    except ValueError:
        return None


def checkpoint_dir_of(
    run_dir: str | os.PathLike, log_dir: str | os.PathLike, checkpoint_dir: str | os.PathLike
) -> Path:
    """``logs/X`` -> ``checkpoints/X``; a run folder outside ``log_dir`` keeps its checkpoints inside it."""
    relative = _relative(run_dir, log_dir)
    return Path(checkpoint_dir) / relative if relative is not None else Path(run_dir) / "checkpoints"


def run_dir_of_checkpoint(ckpt_path: str | None, log_dir: str, checkpoint_dir: str) -> Path | None:
    """``checkpoints/X/last.ckpt`` -> ``logs/X`` when that run folder exists (a resume continues there)."""
    if not ckpt_path:
        return None
    relative = _relative(Path(ckpt_path).parent, checkpoint_dir)
    if relative is None or relative == Path("."):
        return None
    run_dir = Path(log_dir) / relative
    return run_dir if run_dir.is_dir() else None


def _resumed_or_new(ckpt_path: str | None, log_dir: str, checkpoint_dir: str, new_run_dir: str) -> str:
    resumed = run_dir_of_checkpoint(ckpt_path, log_dir, checkpoint_dir)
    return str(resumed) if resumed is not None else new_run_dir


def config_subdir(ckpt_path: str | None, log_dir: str, checkpoint_dir: str, now: str) -> str:
    """``.hydra`` for a new run; a resume keeps the run's own ``.hydra`` untouched and records its
    config beside it, in ``.hydra/resume_<now>``."""
    return ".hydra" if run_dir_of_checkpoint(ckpt_path, log_dir, checkpoint_dir) is None else f".hydra/resume_{now}"


def swept_overrides(sweep_dir: str | os.PathLike, sweeper_params: Any) -> set[str]:
    """Keys a sweep varies: sweep syntax on its command line (``multirun.yaml``, written before the
    jobs start) and the ``hydra.sweeper.params`` of a preset."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys = {str(key) for key in (sweeper_params or {})}
    path = Path(sweep_dir) / "multirun.yaml"
    if path.is_file():
        command_line = OmegaConf.load(path).hydra.overrides.task
        keys |= {o.get_key_element() for o in OverridesParser.create().parse_overrides(list(command_line))
                 if o.is_sweep_override()}  # fmt: skip
    return keys


def _swept_dirname(*, _root_) -> str:
    """``norm-group+seed-1``: this job's values of the swept keys (all its overrides when unknown)."""
    hydra = _root_.hydra
    keys = swept_overrides(hydra.sweep.dir, hydra.sweeper.get("params"))
    parts = []
    for override in hydra.overrides.task:
        key, _, value = override.partition("=")
        if key.lstrip("+~") in keys or not keys:
            parts.append(f"{key.lstrip('+~')}-{value}")
    name = re.sub(r"[^A-Za-z0-9_.,+=-]", "_", "+".join(parts)).replace(",", "_").replace("=", "-")
    return name[:150]


def new_run_dir(log_dir: str | os.PathLike, model: str, norm: str) -> Path:
    """A fresh folder for a run composed outside a Hydra app (tests, notebooks): the single-run layout of
    configs/train.yaml, with a counter when two runs start in the same second."""
    stem = f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{model}-{norm}"
    for index in range(1000):
        folder = Path(log_dir) / "runs" / (stem if index == 0 else f"{stem}_{index}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"No free run folder for {stem} under {log_dir}/runs")


def _hydra() -> DictConfig | None:
    return HydraConfig.get() if HydraConfig.initialized() else None


def task_overrides() -> list[str]:
    return list(_hydra().overrides.task) if _hydra() else []


def is_multirun() -> bool:
    return bool(_hydra()) and _hydra().mode == RunMode.MULTIRUN


def place_run(cfg: DictConfig) -> None:
    """``paths.run_dir`` (Hydra's job output dir, or a new folder when composed outside Hydra) and its
    checkpoint folder."""
    global _placed_at
    _placed_at = time.monotonic()
    if _hydra():
        run_dir = Path(_hydra().runtime.output_dir)
    else:  # composed outside a Hydra app (tests, notebooks): the layout of configs/train.yaml
        paths = cfg.paths.log_dir, cfg.paths.checkpoint_dir
        run_dir = run_dir_of_checkpoint(cfg.ckpt_path, *paths) or new_run_dir(paths[0], cfg.model.name, cfg.norm.kind)
    with open_dict(cfg):
        cfg.paths.run_dir = str(run_dir)
        cfg.paths.run_checkpoint_dir = str(checkpoint_dir_of(run_dir, cfg.paths.log_dir, cfg.paths.checkpoint_dir))


def save_config(cfg: DictConfig) -> None:
    """The resolved config (auto values filled in) as Hydra's ``.hydra/config.yaml`` (a resume: its own subdir)."""
    now = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    subdir = _hydra().output_subdir if _hydra() else None
    subdir = subdir or config_subdir(cfg.ckpt_path, cfg.paths.log_dir, cfg.paths.checkpoint_dir, now)
    folder = Path(cfg.paths.run_dir) / subdir
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / ".config.yaml.tmp"
    OmegaConf.save(cfg, temporary, resolve=True)
    temporary.replace(folder / "config.yaml")


def seconds_since_placed() -> float:
    """Wall time since :func:`place_run`, for ``result.json``."""
    return round(time.monotonic() - _placed_at, 2)


def _sweep_name(preset: str | None, fallback: str) -> str:
    return preset or fallback


def register_resolvers() -> None:
    """Every resolver configs/ use: the run folder's (configs/train.yaml's ``hydra`` section),
    ``${usable_cores:}`` (the parallel launcher) and ``${scaled_lr:...}`` (the study presets). Idempotent."""
    from stylenorm.cores import register_usable_cores_resolver
    from stylenorm.protocol.learning_rate import register_protocol_resolvers

    register_usable_cores_resolver()
    register_protocol_resolvers()
    resolvers = (
        ("resumed_or_new", _resumed_or_new),
        ("config_subdir", config_subdir),
        ("swept", _swept_dirname),
        ("sweep_name", _sweep_name),
    )
    for name, resolver in resolvers:
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
