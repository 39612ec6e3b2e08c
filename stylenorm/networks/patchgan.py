"""The 70x70 PatchGAN discriminator (Isola et al. 2017; used unchanged by CycleGAN), in one ``nn.Sequential``
``model`` in the original order, so ``latest_net_D_A.pth`` files load unchanged. Layout: docs/modules.md.
"""

from __future__ import annotations

import torch
from torch import nn

from stylenorm.nn.blocks import ImageNetwork
from stylenorm.nn.norm import NormSpec


def patchgan_output_size(size: int, n_layers: int = 3) -> int:
    """Side of the score map for an input side ``size`` (4x4 convs, padding 1)."""
    for _ in range(n_layers):
        size = (size + 2 - 4) // 2 + 1
    return size - 2  # two stride-1 4x4 convs with padding 1 each remove one pixel


class PatchDiscriminator(ImageNetwork):
    """N-layer PatchGAN with any norm (``affine: null``: off); ``n_layers=3`` is the 70x70 one."""

    size_multiple = 1  # any side of at least min_size (set per instance) works
    default_affine = False

    def __init__(
        self,
        norm: NormSpec | dict | str | None = None,
        ndf: int = 64,
        n_layers: int = 3,
        conv_bias: bool | None = None,
        in_channels: int = 3,
    ):
        super().__init__(norm)
        norm = self.norm_spec
        self.n_layers = n_layers
        #: Smallest input side that still yields a 1x1 score map (24 for 3 layers).
        self.min_size = next(s for s in range(1, 10_000) if patchgan_output_size(s, n_layers) >= 1)
        bias = norm.conv_bias_or(conv_bias)

        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        channels = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2**n, 8)
            conv = nn.Conv2d(channels, out, 4, stride=2 if n < n_layers else 1, padding=1, bias=bias)
            layers += [conv, norm(out, name=f"layer{n + 1}.norm"), nn.LeakyReLU(0.2, True)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [-1, 1] ``(N, 3, H, W)`` -> real/fake scores ``(N, 1, h, w)`` (logits)."""
        if x.dim() != 4 or min(x.shape[-2:]) < self.min_size:
            raise ValueError(
                f"PatchDiscriminator with {self.n_layers} layers needs (N, C, H, W) images of at least "
                f"{self.min_size}x{self.min_size}, got shape {tuple(x.shape)}."
            )
        return self.model(x)
