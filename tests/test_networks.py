"""Architectures: parameter counts of the papers, shapes, size rules, and norm injection."""

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

from stylenorm.networks import (
    ConvNormActAutoencoder,
    PatchDiscriminator,
    ResnetGenerator,
    TransformerNet,
    patchgan_output_size,
)
from stylenorm.nn.learned_norms import BatchInstanceNorm2d, SwitchableNorm2d
from stylenorm.nn.norm import NORM_KINDS, STYLE_CONDITIONED_KINDS, NormSpec, is_norm_layer

NETWORKS = [TransformerNet, ResnetGenerator, PatchDiscriminator, ConvNormActAutoencoder]
#: Norm slots of each network with default options (counted from the architectures' definitions).
NORM_SLOTS = {
    TransformerNet: 3 + 5 * 2 + 2,
    ResnetGenerator: 3 + 9 * 2 + 2,
    PatchDiscriminator: 3,
    ConvNormActAutoencoder: 2 + 2 + 2,
}
NORM_TYPES = {
    "instance": nn.InstanceNorm2d,
    "batch": nn.BatchNorm2d,
    "sync_batch": nn.SyncBatchNorm,
    "group": nn.GroupNorm,
    "layer": nn.GroupNorm,
    "batch_instance": BatchInstanceNorm2d,
    "switchable": SwitchableNorm2d,
}


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_anchor_parameter_counts():
    assert count(TransformerNet(NormSpec("instance", affine=True))) == 1_679_235
    assert count(ResnetGenerator(NormSpec("instance", affine=False))) == 11_378_179
    assert count(PatchDiscriminator(NormSpec("instance", affine=False))) == 2_764_737


def test_published_affine_defaults():
    assert count(TransformerNet("instance")) == 1_679_235  # affine on by default
    assert count(ResnetGenerator("instance")) == 11_378_179  # affine off by default
    assert count(PatchDiscriminator("instance")) == 2_764_737


