"""TransformerNet, the fast style-transfer network of Johnson et al. 2016 as in the PyTorch ``fast_neural_style``
example: reflection-padded convs, resize-convs; 0-255 RGB in, unclamped 0-255 out. Layout: docs/modules.md.
"""

from __future__ import annotations

import torch
from torch import nn

from stylenorm.nn.blocks import ImageNetwork, ReflectionConv, ResizeConv
from stylenorm.nn.norm import NormSpec


class TransformerResidualBlock(nn.Module):
    """conv -> norm -> ReLU -> conv -> norm, plus the input (He et al. 2016; Gross & Wilber's variant)."""

    def __init__(self, channels: int, norm: NormSpec, name: str):
        super().__init__()
        self.conv1 = ReflectionConv(channels, channels, 3)
        self.norm1 = norm(channels, name=f"{name}.norm1")
        self.conv2 = ReflectionConv(channels, channels, 3)
        self.norm2 = norm(channels, name=f"{name}.norm2")
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        return x + self.norm2(self.conv2(out))


class TransformerNet(ImageNetwork):
    """Johnson et al.'s image transformation network with any norm (``affine: null``: on, as published)."""

    def __init__(self, norm: NormSpec | dict | str | None = None, num_residual_blocks: int = 5):
        super().__init__(norm)
        norm = self.norm_spec
        self.conv1 = ReflectionConv(3, 32, 9)
        self.norm1 = norm(32, name="norm1")
        self.conv2 = ReflectionConv(32, 64, 3, stride=2)
        self.norm2 = norm(64, name="norm2")
        self.conv3 = ReflectionConv(64, 128, 3, stride=2)
        self.norm3 = norm(128, name="norm3")
        self.residual_blocks = nn.Sequential(
            *(TransformerResidualBlock(128, norm, name=f"residual_blocks.{i}") for i in range(num_residual_blocks))
        )
        self.up1 = ResizeConv(128, 64, 3, scale_factor=2)
        self.norm4 = norm(64, name="norm4")
        self.up2 = ResizeConv(64, 32, 3, scale_factor=2)
        self.norm5 = norm(32, name="norm5")
        self.conv_out = ReflectionConv(32, 3, 9)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """0-255 RGB ``(N, 3, H, W)`` -> 0-255 RGB (unclamped), same size."""
        self.check_size(x)
        y = self.relu(self.norm1(self.conv1(x)))
        y = self.relu(self.norm2(self.conv2(y)))
        y = self.relu(self.norm3(self.conv3(y)))
        y = self.residual_blocks(y)
        y = self.relu(self.norm4(self.up1(y)))
        y = self.relu(self.norm5(self.up2(y)))
        return self.conv_out(y)
