"""Run names and folders that say what a run is: ``cyclegan/instance-affine_false/version_0``.

A run's name is its model, its norm kind with the resolved affine flag, and any override that
changes what it measures (``group-affine_true,num_groups=8,batch_size=2``). Logs and checkpoints
share ``<name>/<version>``, and a new run never reuses a version that exists in either place (it
reserves its folder atomically), so no run - nor any job of a sweep - overwrites another's files.
Resuming from ``.../<name>/version_N/last.ckpt`` continues in version N.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from stylenorm.nn.norm import NormSpec

#: ``<name>::<version>`` while a run trains, for its DDP child processes (Lightning re-runs train.py
#: in each), so they use rank 0's version.
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


def _name_value(key: str, value: str) -> str:
    """An override's value as it appears in a run name: ``init_from`` paths shortened to the run they
    come from (``.../instance-affine_true/version_0/last.ckpt`` -> ``instance-affine_true.version_0``)."""
    if key != "init_from":
        return value
    path = Path(value.strip("'\""))
    if re.fullmatch(r"version_\d+", path.parent.name):
        return f"{path.parent.parent.name}.{path.parent.name}"
    return path.stem


def run_name(model_name: str, norm: NormSpec, overrides: Sequence[str], ignores: Iterable[str]) -> str:
    """``<model>/<kind>-affine_<bool>[,<key>=<value>...]`` from the task overrides of the command line."""
    parts = [f"{norm.kind}-affine_{str(resolved_affine(model_name, norm)).lower()}"]
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key == "norm.affine" or _ignored(key, ignores):
            continue
        parts.append(f"{_short(key)}={_name_value(key, value)}")
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
    """The first ``version_N`` above every one that exists in ``run_folders``."""
    taken = set()
    for folder in run_folders:
        if folder.is_dir():
            taken |= {int(m.group(1)) for p in folder.iterdir() if (m := re.fullmatch(r"version_(\d+)", p.name))}
    return f"version_{max(taken, default=-1) + 1}"


def reserve_version(log_root: Path, checkpoint_root: Path) -> str:
    """Create ``log_root/version_N`` for the next free N and return ``version_N``.

    ``mkdir`` either creates the folder or fails, atomically, so two jobs starting at the same time
    (a parallel launcher, two terminals) can never both get the same version.
    """
    while True:
        version = next_version(log_root, checkpoint_root)
        try:
            (log_root / version).mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue  # another job took it between the listing and the mkdir: look again
        return version


def _launched_rank() -> int:
    """This process's rank when a launcher (torchrun, SLURM, Lightning's DDP children) says so, else 0."""
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        value = os.environ.get(variable, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 0


def choose_version(name: str, log_root: Path, checkpoint_root: Path, ckpt_path: str | None) -> str:
    """Version of run ``name`` for this process: resumed, inherited from the DDP parent, or a new one.

    Lightning starts DDP children by re-running ``train.py``; they find the parent's choice in
    :data:`VERSION_ENV` (set by :func:`published_version` around the fit) and use it only when it
    names the same run. Anything else - the next job of a multirun in the same process, a later run
    in the same shell - reserves a fresh folder, so no two jobs share one.
    """
    if resumed := version_from_checkpoint(ckpt_path):
        return resumed
    inherited_name, _, inherited_version = os.environ.get(VERSION_ENV, "").rpartition("::")
    if inherited_name == name and inherited_version:
        return inherited_version
    if _launched_rank() > 0:  # ranks started by torchrun/SLURM without our parent: rank 0 creates folders
        return next_version(log_root, checkpoint_root)
    return reserve_version(log_root, checkpoint_root)


@contextmanager
def published_version(name: str, version: str) -> Iterator[None]:
    """Tell DDP children (started inside this block) which version run ``name`` uses; forget it after,
    so the next run in this process (a multirun's next job) chooses its own."""
    previous = os.environ.get(VERSION_ENV)
    os.environ[VERSION_ENV] = f"{name}::{version}"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(VERSION_ENV, None)
        else:
            os.environ[VERSION_ENV] = previous
