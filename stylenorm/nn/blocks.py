"""Building blocks shared by the networks: padded convs, resize-convs, Conv-Norm-Act, activations.

Blocks take a :class:`~stylenorm.nn.norm.NormSpec` (or nothing) and never name a norm class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylenorm.nn.norm import NormSpec

_ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "gelu": nn.GELU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2, inplace=True),
    "none": nn.Identity,
}

#: Activation names a config may use.
ACTIVATIONS = tuple(_ACTIVATIONS)


def make_activation(name: str) -> nn.Module:
    """``relu | silu | gelu | leaky_relu (slope 0.2) | none`` -> module."""
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}.") from None


class ReflectionConv(nn.Module):
    """Reflection padding of ``kernel_size // 2`` then a conv: the fast-neural-style ``ConvLayer``.

    Reflection instead of zero padding avoids dark borders in generated images (Johnson et al. 2016,
    supplementary; Zhu et al. 2017 use it for the same reason).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = True):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class ResizeConv(ReflectionConv):
    """Nearest-neighbour upsampling then a reflection-padded conv.

    Odena et al. 2016 ("Deconvolution and Checkerboard Artifacts"): unlike a strided transposed
    conv, every output pixel sees the same number of kernel taps, so no checkerboard pattern.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, scale_factor: int = 2, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, bias=bias)
        self.scale_factor = scale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=self.scale_factor, mode="nearest"))


class ConvNormAct(nn.Sequential):
    """Conv -> Norm -> Activation, the ``ConvINAct`` block of the seed notebook with any norm.

    ``bias=None`` applies the project rule (:attr:`NormSpec.conv_bias`): no bias before batch norm.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm: NormSpec,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        activation: str = "relu",
        bias: bool | None = None,
        padding_mode: str = "zeros",
        name: str = "conv_norm_act",
    ):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding=kernel_size // 2,
            bias=norm.conv_bias if bias is None else bias,
            padding_mode=padding_mode,
        )
        self.norm = norm(out_channels, name=f"{name}.norm")
        self.act = make_activation(activation)


def check_image_size(x: torch.Tensor, *, multiple: int, min_size: int, network: str) -> None:
    """Raise a readable error unless ``x`` is ``(N, C, H, W)`` with H, W >= min_size and divisible by multiple."""
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return  # exported graphs take dynamic sizes; the exporting code pads them (stylenorm.inference)
    if x.dim() != 4:
        raise ValueError(f"{network} expects a batch of images (N, C, H, W), got shape {tuple(x.shape)}.")
    height, width = x.shape[-2:]
    if height < min_size or width < min_size or height % multiple or width % multiple:
        raise ValueError(
            f"{network} needs height and width that are multiples of {multiple} and at least {min_size}, "
            f"got {height}x{width}. Resize or crop the input, or pad it (the stylize command pads by "
            f"reflection and crops back automatically)."
        )
