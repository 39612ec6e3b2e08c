"""Conditional instance norm (Dumoulin, Shlens & Kudlur 2017) against a from-scratch reference."""

import pytest
import torch

from stylenorm.nn.conditional_instance_norm import ConditionalInstanceNorm2d, set_style
from stylenorm.nn.norm import NormSpec
from tests.reference_norms import instance_norm


def reference_cin(x, gamma_table, beta_table, weights):
    """Eq. 5 of the paper, with a convex mix of style rows (Sec. 5), one sample at a time."""
    out = []
    for n in range(x.shape[0]):
        gamma = sum(w * g for w, g in zip(weights[n], gamma_table, strict=True))
        beta = sum(w * b for w, b in zip(weights[n], beta_table, strict=True))
        out.append(instance_norm(x[n : n + 1]) * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1))
    return torch.cat(out)


@pytest.fixture
def layer():
    torch.manual_seed(0)
    layer = NormSpec(kind="conditional_instance", affine=True, num_styles=3)(4, name="test")
    with torch.no_grad():
        layer.weight.normal_()
        layer.bias.normal_()
    return layer


def test_factory_builds_a_per_style_table(layer):
    assert isinstance(layer, ConditionalInstanceNorm2d)
    assert layer.weight.shape == layer.bias.shape == (3, 4)


def test_style_indices_match_the_reference(layer):
    x = torch.randn(3, 4, 8, 8)
    layer.style = torch.tensor([2, 0, 1])
    weights = torch.eye(3)[[2, 0, 1]]
    torch.testing.assert_close(layer(x), reference_cin(x, layer.weight, layer.bias, weights))


def test_one_hot_mix_equals_the_style_exactly(layer):
    x = torch.randn(2, 4, 8, 8)
    layer.style = 1
    by_index = layer(x)
    layer.style = torch.tensor([0.0, 1.0, 0.0])
    assert torch.equal(layer(x), by_index)


def test_convex_mix_matches_the_reference_mix(layer):
    x = torch.randn(2, 4, 8, 8)
    mix = torch.tensor([0.2, 0.3, 0.5])
    set_style(layer, mix)
    torch.testing.assert_close(layer(x), reference_cin(x, layer.weight, layer.bias, [mix, mix]))


@pytest.mark.parametrize(
    ("style", "message"),
    [
        (3, "out of range"),
        (torch.tensor([0.5, 0.5]), "3 entries"),
        (torch.tensor([0.5, 0.7, -0.2]), "non-negative"),
        (torch.tensor([0.5, 0.7, 0.2]), "sum to 1"),
    ],
)
def test_bad_styles_are_refused(layer, style, message):
    layer.style = style
    with pytest.raises(ValueError, match=message):
        layer(torch.randn(1, 4, 4, 4))


def test_set_style_refuses_networks_without_styles():
    with pytest.raises(ValueError, match="norm=conditional_instance"):
        set_style(torch.nn.InstanceNorm2d(4), 0)


def test_other_kinds_store_no_num_styles():
    assert "num_styles" not in NormSpec(kind="instance").to_dict()
    assert NormSpec(kind="conditional_instance", num_styles=2).to_dict()["num_styles"] == 2
