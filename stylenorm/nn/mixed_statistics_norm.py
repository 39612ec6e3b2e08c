"""What the learned norms (batch-instance, switchable) share: affine parameters and BN running statistics laid
out as ``nn.BatchNorm2d`` lays them out, so init, the train/eval probes and checkpoints treat them alike."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MixedStatisticsNorm2d(nn.Module):
    """Base of norm layers that blend several statistics; subclasses add the blend and ``forward``."""

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True, track_running_stats=True
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"{type(self).__name__} expects (N, C, H, W), got shape {tuple(x.shape)}.")

    def apply_affine(self, y: Tensor) -> Tensor:
        """``y * gamma + beta`` per channel (float32), or ``y`` without affine parameters."""
        if self.weight is None:
            return y
        return y * self.weight.float().view(1, -1, 1, 1) + self.bias.float().view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )
