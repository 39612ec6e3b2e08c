"""``last.ckpt`` every N minutes of training as well as every N optimizer steps.

Lightning's ``ModelCheckpoint`` takes ``train_time_interval`` only without ``every_n_train_steps``, and ignores it
under manual optimization (CycleGAN), so the interval is checked here, for every task alike.
"""

from __future__ import annotations

import time
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


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
