"""Lightning callbacks configured in ``configs/callbacks/``."""

from stylenorm.callbacks.norm_statistics import NormStatistics, activation_statistics

__all__ = ["NormStatistics", "activation_statistics"]
