"""Batch-Instance Normalization (Nam & Kim 2018, eq. 3-5).

``y = (rho * x_hat_BN + (1 - rho) * x_hat_IN) * gamma + beta`` with a learned gate rho in [0, 1]
per channel (1 = BN, 0 = IN), starting at 1 and clipped after every optimizer step
(:meth:`project_`). Statistics in float32 whatever the input dtype. Details: docs/modules.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stylenorm.nn.mixed_statistics_norm import MixedStatisticsNorm2d


class BatchInstanceNorm2d(MixedStatisticsNorm2d):
    """``rho * BN(x) + (1 - rho) * IN(x)``, then a per-channel affine; arguments as ``nn.BatchNorm2d``'s."""

    def __init__(self, num_features: int, **options) -> None:  # eps, momentum, affine, track_running_stats
        super().__init__(num_features, **options)
        self.rho = nn.Parameter(torch.ones(num_features))

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        x32 = x.float()
        use_batch_statistics = self.training or not self.track_running_stats
        batch_normed = F.batch_norm(
            x32, self.running_mean, self.running_var, None, None, use_batch_statistics, self.momentum, self.eps
        )
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
        instance_normed = F.instance_norm(x32, eps=self.eps)
        # Clipped value, unclipped gradient: at the paper's start rho = 1 a plain clamp would pass no
        # gradient (its derivative is 0 on the boundary) and the gate could never leave batch norm.
        # Training keeps rho in range by projection (project_), as the paper does.
        rho = self.rho.float()
        rho = (rho + (rho.clamp(0.0, 1.0) - rho).detach()).view(1, -1, 1, 1)
        y = instance_normed + rho * (batch_normed - instance_normed)
        return self.apply_affine(y).to(x.dtype)

    @torch.no_grad()
    def project_(self) -> None:
        """Clip rho to [0, 1] in place (the paper's constraint, applied after each optimizer step)."""
        self.rho.clamp_(0.0, 1.0)

    def learned_mixture(self) -> dict[str, Tensor]:
        """Per-channel gate, as used in forward: ``{"rho": (C,)}`` (1 = batch norm, 0 = instance norm)."""
        return {"rho": self.rho.detach().float().clamp(0.0, 1.0)}
