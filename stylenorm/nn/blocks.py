"""Building blocks shared by the networks: their base class, padded convs, resize-convs, Conv-Norm-Act."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

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


def make_activation(name: str) -> nn.Module:
    """``relu | silu | gelu | leaky_relu (slope 0.2) | none`` -> module."""
    try:
        return _ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"Unknown activation {name!r}; expected one of {', '.join(_ACTIVATIONS)}.") from None


def named_activations(
    layers: Iterable[nn.Module], x: torch.Tensor, wanted: Mapping[int, str]
) -> dict[str, torch.Tensor]:
    """``{name: output of layer index}`` for ``wanted`` (index -> name), running ``layers`` up to the deepest only."""
    outputs = {}
    for index, layer in enumerate(itertools.islice(layers, max(wanted) + 1)):
        x = layer(x)
        if index in wanted:
            outputs[wanted[index]] = x
    return outputs


class ImageNetwork(nn.Module):
    """Base of the image-to-image networks: their norm (``affine: null`` -> :attr:`default_affine`) and input sizes."""

    size_multiple = 4
    min_size = 8
    default_affine = True

    def __init__(self, norm: NormSpec | Mapping[str, Any] | str | None) -> None:
        super().__init__()
        self.norm_spec = NormSpec.from_config(norm).with_default_affine(self.default_affine)

    def check_size(self, x: torch.Tensor) -> None:
        """Raise a readable error unless ``x`` is ``(N, C, H, W)`` with sides the network takes."""
        if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
            return  # exported graphs take dynamic sizes; the exporting code pads them (stylenorm.inference)
        network = type(self).__name__
        if x.dim() != 4:
            raise ValueError(f"{network} expects a batch of images (N, C, H, W), got shape {tuple(x.shape)}.")
        height, width = x.shape[-2:]
        multiple = self.size_multiple
        if height < self.min_size or width < self.min_size or height % multiple or width % multiple:
            raise ValueError(
                f"{network} needs height and width that are multiples of {multiple} and at least {self.min_size}, "
                f"got {height}x{width}. Resize, crop or pad the input (the stylize command pads it for you)."
            )


class ReflectionConv(nn.Module):
    """Reflection padding (no dark borders, Johnson et al. 2016) then a conv: the fast-neural-style ``ConvLayer``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, bias: bool = True):
        super().__init__()
        self.pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pad(x))


class ResizeConv(ReflectionConv):
    """Nearest-neighbour upsampling then a reflection-padded conv: no checkerboard (Odena et al. 2016)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, scale_factor: int = 2, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, bias=bias)
        self.scale_factor = scale_factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.interpolate(x, scale_factor=self.scale_factor, mode="nearest"))


class ConvNormAct(nn.Sequential):
    """3x3 conv -> norm -> activation, the seed notebook's ``ConvINAct``; ``bias=None``: :attr:`NormSpec.conv_bias`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm: NormSpec,
        *,
        stride: int = 1,
        activation: str = "relu",
        bias: bool | None = None,
        name: str = "conv_norm_act",
    ):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=norm.conv_bias_or(bias))
        self.norm = norm(out_channels, name=f"{name}.norm")
        self.act = make_activation(activation)
