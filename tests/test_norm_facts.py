"""The claims of the source notebooks about IN, BN, GN and LN, as executable checks.

Each test names the claim it checks; the from-scratch references in reference_norms.py are
written from the papers' equations, independently of torch's kernels.
"""

import pytest
import torch
from torch import nn

import reference_norms as ref
from stylenorm.nn.norm import NormSpec


def build(kind, channels, affine=False, **kwargs):
    return NormSpec(kind=kind, affine=affine, **kwargs)(channels)


def dark_and_bright_batch():
    """Seed 004's example: a dark (0..3) and a bright (10..13) 2x2 RGB image in one batch."""
    dark = torch.tensor([[[0.0, 1.0], [0.0, 1.0]], [[2.0, 3.0], [2.0, 3.0]], [[0.0, 0.0], [0.0, 0.0]]])
    return torch.stack([dark, dark + 10.0])


def test_instance_norm_gives_zero_mean_unit_std_per_sample_and_channel():
    """Seed 000, section 4: 'every (n, c) gets mean 0, std 1 over H x W'."""
    x = torch.randn(4, 8, 16, 16) * 5.0 + 3.0
    y = build("instance", 8)(x)
    torch.testing.assert_close(y.mean(dim=(2, 3)), torch.zeros(4, 8), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=(2, 3), unbiased=False), torch.ones(4, 8), atol=1e-3, rtol=0)


def test_group_norm_gives_zero_mean_unit_std_per_sample_and_group():
    """Seed 002: 'GN's mean 0 / std 1 is per sample and per group, not per batch'."""
    x = torch.randn(3, 16, 8, 8) * 4.0 - 2.0
    y = build("group", 16, num_groups=4)(x).reshape(3, 4, -1)
    torch.testing.assert_close(y.mean(dim=-1), torch.zeros(3, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(dim=-1, unbiased=False), torch.ones(3, 4), atol=1e-3, rtol=0)
    per_channel_std = y.reshape(3, 16, -1).std(dim=-1, unbiased=False)
    assert (per_channel_std - 1).abs().max() > 0.05  # individual channels are not forced to std 1


def test_batch_norm_mixes_a_dark_and_a_bright_image_while_instance_and_layer_norm_do_not():
    """Seed 004 / 003: 'BN mixes the statistics of the batch; IN and LN normalise each image alone'."""
    batch = dark_and_bright_batch()
    bn_out = build("batch", 3).train()(batch)
    # BN: the dark image comes out below zero, the bright one above - brightness survives, pooled.
    assert bn_out[0, 0].mean() < -0.8 and bn_out[1, 0].mean() > 0.8
    # ...and the dark image's output depends on which image shares its batch.
    alone = build("batch", 3).train()(torch.stack([batch[0], batch[0] * 0.5]))
    assert not torch.allclose(alone[0], bn_out[0], atol=1e-3)
    for kind in ("instance", "layer"):
        layer = build(kind, 3)
        out = layer(batch)
        # the +10 brightness is gone (atol: a constant channel divides rounding error by sqrt(eps))
        torch.testing.assert_close(out[0], out[1], atol=1e-3, rtol=0)
        torch.testing.assert_close(layer(batch[:1])[0], out[0])  # batch-mates do not matter


def test_gn_with_one_group_is_layer_norm_over_chw():
    """Seed 002, section 4: 'GN(1) ~ LN' - exact, for LayerNorm over (C, H, W)."""
    x = torch.randn(2, 12, 7, 9)
    layer_norm = nn.LayerNorm([12, 7, 9], elementwise_affine=False)
    torch.testing.assert_close(nn.GroupNorm(1, 12, affine=False)(x), layer_norm(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(build("layer", 12)(x), layer_norm(x), atol=1e-5, rtol=0)


def test_gn_with_c_groups_is_instance_norm():
    """Seed 002, section 4: 'GN(C) ~ IN' - exact."""
    x = torch.randn(2, 12, 7, 9)
    torch.testing.assert_close(nn.GroupNorm(12, 12, affine=False)(x), build("instance", 12)(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(build("group", 12, num_groups=12)(x), build("instance", 12)(x), atol=1e-5, rtol=0)


def test_layer_kind_is_not_tied_to_an_image_size():
    """Why `layer` is GroupNorm(1, C): one layer normalises 16x16 and 40x24 inputs alike."""
    layer = build("layer", 6, affine=True)
    for shape in [(2, 6, 16, 16), (1, 6, 40, 24)]:
        x = torch.randn(shape)
        torch.testing.assert_close(layer(x), ref.layer_norm(x), atol=1e-5, rtol=0)


def test_batch_norm_differs_between_train_and_eval_mode():
    """Seed 002, section 6: 'BN behaves differently at train and inference (running stats)'."""
    x = torch.randn(4, 8, 6, 6) * 3.0 + 2.0
    bn = build("batch", 8)
    train_out = bn.train()(x)
    eval_out = bn.eval()(x)  # running stats after one step: 0.9 * (0, 1) + 0.1 * batch stats
    assert (train_out - eval_out).abs().mean() > 0.5
    gn = build("group", 8)
    torch.testing.assert_close(gn.train()(x), gn.eval()(x))  # GN: no train/eval difference


@pytest.mark.parametrize("shape", [(2, 8, 5, 7), (1, 16, 4, 4)])
def test_from_scratch_references_match_torch(shape):
    """From-scratch IN / BN / GN / LN (papers' equations) match the built-in modules."""
    x = torch.randn(shape) * 2.0 + 1.0
    torch.testing.assert_close(build("instance", shape[1])(x), ref.instance_norm(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(build("batch", shape[1]).train()(x), ref.batch_norm_train(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(build("group", shape[1], num_groups=4)(x), ref.group_norm(x, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(build("layer", shape[1])(x), ref.layer_norm(x), atol=1e-5, rtol=0)


def test_affine_parameters_scale_and_shift_per_channel():
    """Seed 000, 2.1: y = gamma * x_hat + beta with per-channel gamma, beta."""
    x = torch.randn(2, 4, 5, 5)
    layer = build("instance", 4, affine=True)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0]))
        layer.bias.copy_(torch.tensor([0.0, -1.0, 1.0, 2.0]))
    expected = ref.instance_norm(x) * layer.weight.view(1, 4, 1, 1) + layer.bias.view(1, 4, 1, 1)
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=0)
