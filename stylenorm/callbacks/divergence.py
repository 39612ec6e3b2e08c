"""Stop a run whose gradients, training losses or weights go non-finite or explode, before a NaN checkpoint is written,
and say where and why it may have happened; the run is recorded as ``diverged``. docs/training.md.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.callbacks import Checkpoint

log = logging.getLogger(__name__)

LIKELY_CAUSES = (
    "a learning rate too high for this norm (try model.lr 10x lower)",
    "norm=none or affine parameters letting activations grow without bound",
    "low precision overflowing (try trainer.precision=32-true)",
    "a corrupt or constant input image (check the data folder)",
)


@torch.no_grad()
def all_finite(tensors: list[torch.Tensor]) -> bool:
    """Whether every entry of every tensor is finite, with one device sync."""
    return not tensors or bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


@torch.no_grad()
def global_norm(tensors: list[torch.Tensor]) -> float:
    """The L2 norm of all entries of all tensors together (float64, so 1e30-sized weights do not overflow)."""
    return float(torch.linalg.vector_norm(torch.stack([t.double().norm() for t in tensors]))) if tensors else 0.0


class DivergenceGuard(Callback):
    """Stop at the first non-finite loss or weight, or weights grown ``max_weight_norm_growth`` times (None: off)."""

    def __init__(self, check_weights_every_n_steps: int = 50, max_weight_norm_growth: float | None = 1000.0):
        super().__init__()
        if isinstance(check_weights_every_n_steps, bool) or check_weights_every_n_steps < 1:
            raise ValueError(
                f"callbacks.divergence_guard.check_weights_every_n_steps must be a positive int, "
                f"got {check_weights_every_n_steps!r}."
            )
        growth = max_weight_norm_growth
        if growth is not None and not (math.isfinite(growth) and growth > 1):
            raise ValueError(
                f"callbacks.divergence_guard.max_weight_norm_growth must be a number > 1 (or null: off), "
                f"got {growth!r}."
            )
        self.check_weights_every_n_steps, self.max_weight_norm_growth = check_weights_every_n_steps, growth
        self.initial_norm: float | None = None  # of all parameters when this fit started or resumed
        self.divergence: str | None = None  # what went non-finite, and at which step

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.initial_norm = global_norm(list(pl_module.parameters()))

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        # Dropping every gradient makes the update a no-op (Adam and SGD skip parameters without one).
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if self.divergence is None and all_finite([p.grad for p in params if p.grad is not None]):
            return
        for parameter in params:
            parameter.grad = None
        if self.divergence is None:
            self._stop(trainer, pl_module, f"a gradient went non-finite at step {trainer.global_step}")

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step = trainer.global_step
        if self.divergence is None:
            for name, value in trainer.callback_metrics.items():
                if name.startswith("train/") and not math.isfinite(float(value)):
                    return self._stop(trainer, pl_module, f"{name} = {float(value)} at step {step}")
        if self.divergence is not None or not (step % self.check_weights_every_n_steps == 0 or trainer.should_stop):
            return
        named = list(pl_module.named_parameters())
        if not all_finite([p for _, p in named]):
            bad = next(n for n, p in named if not torch.isfinite(p).all())
            return self._stop(trainer, pl_module, f"parameter {bad} holds NaN or inf at step {step}")
        if self.max_weight_norm_growth is None or not self.initial_norm:
            return
        norm = global_norm([p for _, p in named])
        if norm > self.max_weight_norm_growth * self.initial_norm:
            self._stop(
                trainer,
                pl_module,
                f"the global weight norm grew to {norm:.3g} at step {step}, {norm / self.initial_norm:.3g} times its "
                f"{self.initial_norm:.3g} at the start (limit: callbacks.divergence_guard.max_weight_norm_growth="
                f"{self.max_weight_norm_growth:g})",
            )

    def _stop(self, trainer: Trainer, pl_module: LightningModule, what: str) -> None:
        self.divergence = pl_module.divergence = what
        trainer.should_stop = True
        # ModelCheckpoint would save again at the end of the epoch and of training, over the last good last.ckpt.
        trainer.callbacks = [callback for callback in trainer.callbacks if not isinstance(callback, Checkpoint)]
        causes = "; ".join(LIKELY_CAUSES)
        log.error(f"Training diverged: {what}. Stopped; the run is recorded as diverged. Likely causes: {causes}.")
