"""Random-number-generator states in every checkpoint, restored on resume.

Lightning saves weights, optimizers and loop counters, but not the states of the generators ``seed_everything``
seeds (torch, CUDA, numpy, Python), from which input corruption, dropout and the CycleGAN image pool draw; without
them a resumed run would go on from a fresh seed. Under DDP rank 0's states are saved, as tensors, lists and
numbers only, so checkpoints stay loadable with ``torch.load(weights_only=True)``. Data order:
:mod:`stylenorm.data.resumable`; resume as a whole: docs/training.md.
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

    A SIGTERM at an epoch's last batch leaves a checkpoint holding a finished epoch with that epoch's batch
    counters, which Lightning 2.6 clears only when the next epoch starts afresh. Resumed, its training-epoch loop
    would read them as batches already done in the next epoch, run that epoch empty (end-of-epoch hooks included,
    e.g. CycleGAN's learning-rate step) and train on an epoch ahead of the run it continues.
    """
    epochs, epoch_loop = fit_loop.epoch_progress.total, fit_loop.epoch_loop
    finished = epochs.ready == epochs.started == epochs.processed == epochs.completed
    if not (epoch_loop.restarting and finished and epoch_loop.batch_progress.current.ready > 0):
        return False
    epoch_loop.restarting = False  # its reset() then clears the finished epoch's counters, as between epochs
    return True


class RandomStateCheckpoint(Callback):
    """Saves :func:`collect_random_states` with each checkpoint and restores it when resuming; on a resume it
    also lets an epoch that had finished in the checkpoint be followed by a fresh one."""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        start_next_epoch_afresh(trainer.fit_loop)

    def state_dict(self) -> dict[str, Any]:
        return collect_random_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restore_random_states(state_dict)
