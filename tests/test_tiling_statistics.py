"""Tiled stylization keeps instance, group and layer norm statistics of the whole image.

Issue: each tile got its own IN statistics, up to 244 gray levels from the untiled output for a
random CycleGAN generator. With ``tile_stats="exact"`` the tiles share the untiled network's
statistics and the result matches the untiled one within a gray level.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_stylize import smooth_image
from torch import nn

from stylenorm.inference.pipeline import stylize_batch
from stylenorm.inference.stylizer import SIGNED, UNIT, ZERO_TO_255, Stylizer
from stylenorm.inference.tile_statistics import _normalize, owned_ranges, per_sample_norm_layers
from stylenorm.networks import build_networks

NETWORKS = {  # model -> (network key, size options, pixel convention)
    "style": ("transformer", {"network": {"num_residual_blocks": 1}}, ZERO_TO_255),
    "cyclegan": ("G_AB", {"generator": {"ngf": 8, "n_blocks": 2}}, SIGNED),
    "autoencoder": ("autoencoder", {"network": {"base_channels": 8}}, UNIT),
}


def random_stylizer(model: str, norm: str) -> Stylizer:
    """A random network whose output spreads over the gray levels (flat outputs would hide errors)."""
    key, sizes, convention = NETWORKS[model]
    torch.manual_seed(5)
    network = build_networks({"name": model, "norm": {"kind": norm, "affine": True}, **sizes})[key].eval()
    with torch.no_grad():
        for layer in per_sample_norm_layers(network):  # affine away from (1, 0), as after training
            layer.weight.uniform_(0.5, 1.5)
            layer.bias.uniform_(-0.5, 0.5)
        last = [m for m in network.modules() if isinstance(m, nn.Conv2d)][-1]
        probe = convention.to_network(torch.from_numpy(smooth_image(64, 64, seed=1)).permute(2, 0, 1)[None].float())
        target = {"style": 50.0, "cyclegan": 0.4, "autoencoder": 1.0}[model]  # before tanh/sigmoid/clamp
        last.weight *= target / network(probe).std().clamp_min(1e-6)
        if model == "style":
            last.bias += 127.0
    return Stylizer(network, convention, f"random {model} {norm}")


# One case in the unit tier; the others (20-26 s each on 2 cores) in the integration tier.
CASES = [
    ("style", "instance"),
    pytest.param("style", "group", marks=pytest.mark.integration),
    pytest.param("style", "layer", marks=pytest.mark.integration),
    pytest.param("cyclegan", "instance", marks=pytest.mark.integration),
    ("autoencoder", "group"),
    pytest.param("autoencoder", "layer", marks=pytest.mark.integration),
]


@pytest.mark.integration
@pytest.mark.parametrize(("model", "norm"), CASES)
def test_exact_tile_statistics_match_the_untiled_output(model, norm):
    stylizer = random_stylizer(model, norm)
    image = torch.from_numpy(smooth_image(256, 320, seed=4)).permute(2, 0, 1)[None]
    untiled = stylize_batch(image, stylizer, auto_tile_pixels=0).int()
    assert untiled.float().std() > 10  # a comparison between two flat images would prove nothing
    # overlap / 4 above the receptive-field radius (23 px for a 1-block TransformerNet): no seam error
    options = {"tile": 192, "overlap": 96}
    exact = stylize_batch(image, stylizer, tile_stats="exact", **options).int()
    per_tile = stylize_batch(image, stylizer, tile_stats="per-tile", **options).int()
    assert (exact - untiled).abs().max() <= 1
    assert (per_tile - untiled).abs().max() > 3  # without whole-image statistics the tiles disagree


@pytest.mark.integration
def test_thumbnail_statistics_run_and_stay_close_on_a_smooth_image():
    stylizer = random_stylizer("cyclegan", "instance")
    image = torch.from_numpy(smooth_image(192, 256, seed=6)).permute(2, 0, 1)[None]
    untiled = stylize_batch(image, stylizer, auto_tile_pixels=0).int()
    thumbnail = stylize_batch(image, stylizer, tile=128, overlap=32, tile_stats="thumbnail").int()
    assert thumbnail.shape == untiled.shape
    assert (thumbnail - untiled).abs().float().mean() < 20  # approximate by design (docs give the numbers)


@pytest.mark.parametrize("layer", [nn.InstanceNorm2d(6, affine=True), nn.GroupNorm(3, 6), nn.GroupNorm(1, 6)])
def test_frozen_normalization_with_the_inputs_own_statistics_is_the_layer(layer):
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.uniform_(-1, 1)
    x = torch.randn(2, 6, 5, 7) * 3 + 1
    groups = layer.num_groups if isinstance(layer, nn.GroupNorm) else 6
    grouped = x.double().reshape(2, groups, -1)
    ours = _normalize(layer, x, grouped.mean(-1), grouped.var(-1, unbiased=False))
    if isinstance(layer, nn.GroupNorm):
        expected = F.group_norm(x, groups, layer.weight, layer.bias, layer.eps)
    else:
        expected = F.instance_norm(x, weight=layer.weight, bias=layer.bias, eps=layer.eps)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


def test_owned_ranges_partition_the_axis_on_the_grid():
    for length, size, starts in [(200, 96, [0, 52, 104]), (128, 128, [0]), (300, 100, [0, 100, 200])]:
        ranges = owned_ranges(starts, size, length, 4)
        covered = np.concatenate([np.arange(begin, end) for begin, end in ranges])
        assert np.array_equal(covered, np.arange(length))
        assert all(begin % 4 == 0 for begin, _ in ranges)
        for (begin, end), start in zip(ranges, starts, strict=True):
            assert start <= begin and end <= start + size  # a tile only owns pixels it computed


def test_unknown_tile_statistics_are_named():
    stylizer = random_stylizer("autoencoder", "group")
    image = torch.zeros(1, 3, 64, 64, dtype=torch.uint8)
    with pytest.raises(ValueError, match="Unknown tile statistics 'whole'; expected one of exact, thumbnail"):
        stylize_batch(image, stylizer, tile=32, overlap=8, tile_stats="whole")
