"""``last.ckpt`` every N minutes of training as well as every N optimizer steps.

Step-based checkpoints alone can leave an hour of work unsaved when steps are slow (a 256 px
CycleGAN iteration on a CPU, a big batch on a shared GPU). Lightning's ``ModelCheckpoint`` has
``train_time_interval``, but it cannot be combined with ``every_n_train_steps`` in one callback, and
under manual optimization (CycleGAN's G and D steps) it only looks at steps, so the interval is
checked here instead, for every task alike. The file is the run's ``last.ckpt``, written like every
checkpoint (atomically, :mod:`stylenorm.checkpoint_io`).
"""

from __future__ import annotations

import time
from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


class TimedCheckpoint(Callback):
    """Save ``<dirpath>/last.ckpt`` whenever ``every_minutes`` of training have passed since the last save.

    Args:
        dirpath: the run's checkpoint folder (``${run.checkpoint_dir}``).
        every_minutes: the interval; ``0`` or ``null`` turns it off.
        filename: the file written in ``dirpath``.
    """

    def __init__(self, dirpath: str, every_minutes: float | None = 30.0, filename: str = "last.ckpt"):
        if every_minutes is not None and every_minutes < 0:
            raise ValueError(f"callbacks.timed_checkpoint.every_minutes must be >= 0 or null, got {every_minutes}.")
        self.path = Path(dirpath) / filename
        self.interval_s = (every_minutes or 0) * 60.0
        self._last_save = None
        self.saves = 0

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
        self.saves += 1
        rank_zero_info(f"Timed checkpoint at step {trainer.global_step}: {self.path}")
