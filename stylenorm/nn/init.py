"""Weight initialisation of the CycleGAN code (Zhu et al. 2017): convs ~ N(0, gain), affine norm scales ~ N(1, gain)
for every norm kind alike (the original: batch norm only), so an ablation compares norms, not inits.
"""

from __future__ import annotations

from torch import nn

from stylenorm.nn.norm import is_norm_layer


def init_weights_normal(network: nn.Module, gain: float = 0.02) -> nn.Module:
    """Re-initialise ``network`` in place as the CycleGAN code does; returns it."""
    for module in network.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(module.weight, 0.0, gain)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif is_norm_layer(module) and getattr(module, "weight", None) is not None:
            nn.init.normal_(module.weight, 1.0, gain)
            nn.init.zeros_(module.bias)
    return network
