"""Weight Standardization (Qiao et al. 2019, eq. 5) of the convs that feed a norm layer, keeping ``nn.Conv2d``'s
parameter names and the raw stored ``weight``. Details: docs/modules.md.
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from stylenorm.nn.norm import NormSpec, is_norm_layer

#: eps inside the root of the kernel variance (eq. 5); small, as CycleGAN's init draws kernels of variance 4e-4.
WS_EPS = 1e-8


def standardize(weight: Tensor, output_dim: int = 0, eps: float = WS_EPS) -> Tensor:
    """Zero mean, unit (biased) variance per output channel, over every other axis of ``weight``."""
    dims = tuple(d for d in range(weight.dim()) if d != output_dim)
    var, mean = torch.var_mean(weight, dim=dims, keepdim=True, correction=0)
    return (weight - mean) * torch.rsqrt(var + eps)


class WeightStandardizedConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose kernel is standardised per output channel at every forward (Qiao et al. 2019)."""

    def forward(self, x: Tensor) -> Tensor:
        return self._conv_forward(x, standardize(self.weight, 0), self.bias)


class WeightStandardizedConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` with standardised kernels (output channels on axis 1; single group only)."""

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        output_padding = self._output_padding(
            x, output_size, self.stride, self.padding, self.kernel_size, 2, self.dilation
        )
        weight = standardize(self.weight, 1)
        return nn.functional.conv_transpose2d(
            x, weight, self.bias, self.stride, self.padding, output_padding, self.groups, self.dilation
        )


#: The WS class of each conv type; it only overrides ``forward``.
_STANDARDIZED = {nn.Conv2d: WeightStandardizedConv2d, nn.ConvTranspose2d: WeightStandardizedConvTranspose2d}


def check_fits(norm: NormSpec, where: str = "model.conv.weight_standardization") -> None:
    """Refuse WS where no norm layer follows the convs (it would fix every layer's output scale)."""
    if norm.kind == "none":
        raise ValueError(
            f"{where}=true needs a norm layer after each conv to set the activation scale (Qiao et al. pair "
            f"it with group norm), but norm=none has none. Use e.g. norm=group, or set {where}=false."
        )


def standardize_conv_weights(network: nn.Module) -> list[str]:
    """Make every conv followed by a norm layer (in registration order) its WS version in place; return their paths."""
    leaves = [(path, m) for path, m in network.named_modules() if not list(m.children())]
    feeding = [
        path
        for (path, module), (_, following) in itertools.pairwise(leaves)
        if type(module) in _STANDARDIZED and is_norm_layer(following)
    ]
    for path in feeding:
        conv = network.get_submodule(path)
        if isinstance(conv, nn.ConvTranspose2d) and conv.groups != 1:
            raise ValueError("Weight standardization of a grouped transposed conv is not supported.")
        # Retyped, not rebuilt: the conv keeps its parameters, options and device, and no init draws random numbers.
        conv.__class__ = _STANDARDIZED[type(conv)]
    return feeding


def is_weight_standardized(module: nn.Module) -> bool:
    return isinstance(module, (WeightStandardizedConv2d, WeightStandardizedConvTranspose2d))
