"""Every network under every norm kind takes a training step: finite outputs, gradients that reach
every norm layer's parameters, and a loss that falls after one SGD step. The unit-tier counterpart of
tests/test_training.py (which runs the same through Trainer.fit, in the integration tier)."""

import pytest
import torch

from stylenorm.networks import build_networks
from stylenorm.nn.norm import NORM_KINDS, STYLE_CONDITIONED_KINDS, is_norm_layer

TINY = {
    "style": {"network": {"num_residual_blocks": 1}},
    "cyclegan": {"generator": {"ngf": 8, "n_blocks": 1}, "discriminator": {"ndf": 8}},
    "autoencoder": {"network": {"base_channels": 8}},
}
#: sync_batch needs a DDP process group; conditional kinds need a style index (test_conditional_instance_norm.py)
KINDS = [k for k in NORM_KINDS if k not in STYLE_CONDITIONED_KINDS and k != "sync_batch"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model", sorted(TINY))
def test_every_network_under_every_norm_takes_a_training_step(model, kind):
    torch.manual_seed(0)
    networks = build_networks({"name": model, "norm": {"kind": kind}, **TINY[model]})
    x = torch.rand(2, 3, 32, 32)

    def loss() -> torch.Tensor:
        outputs = [network(x) for network in networks.values()]
        assert all(torch.isfinite(out).all() for out in outputs)
        return sum((out - 0.5).square().mean() for out in outputs)

    for network in networks.values():
        network.train()
    before = loss()
    before.backward()
    for name, network in networks.items():
        for layer_name, layer in network.named_modules():
            for param_name, param in layer.named_parameters(recurse=False):
                if is_norm_layer(layer):
                    assert param.grad is not None and torch.isfinite(param.grad).all(), f"{name}.{layer_name}"
                    assert param.grad.abs().sum() > 0, f"{name}.{layer_name}.{param_name} got no gradient"
    optimizer = torch.optim.SGD([p for n in networks.values() for p in n.parameters()], lr=1e-3)
    optimizer.step()
    with torch.no_grad():
        after = loss()
    assert after < before
