"""The learned norms: Batch-Instance Normalization (Nam & Kim 2018) and Switchable Normalization (Luo et al. 2018),
statistics in float32, parameters and buffers laid out as ``nn.BatchNorm2d``'s. Details: docs/modules.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _NormBase


class MixedStatisticsNorm2d(_NormBase):
    """Base of norm layers that blend several statistics, on ``nn.BatchNorm2d``'s own base and state-dict layout."""

    def check_input(self, x: Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"{type(self).__name__} expects (N, C, H, W), got shape {tuple(x.shape)}.")

    def apply_affine(self, y: Tensor) -> Tensor:
        """``y * gamma + beta`` per channel (float32), or ``y`` without affine parameters."""
        if self.weight is None:
            return y
        return y * self.weight.float().view(1, -1, 1, 1) + self.bias.float().view(1, -1, 1, 1)


class BatchInstanceNorm2d(MixedStatisticsNorm2d):
    """``rho * BN(x) + (1 - rho) * IN(x)``, then a per-channel affine; rho in [0, 1] per channel starts at 1 (BN)."""

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
        # Clipped value, unclipped gradient: at rho = 1 a clamp would pass none, and training projects rho (project_).
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


#: The statistics a switchable layer chooses between, in the order of its logits.
SWITCHABLE_STATISTICS = ("instance", "layer", "batch")


class SwitchableNorm2d(MixedStatisticsNorm2d):
    """Softmax-weighted IN/LN/BN means and variances (all from the per-(n, c) moments), then a per-channel affine."""

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
        return {
            f"{prefix}/{name}": value
            for prefix, logits in (("mean_weight", self.mean_logits), ("var_weight", self.var_logits))
            for name, value in zip(SWITCHABLE_STATISTICS, logits.detach().float().softmax(0), strict=True)
        }
