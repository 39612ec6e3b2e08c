"""The study protocol (docs/ablations-protocol.md): :mod:`.learning_rate` (the ``${scaled_lr:...}`` resolver,
:func:`best_lr`) and :mod:`.stages` (a tuning sweep's runs, the final stage's command)."""

from stylenorm.protocol.learning_rate import best_lr, scaled_lr

__all__ = ["best_lr", "scaled_lr"]
