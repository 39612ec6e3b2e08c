"""The AdaIN training loss (Huang & Belongie 2017, Sec. 6.2, Eqs. 11-13): content at relu4_1, style as the channel
means and stds at relu1_1 ... relu4_1, as the paper's port computes them, in float32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylenorm.networks.adain import ENCODER_LAYERS, AdaINEncoder
from stylenorm.nn.adain import channel_mean_std


def statistics_loss(output: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """``mse(mu(output), mu(style)) + mse(sigma(output), sigma(style))`` in float32; ``style``: 1 or N samples."""
    with torch.autocast(device_type=output.device.type, enabled=False):
        output_mean, output_std = channel_mean_std(output.float())
        style_mean, style_std = channel_mean_std(style.float())
        return F.mse_loss(output_mean, style_mean.expand_as(output_mean)) + F.mse_loss(
            output_std, style_std.expand_as(output_std)
        )


class AdaINLoss(nn.Module):
    """Content and style losses of AdaIN, read off ``encoder`` (not a submodule: it is stored once, in the network)."""

    def __init__(self, content_weight: float = 1.0, style_weight: float = 10.0) -> None:
        super().__init__()
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)

    def forward(
        self,
        encoder: AdaINEncoder,
        decoded: torch.Tensor,
        target: torch.Tensor,
        style_features: dict[str, torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """Weighted float32 ``content``, ``style`` and ``total`` of ``decoded = g(t)``, ``t`` and the style features."""
        features = encoder.features(decoded, ENCODER_LAYERS)
        with torch.autocast(device_type=decoded.device.type, enabled=False):
            content = F.mse_loss(features["relu4_1"].float(), target.float())
            style = sum(statistics_loss(features[name], style_features[name]) for name in ENCODER_LAYERS)
        terms = {"content": self.content_weight * content, "style": self.style_weight * style}
        terms["total"] = terms["content"] + terms["style"]
        return terms

    def extra_repr(self) -> str:
        return f"content_weight={self.content_weight}, style_weight={self.style_weight}"
