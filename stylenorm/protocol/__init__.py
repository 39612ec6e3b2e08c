"""The study protocol: learning rates tuned per variant, held-out evaluation (docs/ablations-protocol.md).

* :mod:`stylenorm.protocol.learning_rate` - the ``${scaled_lr:...}`` config resolver (the linear
  scaling rule of Goyal et al. 2017) and :func:`best_lr`, the per-variant choice of a tuning stage;
* :mod:`stylenorm.protocol.stages` - a tuning sweep's runs as a DataFrame and the final stage's command.
"""

from stylenorm.protocol.learning_rate import best_lr, register_protocol_resolvers, scaled_lr

__all__ = ["best_lr", "register_protocol_resolvers", "scaled_lr"]
