"""How training checkpoints reach the disk: atomically (Lightning's ``shutil.move`` can leave a truncated file), with a
:class:`CheckpointWriteError` naming the last good checkpoint, and read back with safe unpickling.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from stylenorm.atomic_files import atomic_path, remove_stale_temporaries
from stylenorm.safe_load import safe_load

log = logging.getLogger(__name__)


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the file it would have replaced is untouched."""


def checkpoint_step(path: str | os.PathLike) -> int | None:
    """The ``global_step`` a training checkpoint holds, read from the file (None if it cannot be read)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # a truncated or foreign file: no step to report
        return None
    step = state.get("global_step") if isinstance(state, dict) else None
    return step if isinstance(step, int) else None


def describe_last_good(folder: Path) -> str:
    """The checkpoint a resume would use: ``last.ckpt`` if it loads, else the ``*.ckpt`` of the highest step."""
    for candidates in ([folder / "last.ckpt"], [path for path in folder.glob("*.ckpt") if path.name != "last.ckpt"]):
        found = [(step, path) for path in candidates if path.is_file() and (step := checkpoint_step(path)) is not None]
        if found:
            step, path = max(found)
            return f"The last good checkpoint is {path} (step {step}), intact."
    return f"No complete checkpoint of this run is in {folder} yet."


def _write_failure_message(path: Path, error: OSError, size: int | None) -> str:
    previous = describe_last_good(path.parent)
    if error.errno == errno.ENOSPC:
        needed = f"about {size / 2**20:.1f} MiB needed" if size else "size unknown"
        try:
            have = f", {shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free"
        except OSError:
            have = ""
        return (
            f"Could not write checkpoint {path}: disk full (the disk holding {path.parent} is full: {needed}{have}). "
            f"{previous} Free some space (old step*.ckpt files can go), or write checkpoints elsewhere with "
            f"paths.checkpoint_dir=DIR, then resume from the last good checkpoint."
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"Could not write checkpoint {path}: {error.strerror} (errno {error.errno}). {previous} "
            f"Make {path.parent} writable, or set paths.checkpoint_dir to a folder you can write."
        )
    return f"Could not write checkpoint {path}: {error}. {previous}"


class _RecordingFile:
    """A file remembering its first write ``OSError``, which torch's zip writer turns into a ``RuntimeError``."""

    def __init__(self, handle):
        self.handle = handle
        self.error: OSError | None = None

    def write(self, data):
        try:
            return self.handle.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def flush(self):
        self.handle.flush()


def torch_save_to(obj: Any, handle) -> None:
    """``torch.save(obj, handle)``, flushed; a failing write raises its own ``OSError`` (e.g. ``ENOSPC``)."""
    recording = _RecordingFile(handle)
    try:
        torch.save(obj, recording)
        recording.flush()
    except RuntimeError as error:
        if recording.error is not None:
            raise recording.error from error
        raise


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)`` through :func:`atomic_path`; a failed write raises :class:`CheckpointWriteError`."""
    path = Path(path)
    size = path.stat().st_size if path.is_file() else None  # the new one is about as large
    try:
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            torch_save_to(obj, handle)
    except OSError as error:
        raise CheckpointWriteError(error.errno, _write_failure_message(path, error, size)) from error


def _local(path) -> Path | None:
    """The local path of ``path`` (``file://`` too); None for a remote one (``s3://``...)."""
    text = str(path)
    return Path(text.removeprefix("file://")) if "://" not in text or text.startswith("file://") else None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O with atomic local writes and ``weights_only=True`` loading (remote: Lightning's)."""

    def __init__(self) -> None:
        super().__init__()
        self._cleaned: set[Path] = set()

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        local = _local(path)
        if local is None:
            return super().save_checkpoint(checkpoint, path, storage_options)
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options (local files only).")
        self._clean_once(local.parent)
        atomic_torch_save(checkpoint, local)

    def _clean_once(self, folder: Path) -> None:
        """Remove the temporaries a killed run left in ``folder``, once per folder."""
        if folder.absolute() not in self._cleaned:
            self._cleaned.add(folder.absolute())
            for path in remove_stale_temporaries(folder):
                log.info("Removed %s, left by a run killed while saving a checkpoint.", path)

    def load_checkpoint(self, path, map_location: Any = "cpu", **_weights_only: Any) -> dict[str, Any]:
        """Always with ``weights_only=True``, whatever Lightning asks for."""
        local = _local(path)
        if local is None:
            return super().load_checkpoint(path, map_location=map_location, weights_only=True)
        self._clean_once(local.parent)  # a resume: the killed run's temporaries
        return safe_load(local, "Expected a last.ckpt or step*.ckpt written by train.py.", map_location=map_location)
