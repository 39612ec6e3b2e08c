"""Random-number-generator states (torch, CUDA, numpy, Python) in every checkpoint, restored on resume.

Lightning saves no generator states, so a resumed run would otherwise draw its corruption, dropout and image-pool
choices from a fresh seed. Rank 0's states are saved as tensors, lists and numbers only (``weights_only=True``
loads them). Data order: :mod:`stylenorm.data.resumable`; resume as a whole: docs/training.md.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loops import _FitLoop


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
    """Before training resumes: when the checkpoint's epoch had finished, let the next one start afresh (True).

    A checkpoint written at an epoch's last batch (e.g. on SIGTERM) keeps that epoch's batch counters, which
    Lightning 2.6 would read as batches done in the next epoch: it would run that epoch empty and go on one ahead.
    """
    epochs, epoch_loop = fit_loop.epoch_progress.total, fit_loop.epoch_loop
    finished = epochs.ready == epochs.started == epochs.processed == epochs.completed
    if not (epoch_loop.restarting and finished and epoch_loop.batch_progress.current.ready > 0):
        return False
    epoch_loop.restarting = False  # its reset() then clears the finished epoch's counters, as between epochs
    return True


class RandomStateCheckpoint(Callback):
    """Saves :func:`collect_random_states` with each checkpoint and restores them on resume (with
    :func:`start_next_epoch_afresh`)."""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        start_next_epoch_afresh(trainer.fit_loop)

    def state_dict(self) -> dict[str, Any]:
        return collect_random_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restore_random_states(state_dict)
