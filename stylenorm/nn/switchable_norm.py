"""Switchable Normalization (Luo et al. 2018, eq. 3-5).

Normalises with softmax-weighted blends of the IN, LN and BN means and variances (separate weights
for means and variances), all derived from the per-(n, c) moments in one pass; one-hot weights give
exactly the chosen norm. Statistics in float32 whatever the input dtype. Details: docs/modules.md.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from stylenorm.nn.mixed_statistics_norm import MixedStatisticsNorm2d

#: The statistics a switchable layer chooses between, in the order of its logits.
SWITCHABLE_STATISTICS = ("instance", "layer", "batch")


class SwitchableNorm2d(MixedStatisticsNorm2d):
    """Softmax-weighted IN/LN/BN means and variances, then a per-channel affine; arguments as ``nn.BatchNorm2d``'s."""

    def __init__(self, num_features: int, **options) -> None:  # eps, momentum, affine, track_running_stats
        super().__init__(num_features, **options)
        self.mean_logits = nn.Parameter(torch.zeros(len(SWITCHABLE_STATISTICS)))
        self.var_logits = nn.Parameter(torch.zeros(len(SWITCHABLE_STATISTICS)))

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        x32 = x.float()
        var_in, mean_in = torch.var_mean(x32, dim=(2, 3), keepdim=True, correction=0)
        second_moment = var_in + mean_in.square()  # E[x^2] per (n, c)
        mean_ln = mean_in.mean(dim=1, keepdim=True)
        var_ln = (second_moment.mean(dim=1, keepdim=True) - mean_ln.square()).clamp_min(0.0)
        if self.training or not self.track_running_stats:
            mean_bn = mean_in.mean(dim=0, keepdim=True)
            var_bn = (second_moment.mean(dim=0, keepdim=True) - mean_bn.square()).clamp_min(0.0)
            if self.training and self.track_running_stats:
                self._update_running_statistics(mean_bn, var_bn, count=x.shape[0] * x.shape[2] * x.shape[3])
        else:
            mean_bn = self.running_mean.view(1, -1, 1, 1)
            var_bn = self.running_var.view(1, -1, 1, 1)
        w_mean, w_var = self.mean_logits.float().softmax(0), self.var_logits.float().softmax(0)
        mean = w_mean[0] * mean_in + w_mean[1] * mean_ln + w_mean[2] * mean_bn
        var = w_var[0] * var_in + w_var[1] * var_ln + w_var[2] * var_bn
        y = (x32 - mean) * torch.rsqrt(var + self.eps)
        return self.apply_affine(y).to(x.dtype)

    @torch.no_grad()
    def _update_running_statistics(self, mean_bn: Tensor, var_bn: Tensor, count: int) -> None:
        # As nn.BatchNorm2d: the running variance is the unbiased batch variance.
        unbiased = var_bn.flatten() * (count / max(count - 1, 1))
        self.running_mean.lerp_(mean_bn.flatten().to(self.running_mean.dtype), self.momentum)
        self.running_var.lerp_(unbiased.to(self.running_var.dtype), self.momentum)
        self.num_batches_tracked.add_(1)

    def learned_mixture(self) -> dict[str, Tensor]:
        """The softmax weights as used in forward: ``{"mean_weight/instance": w, ..., "var_weight/batch": w'}``."""
        weights = {}
        for prefix, logits in (("mean_weight", self.mean_logits), ("var_weight", self.var_logits)):
            for name, value in zip(SWITCHABLE_STATISTICS, logits.detach().float().softmax(0), strict=True):
                weights[f"{prefix}/{name}"] = value
        return weights
