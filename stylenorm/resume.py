"""Continuing a run (``ckpt_path=``) or starting one from its weights (``init_from=``), refused before anything is
written when the settings a run measures differ (:func:`check_resume`). docs/training.md.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from stylenorm.config_checks import ConfigError
from stylenorm.networks.public_checkpoints import identify
from stylenorm.run_record import git_commit, read_result
from stylenorm.safe_load import safe_load
from stylenorm.tasks.base import SETTINGS_KEY, flatten  # the tasks write SETTINGS_KEY; resume reads it

#: Keys that do not change what a run measures, so a resume may change them (and every key under model.speed).
_FREE_KEYS = {"data.num_workers", "data.root", "data.val_root", "data.embedded_root", "data.style_root"}
_FREE_KEYS |= {"model.val_grid_images", "model._convert_"}
EXIT_SIGTERM, EXIT_SIGINT = 143, 130  # 128 + signal number, as shells and SLURM read them


def _measured(tree: Mapping[str, Any]) -> dict[str, Any]:
    """``tree`` flattened to dotted keys, less the free ones."""
    flat = flatten(tree, sep=".")
    return {key: value for key, value in flat.items() if key not in _FREE_KEYS and not key.startswith("model.speed.")}


def measured_settings(cfg: DictConfig) -> dict[str, Any]:
    """The flattened ``seed``, ``model`` and ``data`` settings of a composed config, less the free keys."""
    groups = {group: OmegaConf.to_container(cfg[group], resolve=True) for group in ("model", "data")}
    return _measured({"seed": cfg.get("seed"), **groups})


def read_checkpoint(path: str | Path, what: str = "ckpt_path") -> dict[str, Any]:
    """A training checkpoint, read safely, or a ConfigError saying what is wrong."""
    try:
        checkpoint = safe_load(path, "Use a last.ckpt or step*.ckpt written by train.py (ls -R checkpoints).")
    except (OSError, ValueError) as error:
        raise ConfigError(f"{what}={path} is not a readable training checkpoint: {error}") from None
    if isinstance(checkpoint, dict) and "state_dict" in checkpoint:
        return checkpoint
    try:
        kind = f"a {identify(checkpoint).format.replace('_', '-')} file"
    except (ValueError, KeyError, TypeError, AttributeError):
        kind = "a bare network file"
    raise ConfigError(
        f"{what}={path} holds no training state: it is {kind}. Give a train.py .ckpt (public files: stylize command)."
    )


def _shown(settings: Mapping[str, Any], key: str) -> str:
    return repr(settings[key]) if key in settings else "not set"


def check_resume(cfg: DictConfig) -> None:
    """Refuse ``ckpt_path=`` when the composed settings are not the ones the checkpoint's run used."""
    checkpoint = read_checkpoint(cfg.ckpt_path)
    composed = measured_settings(cfg)
    if SETTINGS_KEY in checkpoint:
        saved = dict(checkpoint[SETTINGS_KEY])
    else:  # written before SETTINGS_KEY: the task's constructor arguments (no _target_) are all there is
        saved = _measured({"model": checkpoint.get("hyper_parameters", {})})
        composed = {k: v for k, v in composed.items() if k.startswith("model.") and not k.startswith("model._")}
    unset = object()  # a key only one side has differs, whatever the other's value
    differing = [k for k in sorted(saved.keys() | composed.keys()) if saved.get(k, unset) != composed.get(k, unset)]
    if not differing:
        return
    lines = [f"  {key}: {_shown(saved, key)} in the checkpoint, {_shown(composed, key)} now" for key in differing[:12]]
    if len(differing) > 12:
        lines.append(f"  ... and {len(differing) - 12} more")
    raise ConfigError(
        f"ckpt_path={cfg.ckpt_path} was written with other settings than this command composes:\n"
        + "\n".join(lines)
        + "\nRepeat its overrides (its .hydra/config.yaml) to continue it, or start a new run with init_from= instead."
    )


def load_initial_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Copy every weight of a training checkpoint into ``model``, which must have the same keys and shapes."""
    state = read_checkpoint(path, "init_from")["state_dict"]
    excluded = tuple(getattr(model, "checkpoint_excluded_prefixes", ()))
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(excluded)}
    problems = [
        f"{label} ({len(keys)}): {', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}"
        for label, keys in (
            ("missing", sorted(own.keys() - state.keys())),
            ("unexpected", sorted(state.keys() - own.keys())),
            ("other shape", sorted(k for k in own.keys() & state.keys() if own[k].shape != state[k].shape)),
        )
        if keys
    ]
    if problems:
        raise ConfigError(
            f"init_from={path} does not fit this network: {'; '.join(problems)}. Compose its .hydra/config.yaml."
        )
    model.load_state_dict({k: state[k] for k in own}, strict=False)


def resume_command(cfg: DictConfig, overrides: list[str]) -> str:
    """The command that continues this run from its ``last.ckpt``, ready to paste into a shell."""
    overrides = [o for o in overrides if not o.lstrip("+~").startswith("ckpt_path=")]
    checkpoint = Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"
    return shlex.join(["python", "train.py", *overrides, f"ckpt_path={checkpoint}"])


def signal_exit_status(error: BaseException, trainer: Any) -> int | None:
    """143 for SIGTERM (Lightning raises ``SIGTERMException``), 130 for Ctrl-C, None otherwise."""
    if isinstance(error, SIGTERMException) or getattr(trainer, "received_sigterm", False):
        return EXIT_SIGTERM
    if isinstance(error, KeyboardInterrupt) or (
        isinstance(error, SystemExit) and isinstance(error.__context__, KeyboardInterrupt)
    ):
        return EXIT_SIGINT
    return None


def config_digest(cfg: DictConfig, *, with_length: bool = True) -> str:
    """What a run measures (and how long it trains), as a short hash."""
    length = {key: cfg.trainer.get(key) for key in ("max_steps", "max_epochs")} if with_length else {}
    text = json.dumps({**measured_settings(cfg), **length}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def continue_in_place(cfg: DictConfig) -> dict[str, Any] | None:
    """A sweep job run again: its earlier result if finished alike, else None (``ckpt_path`` set to a ``last.ckpt``)."""
    if cfg.ckpt_path:
        return None
    previous = read_result(cfg.paths.run_dir)
    if (saved := previous.get("settings_digest")) and saved != config_digest(cfg, with_length=False):
        raise ConfigError(
            f"{cfg.paths.run_dir} holds a run with other settings: give this sweep hydra.sweep.dir=logs/multirun/<new>."
        )
    if previous["status"] == "finished" and previous.get("config_digest") == config_digest(cfg):
        if (previous.get("provenance") or {}).get("git_commit") == git_commit():
            return previous
        raise ConfigError(
            f"{cfg.paths.run_dir} holds this job finished at another commit: use hydra.sweep.dir=logs/multirun/<new>."
        )
    last = Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"
    if last.is_file():  # interrupted, or finished with a shorter run length: continue it
        with open_dict(cfg):
            cfg.ckpt_path = str(last)
        try:
            check_resume(cfg)
        except ConfigError as error:  # e.g. the same preset swept under another paths.log_dir
            raise ConfigError(
                f"{error}\nFound in this sweep job's checkpoint folder: if another sweep's, set paths.checkpoint_dir."
            ) from None
    return None
