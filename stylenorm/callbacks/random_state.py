"""Random-number-generator states in every checkpoint, restored on resume.

The training process's randomness - input corruption, dropout, the CycleGAN image pool - draws
from the generators that ``seed_everything(cfg.seed)`` seeds (torch, CUDA, numpy, Python).
Lightning saves weights, optimizers and loop counters, but not these states; without them a
resumed run would continue from a fresh seed instead of where it stopped. Under DDP this saves
rank 0's states (each rank draws its own; Lightning seeds them from the same seed).

Data order, crops and flips are the train loader's own state (:mod:`stylenorm.data.resumable`).
This callback also makes a run resumed from a checkpoint written between two epochs start the next
epoch as the uninterrupted run does (:mod:`stylenorm.callbacks.loop_state`).

States are stored as tensors, lists and numbers only, so checkpoints stay loadable with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from stylenorm.callbacks.loop_state import start_next_epoch_afresh


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


class RandomStateCheckpoint(Callback):
    """Saves :func:`collect_random_states` with each checkpoint and restores it when resuming.

    On a resume it also lets an epoch that had finished in the checkpoint be followed by a fresh one
    (:func:`~stylenorm.callbacks.loop_state.start_next_epoch_afresh`).
    """

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        start_next_epoch_afresh(trainer.fit_loop)

    def state_dict(self) -> dict[str, Any]:
        return collect_random_states()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        restore_random_states(state_dict)
