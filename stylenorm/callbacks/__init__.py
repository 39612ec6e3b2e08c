"""Lightning callbacks configured in ``configs/callbacks/``."""

from stylenorm.callbacks.checkpoints import (
    RandomStateCheckpoint,
    TimedCheckpoint,
    collect_random_states,
    restore_random_states,
)
from stylenorm.callbacks.divergence import DivergenceGuard
from stylenorm.callbacks.norm_statistics import NormStatistics, activation_statistics
from stylenorm.callbacks.progress import run_progress

__all__ = [
    "DivergenceGuard",
    "NormStatistics",
    "RandomStateCheckpoint",
    "TimedCheckpoint",
    "activation_statistics",
    "collect_random_states",
    "restore_random_states",
    "run_progress",
]
