"""Run names and folders that say what a run is: ``cyclegan/instance-affine_false/version_0``.

A run's name is its model, its norm kind with the resolved affine flag, and any override that
changes what it measures (``group-affine_true,num_groups=8,batch_size=2``). Logs and checkpoints
share ``<name>/<version>``, and a new run never reuses a version that exists in either place, so
no run overwrites another's checkpoints. Resuming from ``.../<name>/version_N/last.ckpt`` continues
in version N.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from stylenorm.nn.norm import NormSpec

#: Set for DDP child processes (Lightning re-runs train.py in each), so they use rank 0's version.
VERSION_ENV = "STYLENORM_RUN_VERSION"

_DEFAULT_AFFINE = {"style": True, "autoencoder": True, "cyclegan": False}


def resolved_affine(model_name: str, norm: NormSpec) -> bool:
    """``norm.affine``, with null resolved to the model's published default."""
    if norm.affine is not None:
        return norm.affine
    return _DEFAULT_AFFINE.get(model_name, True)


def _ignored(key: str, ignores: Iterable[str]) -> bool:
    """An entry matches its key exactly; an entry ending in '.' matches every key under it."""
    return any(key == entry or (entry.endswith(".") and key.startswith(entry)) for entry in ignores)


def _short(key: str) -> str:
    """``data.batch_size`` -> ``batch_size``; ``model.generator.ngf`` -> ``generator.ngf``."""
    for prefix in ("model.", "data.", "norm.", "trainer."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def run_name(model_name: str, norm: NormSpec, overrides: Sequence[str], ignores: Iterable[str]) -> str:
    """``<model>/<kind>-affine_<bool>[,<key>=<value>...]`` from the task overrides of the command line."""
    parts = [f"{norm.kind}-affine_{str(resolved_affine(model_name, norm)).lower()}"]
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key == "norm.affine" or _ignored(key, ignores):
            continue
        parts.append(f"{_short(key)}={value}")
    variant = re.sub(r"[^A-Za-z0-9_.,=+-]", "_", ",".join(parts))
    return f"{model_name}/{variant}"


def version_from_checkpoint(ckpt_path: str | os.PathLike | None) -> str | None:
    """``version_N`` when resuming from ``.../version_N/<file>.ckpt``, else None."""
    if not ckpt_path:
        return None
    parent = Path(ckpt_path).parent.name
    return parent if re.fullmatch(r"version_\d+", parent) else None


def name_from_checkpoint(ckpt_path: str | os.PathLike | None, checkpoint_dir: str | os.PathLike) -> str | None:
    """``cyclegan/instance-affine_false`` for ``<checkpoint_dir>/cyclegan/instance-affine_false/version_N/x.ckpt``."""
    if not ckpt_path or version_from_checkpoint(ckpt_path) is None:
        return None
    try:
        relative = Path(ckpt_path).resolve().parent.parent.relative_to(Path(checkpoint_dir).resolve())
    except ValueError:  # a checkpoint from elsewhere: name the run from the overrides
        return None
    return relative.as_posix() or None


def next_version(*run_folders: Path) -> str:
    """The first ``version_N`` that exists in none of ``run_folders``."""
    taken = set()
    for folder in run_folders:
        if folder.is_dir():
            taken |= {int(m.group(1)) for p in folder.iterdir() if (m := re.fullmatch(r"version_(\d+)", p.name))}
    return f"version_{max(taken, default=-1) + 1}"


def choose_version(log_root: Path, checkpoint_root: Path, ckpt_path: str | None) -> str:
    """Version for this process: inherited (DDP child), resumed, or the next free one."""
    version = (
        os.environ.get(VERSION_ENV) or version_from_checkpoint(ckpt_path) or next_version(log_root, checkpoint_root)
    )
    os.environ[VERSION_ENV] = version  # DDP children inherit the environment
    return version
