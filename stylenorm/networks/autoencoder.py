"""The Conv-Norm-Act autoencoder of the source notebooks (seed 001, "ConvINAct + SimpleIN_AutoEncoder"): a cheap
image-to-image task for the norm ablation. RGB in [0, 1] in and out; sides multiples of 4. Layout: docs/modules.md.
"""

from __future__ import annotations

import torch
from torch import nn

from stylenorm.nn.blocks import ConvNormAct, ImageNetwork
from stylenorm.nn.norm import NormSpec


class ConvNormActAutoencoder(ImageNetwork):
    """The seed's ``SimpleIN_AutoEncoder`` for every norm kind (``affine: null``: on); sides of at least 8 px."""

    def __init__(
        self,
        norm: NormSpec | dict | str | None = None,
        base_channels: int = 32,
        bottleneck_depth: int = 2,
        activation: str = "relu",
        conv_bias: bool | None = None,
    ):
        super().__init__(norm)
        norm = self.norm_spec
        wide = 2 * base_channels

        def block(cin: int, cout: int, name: str, stride: int = 1) -> ConvNormAct:
            return ConvNormAct(cin, cout, norm, stride=stride, activation=activation, bias=conv_bias, name=name)

        self.enc1 = block(3, base_channels, "enc1", stride=2)
        self.enc2 = block(base_channels, wide, "enc2", stride=2)
        self.bottleneck = nn.Sequential(*(block(wide, wide, f"bottleneck.{i}") for i in range(bottleneck_depth)))
        self.dec1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), block(wide, base_channels, "dec1"))
        self.dec2 = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), block(base_channels, base_channels, "dec2")
        )
        self.head = nn.Conv2d(base_channels, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> RGB in [0, 1], through features at 1/4 resolution."""
        self.check_size(x)
        return torch.sigmoid(self.head(self.dec2(self.dec1(self.bottleneck(self.enc2(self.enc1(x)))))))
