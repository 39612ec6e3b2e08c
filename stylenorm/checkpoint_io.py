"""How training checkpoints reach the disk: atomically, and read back with safe unpickling.

Lightning's ``TorchCheckpointIO`` commits a local file with a ``shutil.move`` from the temp folder,
a copy that a full disk or SIGKILL can truncate. :class:`AtomicCheckpointIO` writes next to the
target, fsyncs, then renames it (:mod:`stylenorm.atomic_files`), so the path always holds a whole
checkpoint; a failed write raises :class:`CheckpointWriteError` naming the last good checkpoint and
its step, a full disk included (:func:`torch_save_to`). Loading goes through
:func:`stylenorm.safe_load.safe_load` (``weights_only=True``).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from stylenorm.atomic_files import atomic_path, remove_stale_temporaries
from stylenorm.safe_load import safe_load

log = logging.getLogger(__name__)


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the file it would have replaced is untouched."""


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def checkpoint_step(path: str | os.PathLike) -> int | None:
    """The ``global_step`` a training checkpoint holds, read from the file (None if it cannot be read)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # a truncated or foreign file: no step to report
        return None
    step = state.get("global_step") if isinstance(state, dict) else None
    return int(step) if isinstance(step, int) else None


def last_good_checkpoint(folder: str | os.PathLike) -> tuple[Path, int] | None:
    """The newest complete checkpoint in ``folder`` and its step: ``last.ckpt`` if it loads, else the
    ``*.ckpt`` holding the highest step; None when there is none."""
    folder = Path(folder)
    last = folder / "last.ckpt"
    step = checkpoint_step(last) if last.is_file() else None
    if step is not None:
        return last, step
    found = [(checkpoint_step(p), p) for p in folder.glob("*.ckpt") if p.is_file() and p != last]
    found = [(s, p) for s, p in found if s is not None]
    if not found:
        return None
    step, path = max(found)
    return path, step


def describe_last_good(folder: str | os.PathLike) -> str:
    """One sentence naming the checkpoint a resume would use, with the step read from it."""
    good = last_good_checkpoint(folder)
    if good is None:
        return f"No complete checkpoint of this run is in {folder} yet."
    return f"The last good checkpoint is {good[0]} (step {good[1]}), intact."


def _write_failure_message(path: Path, error: OSError, size: int | None) -> str:
    previous = describe_last_good(path.parent)
    if error.errno == errno.ENOSPC:
        free = _free_bytes(path.parent)
        needed = f"about {size / 2**20:.1f} MiB needed" if size else "size unknown"
        have = f", {free / 2**20:.1f} MiB free" if free is not None else ""
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
    """An open file whose ``write``/``flush`` remember the first ``OSError`` (a full disk): torch's zip
    writer replaces it with ``RuntimeError: ... unexpected pos`` when the archive is closed."""

    def __init__(self, handle):
        self.handle = handle
        self.error: OSError | None = None

    def _call(self, method, *args):
        try:
            return method(*args)
        except OSError as error:
            self.error = self.error or error
            raise

    def write(self, data):
        return self._call(self.handle.write, data)

    def flush(self):
        return self._call(self.handle.flush)


def torch_save_to(obj: Any, handle) -> None:
    """``torch.save(obj, handle)`` into an open binary file, flushed; a failing write of the file comes
    out as its own ``OSError`` (``errno.ENOSPC`` for a full disk), not as torch's ``RuntimeError``."""
    recording = _RecordingFile(handle)
    try:
        torch.save(obj, recording)
        recording.flush()
    except RuntimeError as error:
        if recording.error is not None:
            raise recording.error from error
        raise


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)``, but the path never holds a partial file (:func:`atomic_path`: temp
    file beside it, fsync, rename); a failed write raises :class:`CheckpointWriteError`."""
    path = Path(path)
    size = path.stat().st_size if path.is_file() else None  # the new one is about as large
    try:
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            torch_save_to(obj, handle)
    except OSError as error:
        raise CheckpointWriteError(error.errno, _write_failure_message(path, error, size)) from error


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O with atomic local writes and ``weights_only=True`` loading.

    Configured as a Trainer plugin in ``configs/trainer/default.yaml``; remote paths (``s3://``...)
    keep Lightning's own handling.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cleaned: set[Path] = set()

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if "://" in str(path) and not str(path).startswith("file://"):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options (local files only).")
        path = Path(str(path).removeprefix("file://"))
        self._clean_once(path.parent)
        atomic_torch_save(checkpoint, path)

    def _clean_once(self, folder: Path) -> None:
        """The temporaries a killed run left in ``folder`` go when this run first reads or writes there."""
        if folder.absolute() not in self._cleaned:
            self._cleaned.add(folder.absolute())
            for path in remove_stale_temporaries(folder):
                log.info("Removed %s, left by a run killed while saving a checkpoint.", path)

    def load_checkpoint(
        self,
        path,
        map_location: Callable | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        if "://" in str(path) and not str(path).startswith("file://"):
            return super().load_checkpoint(path, map_location=map_location, weights_only=True)
        local = Path(str(path).removeprefix("file://"))
        self._clean_once(local.parent)  # a resume: the killed run's temporaries
        expected = "Expected a last.ckpt or step*.ckpt written by train.py."
        return safe_load(str(local), expected, map_location=map_location)
