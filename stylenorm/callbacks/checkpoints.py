"""What checkpoints hold and when they are written beyond Lightning's own: the random generators' states, and
``last.ckpt`` every N minutes, also under manual optimization (CycleGAN). docs/training.md.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loops import _FitLoop
from lightning.pytorch.utilities import rank_zero_info


def collect_random_states() -> dict[str, Any]:
    """The global states of torch (CPU and every CUDA device), numpy and Python's ``random``."""
    kind, keys, position, has_gauss, cached_gauss = np.random.get_state()
    version, python_state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "torch.cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(cached_gauss)],
        "python": [version, list(python_state), gauss],
    }


def restore_random_states(states: dict[str, Any]) -> None:
    """Inverse of :func:`collect_random_states`."""
    torch.set_rng_state(states["torch"])
    if states.get("torch.cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["torch.cuda"])
    kind, keys, position, has_gauss, cached_gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gauss))
    version, python_state, gauss = states["python"]
    random.setstate((version, tuple(python_state), gauss))


def start_next_epoch_afresh(fit_loop: _FitLoop) -> bool:
    """Let the next epoch start afresh (True) if the checkpoint's had finished (Lightning 2.6 would skip it)."""
    epochs, epoch_loop = fit_loop.epoch_progress.total, fit_loop.epoch_loop
    finished = epochs.ready == epochs.started == epochs.processed == epochs.completed
    if not (epoch_loop.restarting and finished and epoch_loop.batch_progress.current.ready > 0):
        return False
    epoch_loop.restarting = False  # its reset() then clears the finished epoch's counters, as between epochs
    return True


class RandomStateCheckpoint(Callback):
    """Saves :func:`collect_random_states` with each checkpoint and restores them on resume."""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        start_next_epoch_afresh(trainer.fit_loop)

    def state_dict(self) -> dict[str, Any]:
        return collect_random_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restore_random_states(state_dict)


class TimedCheckpoint(Callback):
    """Save ``<dirpath>/<filename>`` whenever ``every_minutes`` of training have passed (``0`` or ``null``: off)."""

    def __init__(self, dirpath: str, every_minutes: float | None = 30.0, filename: str = "last.ckpt"):
        if every_minutes is not None and every_minutes < 0:
            raise ValueError(f"callbacks.timed_checkpoint.every_minutes must be >= 0 or null, got {every_minutes}.")
        self.path = Path(dirpath) / filename
        self.interval_s = (every_minutes or 0) * 60.0
        self._last_save = None

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last_save = time.monotonic()

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        if not self.interval_s or self._last_save is None:
            return
        due = time.monotonic() - self._last_save >= self.interval_s
        # Every rank must take the same decision: saving is a collective call under DDP.
        if not trainer.strategy.broadcast(due) or trainer.sanity_checking:
            return
        trainer.save_checkpoint(self.path)
        self._last_save = time.monotonic()
        rank_zero_info(f"Timed checkpoint at step {trainer.global_step}: {self.path}")
