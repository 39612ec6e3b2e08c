"""The CycleGAN ResNet generator (Zhu et al. 2017, appendix 7.2), in one ``nn.Sequential`` ``model`` in the original
order, so the public ``latest_net_G_A.pth`` files load unchanged (docs/public_checkpoints.md). Layout: docs/modules.md.
"""

from __future__ import annotations

import torch
from torch import nn

from stylenorm.nn.blocks import ImageNetwork, ResizeConv
from stylenorm.nn.norm import NormSpec

UPSAMPLING_MODES = ("transpose", "resize_conv")


class ResnetBlock(nn.Module):
    """Residual block with reflection padding; ``conv_block`` indices follow the original code."""

    def __init__(self, channels: int, norm: NormSpec, *, bias: bool, dropout: float, name: str):
        super().__init__()

        def conv_norm(index: int) -> list[nn.Module]:
            return [
                nn.ReflectionPad2d(1),
                nn.Conv2d(channels, channels, 3, bias=bias),
                norm(channels, name=f"{name}.norm{index}"),
            ]

        dropout_layer = [nn.Dropout(dropout)] if dropout > 0 else []
        self.conv_block = nn.Sequential(*conv_norm(1), nn.ReLU(True), *dropout_layer, *conv_norm(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(ImageNetwork):
    """CycleGAN's ``resnet_9blocks`` / ``resnet_6blocks`` generator with any norm (``affine: null``: off, as there)."""

    default_affine = False

    def __init__(
        self,
        norm: NormSpec | dict | str | None = None,
        ngf: int = 64,
        n_blocks: int = 9,
        dropout: float = 0.0,
        upsampling: str = "transpose",
        conv_bias: bool | None = None,
        in_channels: int = 3,
        out_channels: int = 3,
    ):
        if upsampling not in UPSAMPLING_MODES:
            raise ValueError(f"upsampling must be one of {UPSAMPLING_MODES}, got {upsampling!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        super().__init__(norm)
        norm = self.norm_spec
        bias = norm.conv_bias_or(conv_bias)

        def with_norm_relu(conv: nn.Module, channels: int, name: str) -> list[nn.Module]:
            return [conv, norm(channels, name=f"{name}.norm"), nn.ReLU(True)]

        layers = [nn.ReflectionPad2d(3), *with_norm_relu(nn.Conv2d(in_channels, ngf, 7, bias=bias), ngf, "stem")]
        for i in range(2):  # downsampling: ngf -> 2ngf -> 4ngf
            channels = ngf * 2 ** (i + 1)
            down = nn.Conv2d(channels // 2, channels, 3, stride=2, padding=1, bias=bias)
            layers += with_norm_relu(down, channels, f"down{i + 1}")
        layers += [
            ResnetBlock(ngf * 4, norm, bias=bias, dropout=dropout, name=f"block{i + 1}") for i in range(n_blocks)
        ]
        for i in range(2):  # upsampling: 4ngf -> 2ngf -> ngf
            channels = ngf * 2 ** (1 - i)
            if upsampling == "transpose":
                up = nn.ConvTranspose2d(channels * 2, channels, 3, stride=2, padding=1, output_padding=1, bias=bias)
            else:
                up = ResizeConv(channels * 2, channels, 3, scale_factor=2, bias=bias)
            layers += with_norm_relu(up, channels, f"up{i + 1}")
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [-1, 1] ``(N, 3, H, W)`` -> RGB in [-1, 1], same size."""
        self.check_size(x)
        return self.model(x)