def conv_params(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def test_autoencoder_parameter_count_follows_its_layout():
    base, depth = 16, 3
    net = ConvNormActAutoencoder(NormSpec("batch", affine=True), base_channels=base, bottleneck_depth=depth)
    wide = 2 * base
    convs = (
        conv_params(3, base, 3, False)
        + conv_params(base, wide, 3, False)
        + depth * conv_params(wide, wide, 3, False)
        + conv_params(wide, base, 3, False)
        + conv_params(base, base, 3, False)
        + conv_params(base, 3, 3)
    )
    norms = 2 * (base + wide + depth * wide + base + base)
    assert count(net) == convs + norms


@pytest.mark.parametrize("size", [(8, 8), (32, 48), (64, 36)])
@pytest.mark.parametrize("network", [TransformerNet, ResnetGenerator, ConvNormActAutoencoder])
def test_image_networks_keep_the_input_size(network, size):
    x = torch.rand(2, 3, *size)
    assert network("instance").eval()(x).shape == x.shape


def test_generator_and_autoencoder_output_ranges():
    x = torch.rand(1, 3, 16, 16)
    y = ResnetGenerator("batch", ngf=8, n_blocks=2).eval()(x * 2 - 1)
    assert y.abs().max() <= 1
    z = ConvNormActAutoencoder("none")(x)
    assert z.min() >= 0 and z.max() <= 1


@pytest.mark.parametrize(("size", "side"), [(256, 30), (128, 14), (70, 6), (24, 1), (100, 10)])
def test_patchgan_score_map_size(size, side):
    assert patchgan_output_size(size) == side
    out = PatchDiscriminator("instance", ndf=8)(torch.rand(1, 3, size, size))
    assert out.shape == (1, 1, side, side)


@pytest.mark.parametrize(
    ("network", "size"),
    [
        (TransformerNet, (30, 32)),
        (TransformerNet, (4, 4)),
        (ResnetGenerator, (32, 18)),
        (ResnetGenerator, (4, 8)),
        (ConvNormActAutoencoder, (6, 8)),
        (ConvNormActAutoencoder, (32, 33)),
    ],
)
def test_unsupported_sizes_are_rejected_with_the_rule(network, size):
    net = network("instance")
    with pytest.raises(ValueError, match=rf"multiples of {net.size_multiple} and at least {net.min_size}, got"):
        net(torch.rand(1, 3, *size))


def test_discriminator_rejects_too_small_images():
    with pytest.raises(ValueError, match="at least 24x24"):
        PatchDiscriminator("instance")(torch.rand(1, 3, 16, 16))


@pytest.mark.parametrize("kind", [k for k in NORM_KINDS if k not in STYLE_CONDITIONED_KINDS])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("network", NETWORKS)
def test_every_norm_layer_follows_the_config(network, kind, affine):
    net = network(NormSpec(kind=kind, affine=affine))
    layers = [m for m in net.modules() if is_norm_layer(m)]
    if kind == "none":
        assert layers == []
        return
    assert len(layers) == NORM_SLOTS[network]
    assert all(type(m) is NORM_TYPES[kind] for m in layers)
    assert all(m.affine is affine for m in layers)
    if kind == "layer":
        assert all(m.num_groups == 1 for m in layers)


def test_discriminator_can_have_its_own_norm():
    from stylenorm.networks import build_networks

    nets = build_networks(
        {
            "name": "cyclegan",
            "norm": {"kind": "instance"},
            "generator": {"ngf": 8, "n_blocks": 1},
            "discriminator": {"ndf": 8, "norm": "batch"},
        }
    )
    assert {type(m) for m in nets["G_AB"].modules() if is_norm_layer(m)} == {nn.InstanceNorm2d}
    assert {type(m) for m in nets["D_B"].modules() if is_norm_layer(m)} == {nn.BatchNorm2d}


def conv_layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


def test_conv_bias_rule():
    # TransformerNet: a bias on every conv whatever the norm.
    assert all(c.bias is not None for c in conv_layers(TransformerNet("batch")))
    for network in (ResnetGenerator, PatchDiscriminator, ConvNormActAutoencoder):
        # batch norm: only the convs not followed by a norm (first D conv, output convs) keep a bias
        with_bias = sum(c.bias is not None for c in conv_layers(network("batch")))
        assert with_bias == {ResnetGenerator: 1, PatchDiscriminator: 2, ConvNormActAutoencoder: 1}[network]
        for kind in ("instance", "group", "layer", "none"):
            assert all(c.bias is not None for c in conv_layers(network(kind)))
    assert all(c.bias is None for c in conv_layers(ResnetGenerator("instance", conv_bias=False))[:-1])


def test_resize_conv_upsampling_keeps_layer_indices():
    transpose = ResnetGenerator("instance", ngf=8, n_blocks=2)
    resize = ResnetGenerator("instance", ngf=8, n_blocks=2, upsampling="resize_conv")
    assert len(transpose.model) == len(resize.model)
    assert resize(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)
    assert isinstance(transpose.model[12], nn.ConvTranspose2d) and not isinstance(resize.model[12], nn.ConvTranspose2d)


def test_dropout_option():
    net = ResnetGenerator("instance", ngf=8, n_blocks=2, dropout=0.5)
    assert sum(isinstance(m, nn.Dropout) for m in net.modules()) == 2
    with pytest.raises(ValueError, match="dropout"):
        ResnetGenerator("instance", dropout=1.5)


def test_autoencoder_options():
    net = ConvNormActAutoencoder("group", base_channels=8, bottleneck_depth=4, activation="silu")
    assert len(net.bottleneck) == 4
    assert any(isinstance(m, nn.SiLU) for m in net.modules())
    with pytest.raises(ValueError, match="Unknown activation 'swish'"):
        ConvNormActAutoencoder("group", activation="swish")


def names_used(path: Path) -> set[str]:
    """Identifiers and attribute names in a module's code (not its strings or comments)."""
    tree = ast.parse(path.read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    return names


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return modules | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


def test_no_network_names_a_norm_class(repo_root: Path):
    """House rule: normalization is decided in stylenorm/nn/norm.py only."""
    norm_classes = {"InstanceNorm2d", "BatchNorm2d", "SyncBatchNorm", "GroupNorm", "LayerNorm"}
    offenders = {
        str(path.relative_to(repo_root)): sorted(names_used(path) & norm_classes)
        for path in (repo_root / "stylenorm").rglob("*.py")
        if path.name != "norm.py" and names_used(path) & norm_classes
    }
    assert offenders == {}


def test_networks_do_not_import_lightning_or_hydra(repo_root: Path):
    """House rule: networks are plain nn.Modules, easy to import, export and test."""
    for folder in ("networks", "nn"):
        for path in (repo_root / "stylenorm" / folder).glob("*.py"):
            top_level = {module.split(".")[0] for module in imported_modules(path)}
            assert not top_level & {"lightning", "pytorch_lightning", "hydra", "omegaconf"}, path
