"""Batch-instance norm, switchable norm and weight standardization against from-scratch references
(tests/reference_norms.py) and their limiting facts: BIN(rho=1) = BN, BIN(rho=0) = IN, SN with
one-hot weights = the chosen norm, WS kernels have zero mean and unit variance per output channel."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reference_norms import (
    batch_instance_norm_train,
    batch_norm_train,
    instance_norm,
    layer_norm,
    standardized_kernel,
    switchable_norm_train,
)
from stylenorm.networks import (
    ConvNormActAutoencoder,
    PatchDiscriminator,
    ResnetGenerator,
    TransformerNet,
    build_networks,
)
from stylenorm.nn.norm import NormSpec, is_norm_layer, uses_running_statistics
from stylenorm.nn.weight_standardization import (
    WeightStandardizedConv2d,
    is_weight_standardized,
    standardize,
    standardize_conv_weights,
)

ATOL = 1e-4


def activation(seed=0, shape=(4, 6, 9, 7)):
    generator = torch.Generator().manual_seed(seed)
    # per-sample and per-channel offsets and scales, so IN, LN and BN statistics all differ
    scale = torch.rand(shape[0], shape[1], 1, 1, generator=generator) * 3 + 0.5
    offset = torch.randn(shape[0], shape[1], 1, 1, generator=generator) * 2
    return torch.randn(shape, generator=generator) * scale + offset


def layer(kind, channels=6, affine=False):
    return NormSpec(kind=kind, affine=affine)(channels)


# ---- batch-instance norm ---------------------------------------------------------------------


def test_batch_instance_norm_matches_the_reference_for_a_mixed_gate():
    x = activation()
    bin_layer = layer("batch_instance")
    with torch.no_grad():
        bin_layer.rho.copy_(torch.tensor([0.0, 0.2, 0.5, 0.7, 1.0, 0.35]))
    torch.testing.assert_close(bin_layer(x), batch_instance_norm_train(x, bin_layer.rho), atol=ATOL, rtol=0)


def test_batch_instance_norm_with_rho_one_is_batch_norm_in_training_and_eval():
    bin_layer, bn = layer("batch_instance", affine=True), layer("batch", affine=True)
    with torch.no_grad():
        for module in (bin_layer, bn):
            module.weight.copy_(torch.linspace(0.5, 2, 6))
            module.bias.copy_(torch.linspace(-1, 1, 6))
    assert torch.all(bin_layer.rho == 1)  # the paper's start: batch norm
    for seed in range(3):  # the running statistics must follow BN's too
        x = activation(seed)
        torch.testing.assert_close(bin_layer(x), bn(x), atol=ATOL, rtol=0)
    torch.testing.assert_close(bin_layer.running_var, bn.running_var)
    bin_layer.eval(), bn.eval()
    x = activation(7)
    torch.testing.assert_close(bin_layer(x), bn(x), atol=ATOL, rtol=0)


def test_batch_instance_norm_with_rho_zero_is_instance_norm_in_training_and_eval():
    bin_layer = layer("batch_instance")
    with torch.no_grad():
        bin_layer.rho.zero_()
    x = activation()
    torch.testing.assert_close(bin_layer(x), instance_norm(x), atol=ATOL, rtol=0)
    bin_layer.eval()
    torch.testing.assert_close(bin_layer(x), instance_norm(x), atol=ATOL, rtol=0)


def test_batch_instance_gate_is_learned_and_clipped_to_the_unit_interval():
    bin_layer = layer("batch_instance")
    bin_layer(activation()).pow(3).sum().backward()
    assert bin_layer.rho.grad is not None and bin_layer.rho.grad.abs().sum() > 0
    with torch.no_grad():
        bin_layer.rho.copy_(torch.tensor([-0.5, 1.5, 0.3, 2.0, -3.0, 0.9]))
    x = activation()
    clipped = torch.tensor([0.0, 1.0, 0.3, 1.0, 0.0, 0.9])
    torch.testing.assert_close(bin_layer(x), batch_instance_norm_train(x, clipped), atol=ATOL, rtol=0)
    bin_layer.project_()
    torch.testing.assert_close(bin_layer.rho.detach(), clipped)
    torch.testing.assert_close(bin_layer.learned_mixture()["rho"], clipped)


# ---- switchable norm -------------------------------------------------------------------------


def test_switchable_norm_matches_the_reference_for_mixed_weights():
    sn = layer("switchable")
    with torch.no_grad():
        sn.mean_logits.copy_(torch.tensor([0.3, -1.0, 0.8]))
        sn.var_logits.copy_(torch.tensor([-0.2, 0.5, 0.1]))
    x = activation()
    expected = switchable_norm_train(x, sn.mean_logits.softmax(0), sn.var_logits.softmax(0))
    torch.testing.assert_close(sn(x), expected, atol=ATOL, rtol=0)


def one_hot_logits(index):
    logits = torch.full((3,), float("-inf"))
    logits[index] = 0.0
    return logits


@pytest.mark.parametrize(("index", "reference"), [(0, instance_norm), (1, layer_norm), (2, batch_norm_train)])
def test_switchable_norm_with_one_hot_weights_is_that_norm(index, reference):
    sn = layer("switchable")
    with torch.no_grad():
        sn.mean_logits.copy_(one_hot_logits(index))
        sn.var_logits.copy_(one_hot_logits(index))
    x = activation()
    torch.testing.assert_close(sn(x), reference(x), atol=ATOL, rtol=0)


def test_switchable_norm_one_hot_on_batch_matches_batch_norm_running_statistics_and_eval():
    sn, bn = layer("switchable"), layer("batch")
    with torch.no_grad():
        sn.mean_logits.copy_(one_hot_logits(2))
        sn.var_logits.copy_(one_hot_logits(2))
    for seed in range(3):
        x = activation(seed)
        sn(x), bn(x)
    torch.testing.assert_close(sn.running_mean, bn.running_mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sn.running_var, bn.running_var, atol=1e-5, rtol=1e-5)
    sn.eval(), bn.eval()
    x = activation(9)
    torch.testing.assert_close(sn(x), bn(x), atol=ATOL, rtol=0)


def test_switchable_norm_weights_start_equal_and_learn():
    sn = layer("switchable", affine=True)
    mixture = sn.learned_mixture()
    assert set(mixture) == {f"{p}/{k}" for p in ("mean_weight", "var_weight") for k in ("instance", "layer", "batch")}
    assert all(abs(float(v) - 1 / 3) < 1e-6 for v in mixture.values())
    (sn(activation()) * torch.linspace(-1, 1, 7)).sum().backward()
    assert sn.mean_logits.grad.abs().sum() > 0 and sn.var_logits.grad.abs().sum() > 0


def test_learned_norms_keep_fp32_statistics_under_bf16_autocast():
    """A bf16 input around 300: one bf16 rounding step there is ~2, far above the std of 0.5 that
    fp32 statistics must resolve; the result must match fp32 statistics of the same bf16 values."""
    x = (300 + 0.5 * torch.randn(2, 4, 8, 8)).to(torch.bfloat16)
    for kind, reference in (
        ("batch_instance", lambda v: batch_instance_norm_train(v, torch.ones(4))),
        ("switchable", lambda v: switchable_norm_train(v, *[torch.full((3,), 1 / 3)] * 2)),
    ):
        norm = layer(kind, channels=4)
        with torch.autocast("cpu", torch.bfloat16):
            y = norm(x)
        assert y.dtype == torch.bfloat16
        torch.testing.assert_close(y.float(), reference(x.float()), atol=0.05, rtol=0.02)


def test_learned_norms_count_as_norm_layers_with_running_statistics():
    for kind in ("batch_instance", "switchable"):
        module = layer(kind)
        assert is_norm_layer(module) and uses_running_statistics(module)
        assert not uses_running_statistics(NormSpec(kind=kind, affine=True, track_running_stats=False)(4))


# ---- weight standardization ------------------------------------------------------------------


def test_standardized_kernels_have_zero_mean_and_unit_variance_per_output_channel():
    weight = torch.randn(8, 5, 3, 3) * 0.02 + 0.3
    standardized = standardize(weight)
    var, mean = torch.var_mean(standardized.flatten(1), dim=1, correction=0)
    torch.testing.assert_close(mean, torch.zeros(8), atol=1e-5, rtol=0)
    torch.testing.assert_close(var, torch.ones(8), atol=1e-3, rtol=0)
    torch.testing.assert_close(standardized, standardized_kernel(weight), atol=1e-5, rtol=0)


def test_weight_standardized_conv_equals_a_conv_with_reference_standardized_kernels():
    conv = WeightStandardizedConv2d(5, 8, 3, padding=1)
    x = torch.randn(2, 5, 12, 12)
    expected = F.conv2d(x, standardized_kernel(conv.weight.detach()), conv.bias.detach(), padding=1)
    torch.testing.assert_close(conv(x), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "network",
    [
        lambda norm: TransformerNet(norm, num_residual_blocks=2),
        lambda norm: ResnetGenerator(norm, ngf=8, n_blocks=2),
        lambda norm: ResnetGenerator(norm, ngf=8, n_blocks=2, upsampling="resize_conv"),
        lambda norm: PatchDiscriminator(norm, ndf=8),
        lambda norm: ConvNormActAutoencoder(norm, base_channels=8),
    ],
)
def test_every_conv_feeding_a_norm_layer_is_standardized_and_keys_do_not_change(network):
    net = network(NormSpec(kind="group", affine=True))
    keys = set(net.state_dict())
    x = torch.rand(1, 3, 64, 64)
    standardized = standardize_conv_weights(net)
    norm_layers = [m for m in net.modules() if is_norm_layer(m)]
    assert len(standardized) == len(norm_layers) > 0
    assert sum(is_weight_standardized(m) for m in net.modules()) == len(norm_layers)
    assert set(net.state_dict()) == keys
    y = net(x)
    assert y.shape[0] == 1 and torch.isfinite(y).all()


def test_weight_standardization_is_a_model_conv_option_and_refuses_norm_none():
    model = {"name": "autoencoder", "norm": {"kind": "group", "affine": True}, "network": {"base_channels": 8}}
    plain = build_networks(model)["autoencoder"]
    ws = build_networks({**model, "conv": {"weight_standardization": True}})["autoencoder"]
    assert not any(is_weight_standardized(m) for m in plain.modules())
    assert sum(is_weight_standardized(m) for m in ws.modules()) == 6
    with pytest.raises(ValueError, match=r"norm=none has none.*norm=group.*weight_standardization=false"):
        build_networks({**model, "norm": {"kind": "none"}, "conv": {"weight_standardization": True}})
    with pytest.raises(ValueError, match=r"Unknown model.conv key\(s\) \['weight_std'\]"):
        build_networks({**model, "conv": {"weight_std": True}})


def test_transposed_convs_are_standardized_over_their_output_axis():
    generator = ResnetGenerator(NormSpec(kind="group", affine=True), ngf=8, n_blocks=1)
    standardize_conv_weights(generator)
    transposed = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert transposed and all(is_weight_standardized(m) for m in transposed)
    module = transposed[0]
    x = torch.randn(1, module.in_channels, 5, 5)
    # reference: standardise each output channel's (in, kH, kW) kernel, then the plain op
    kernel = standardized_kernel(module.weight.detach().transpose(0, 1)).transpose(0, 1)
    expected = F.conv_transpose2d(x, kernel, module.bias, module.stride, module.padding, module.output_padding)
    torch.testing.assert_close(module(x), expected, atol=1e-4, rtol=0)


def test_learned_norms_count_batches_like_batch_norm():
    for kind in ("batch_instance", "switchable"):
        module, bn = layer(kind), layer("batch")
        for seed in range(3):
            module(activation(seed)), bn(activation(seed))
        assert int(module.num_batches_tracked) == int(bn.num_batches_tracked) == 3
        module.eval()
        module(activation())
        assert int(module.num_batches_tracked) == 3
