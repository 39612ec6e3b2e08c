"""Continuing a run (``ckpt_path=``) or starting a new one from its weights (``init_from=``), safely.

Resuming writes into the checkpoint's own run folder, so a resume composing other settings than the run
was trained with (another norm, batch size, seed ...) would file a run trained half one way and half the
other under the first run's name. So every checkpoint carries the settings that define what its run
measures (:func:`measured_settings`, under :data:`SETTINGS_KEY`) and :func:`check_resume` refuses a resume
that differs, before anything is written; older checkpoints are compared by the task's saved
hyperparameters. ``init_from=PATH`` (:func:`load_initial_weights`) loads the weights only, into a new run
with its own name and folder. docs/training.md, "What a run leaves behind".
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf, open_dict

from stylenorm.config_checks import ConfigError
from stylenorm.networks.checkpoint_kinds import identify
from stylenorm.safe_load import safe_load
from stylenorm.tasks.base import SETTINGS_KEY  # the tasks write it; resume reads it

#: Keys that do not change what a run measures (where data live, how many workers load them, speed
#: switches, image grids), so a resume may change them. An entry ending in "." covers every key under it.
_FREE_KEYS = ("data.num_workers", "data.root", "data.val_root", "data.embedded_root", "data.style_root")
_FREE_MODEL_KEYS = ("model.speed.", "model.val_grid_images", "model._convert_")


def _ignored(key: str, ignores: Iterable[str]) -> bool:
    return any(key == entry or (entry.endswith(".") and key.startswith(entry)) for entry in ignores)


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}"))
        return flat
    if isinstance(value, tuple):
        value = list(value)
    return {prefix: value}


def measured_settings(cfg: DictConfig) -> dict[str, Any]:
    """The flattened ``model``, ``data`` and ``seed`` settings of a composed config, less the keys that
    do not change what a run measures (paths, worker counts; speed switches)."""
    ignores = _FREE_KEYS + _FREE_MODEL_KEYS
    flat = {"seed": cfg.get("seed")}
    for group in ("model", "data"):
        flat.update(_flatten(OmegaConf.to_container(cfg[group], resolve=True), group))
    return {key: value for key, value in flat.items() if not _ignored(key, ignores)}


def read_checkpoint(path: str | Path, what: str = "ckpt_path") -> dict[str, Any]:
    """A training checkpoint, read safely (``weights_only=True``), or a ValueError saying what is wrong."""
    try:
        checkpoint = safe_load(path, "Use a last.ckpt or step*.ckpt written by train.py (ls -R checkpoints).")
    except (OSError, ValueError) as error:
        raise ConfigError(f"{what}={path} is not a readable training checkpoint: {error}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(
            f"{what}={path} holds no Lightning training state (no 'state_dict' key): it is "
            f"{_network_file(checkpoint)}. {what} takes a .ckpt written by train.py; public .pth files are for "
            f"the stylize command."
        )
    return checkpoint


def _network_file(state: Any) -> str:
    """``a fast-neural-style file`` (the registry's name for the layout), or ``a bare network file``."""
    try:
        return f"a {identify(state).format.replace('_', '-')} file"
    except (ValueError, KeyError, TypeError, AttributeError):
        return "a bare network file"


def _settings_of_checkpoint(checkpoint: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The checkpoint's settings and the prefix of the composed settings to compare them with."""
    if SETTINGS_KEY in checkpoint:
        return dict(checkpoint[SETTINGS_KEY]), ""
    # Written before SETTINGS_KEY existed: the task's constructor arguments are all there is.
    return _flatten(dict(checkpoint.get("hyper_parameters", {})), "model"), "model."


def settings_differences(cfg: DictConfig, checkpoint: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, value in the checkpoint, value composed now)`` for every setting that differs."""
    saved, scope = _settings_of_checkpoint(checkpoint)
    composed = {k: v for k, v in measured_settings(cfg).items() if k.startswith(scope)}
    if scope:  # hyperparameters hold no _target_; compare like with like
        composed = {k: v for k, v in composed.items() if not k.startswith("model._")}
        saved = {k: v for k, v in saved.items() if not _ignored(k, _FREE_MODEL_KEYS)}
    missing = object()
    differences = []
    for key in sorted(set(saved) | set(composed)):
        before, now = saved.get(key, missing), composed.get(key, missing)
        if before != now:
            differences.append((key, _NOT_SET if before is missing else before, _NOT_SET if now is missing else now))
    return differences


class _NotSet:
    def __repr__(self) -> str:
        return "not set"


_NOT_SET = _NotSet()


def describe_differences(differences: list[tuple[str, Any, Any]], limit: int = 12) -> str:
    lines = [f"  {key}: {before!r} in the checkpoint, {now!r} now" for key, before, now in differences[:limit]]
    if len(differences) > limit:
        lines.append(f"  ... and {len(differences) - limit} more")
    return "\n".join(lines)


def check_resume(cfg: DictConfig) -> None:
    """Refuse ``ckpt_path=`` when the composed settings are not the ones the checkpoint's run used."""
    checkpoint = read_checkpoint(cfg.ckpt_path)
    differences = settings_differences(cfg, checkpoint)
    if not differences:
        return
    raise ConfigError(
        f"ckpt_path={cfg.ckpt_path} was written by a run with other settings than this command composes:\n"
        f"{describe_differences(differences)}\n"
        f"Resuming would continue that run under the new settings and overwrite its checkpoints; nothing was "
        f"written. To continue it, repeat its own overrides (the resume command it logged when it started, or "
        f"its run folder's .hydra/config.yaml). To train a new run starting from its weights, use "
        f"init_from=<the checkpoint> instead of ckpt_path (weights only; a run folder of its own)."
    )


def load_initial_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Copy the weights of a training checkpoint into ``model`` (all of them, with matching shapes).

    Keys the task leaves out of its checkpoints on purpose (``checkpoint_excluded_prefixes``, e.g. the
    style task's frozen VGG) are not expected. Anything else missing, unexpected or of another shape is
    an error listing the keys: a silent partial load would train a different network than the run says.
    """
    state = read_checkpoint(path, "init_from")["state_dict"]
    excluded = tuple(getattr(model, "checkpoint_excluded_prefixes", ()))
    own = {k: v for k, v in model.state_dict().items() if not k.startswith(excluded)}
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    reshaped = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or reshaped:
        problems = [
            f"{label} ({len(keys)}): {', '.join(keys[:5])}{', ...' if len(keys) > 5 else ''}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("other shape", reshaped))
            if keys
        ]
        raise ConfigError(
            f"init_from={path} does not fit this network: " + "; ".join(problems) + ". init_from needs a "
            "checkpoint of the same model, norm kind and network sizes (model.network/generator settings); "
            "check the run's .hydra/config.yaml and compose the same architecture."
        )
    model.load_state_dict({k: state[k] for k in own}, strict=False)


EXIT_SIGTERM, EXIT_SIGINT = 143, 130  # 128 + signal number, as shells and SLURM read them


def resume_command(cfg: DictConfig, overrides: list[str]) -> str:
    """The command that continues this run from its ``last.ckpt``, ready to paste into a shell."""
    overrides = [o for o in overrides if not o.lstrip("+~").startswith("ckpt_path=")]
    checkpoint = Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"
    return " ".join(shlex.quote(word) for word in ["python", "train.py", *overrides, f"ckpt_path={checkpoint}"])


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
    """What a run measures (and how long it trains), as a short hash (``result.json``: ``config_digest``)."""
    length = {key: cfg.trainer.get(key) for key in ("max_steps", "max_epochs")} if with_length else {}
    text = json.dumps({**measured_settings(cfg), **length}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def continue_in_place(cfg: DictConfig, commit: str | None) -> dict[str, Any] | None:
    """A run folder that already holds this job (a sweep re-run into the same ``hydra.sweep.dir``): the
    earlier result when it finished with the same settings, length and commit (nothing to do), else None
    with ``cfg.ckpt_path`` set to its ``last.ckpt`` to continue it. Another run's folder is refused. An
    explicit ``ckpt_path`` is left to :func:`check_resume`."""
    if cfg.ckpt_path:
        return None
    result_file = Path(cfg.paths.run_dir) / "result.json"
    previous = json.loads(result_file.read_text()) if result_file.is_file() else None
    last = Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"
    if previous is None and not last.is_file():
        return None
    if previous is not None and previous.get("settings_digest") not in (None, config_digest(cfg, with_length=False)):
        raise ConfigError(
            f"{cfg.paths.run_dir} already holds a run with other settings (its .hydra/config.yaml). Give this "
            f"sweep a folder of its own: hydra.sweep.dir=logs/multirun/<new name>."
        )
    finished = previous is not None and previous.get("status") == "finished"
    if finished and previous.get("config_digest") == config_digest(cfg):
        if (previous.get("provenance") or {}).get("git_commit") == commit:
            return previous
        raise ConfigError(
            f"{cfg.paths.run_dir} holds this job finished at another commit. Keep both: hydra.sweep.dir=logs/"
            f"multirun/<new name>; or delete that folder to train it again."
        )
    if last.is_file():  # interrupted, or finished with a shorter run length: continue it
        with open_dict(cfg):
            cfg.ckpt_path = str(last)
    return None
