"""How training checkpoints reach the disk: atomically, and read back with safe unpickling.

Lightning's ``TorchCheckpointIO`` commits a local file with a ``shutil.move`` from the temp folder,
a copy that a full disk or SIGKILL can truncate. :class:`AtomicCheckpointIO` writes next to the
target, fsyncs, then ``os.replace``s it (atomic within a file system), so the path always holds a
whole checkpoint; a failed write raises :class:`CheckpointWriteError`. Loading goes through
:func:`stylenorm.safe_load.safe_load` (``weights_only=True``). See README, "Checkpoints".
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from stylenorm.safe_load import safe_load


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the file it would have replaced is untouched."""


def _free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def _write_failure_message(path: Path, error: OSError, size: int | None) -> str:
    previous = "The previous checkpoint at that path is intact." if path.exists() else "No file was left behind."
    if error.errno == errno.ENOSPC:
        free = _free_bytes(path.parent)
        needed = f"about {size / 2**20:.1f} MiB needed" if size else "size unknown"
        have = f", {free / 2**20:.1f} MiB free" if free is not None else ""
        return (
            f"Could not write checkpoint {path}: the disk is full ({needed}{have}). {previous} "
            f"Free some space (old step*.ckpt files can go), or write checkpoints elsewhere with "
            f"paths.checkpoint_dir=DIR, then resume from the last complete checkpoint."
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"Could not write checkpoint {path}: {error.strerror} (errno {error.errno}). {previous} "
            f"Make {path.parent} writable, or set paths.checkpoint_dir to a folder you can write."
        )
    return f"Could not write checkpoint {path}: {error}. {previous}"


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)``, but the path never holds a partial file (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    size = None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            size = handle.tell()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise CheckpointWriteError(error.errno, _write_failure_message(path, error, size)) from error
    except BaseException:  # Ctrl-C or SIGTERM mid-write: no stray temporary file either
        Path(temporary).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (the directory entry), where the platform allows it
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O with atomic local writes and ``weights_only=True`` loading.

    Configured as a Trainer plugin in ``configs/trainer/default.yaml``; remote paths (``s3://``...)
    keep Lightning's own handling.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if "://" in str(path) and not str(path).startswith("file://"):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options (local files only).")
        atomic_torch_save(checkpoint, str(path).removeprefix("file://"))

    def load_checkpoint(
        self,
        path,
        map_location: Callable | None = lambda storage, loc: storage,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        if "://" in str(path) and not str(path).startswith("file://"):
            return super().load_checkpoint(path, map_location=map_location, weights_only=True)
        expected = "Expected a last.ckpt or step*.ckpt written by train.py."
        return safe_load(str(path).removeprefix("file://"), expected, map_location=map_location)
