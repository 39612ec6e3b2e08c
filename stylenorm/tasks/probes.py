"""Validation probes of the seed notebooks' claims: :func:`illumination_shift` (instance norm is said to remove
per-image contrast and brightness, Ulyanov et al. 2016) and :func:`train_eval_gap` (the batch-norm inference
pitfall, seed 002, section 6)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from stylenorm.nn.norm import uses_running_statistics


def illumination_shift(images: torch.Tensor, gain: float = 0.6, offset: float = 0.15) -> torch.Tensor:
    """``gain * x + offset`` clamped to [0, 1]: lower contrast, shifted brightness (images in [0, 1])."""
    return (gain * images + offset).clamp(0, 1)


def has_running_statistics(module: nn.Module) -> bool:
    return any(uses_running_statistics(m) for m in module.modules())


@contextmanager
def batch_statistics(module: nn.Module) -> Iterator[None]:
    """Make the running-statistics norm layers of ``module`` use batch statistics, without updating them."""
    layers = [m for m in module.modules() if uses_running_statistics(m)]
    saved = [(m, m.training, m.momentum, m.num_batches_tracked.clone()) for m in layers]
    try:
        for m in layers:
            m.train()
            m.momentum = 0.0  # running = 1 * running + 0 * batch: unchanged
        yield
    finally:
        for m, training, momentum, tracked in saved:
            m.train(training)
            m.momentum = momentum
            m.num_batches_tracked.copy_(tracked)


@torch.no_grad()
def train_eval_gap(network: nn.Module, forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor) -> float:
    """Mean absolute difference of ``forward(images)`` between batch and running statistics (0 without the latter)."""
    if not has_running_statistics(network):
        return 0.0  # both modes compute the same thing: skip the two extra forward passes
    was_training = network.training
    network.eval()
    with_running = forward(images)
    with batch_statistics(network):
        with_batch = forward(images)
    network.train(was_training)
    return (with_batch - with_running).abs().mean().item()
