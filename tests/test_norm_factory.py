"""The normalization factory builds exactly what each config asks for, and says so when it cannot."""

import pytest
import torch
from torch import nn

from stylenorm.nn.learned_norms import BatchInstanceNorm2d, SwitchableNorm2d
from stylenorm.nn.norm import BATCH_STATISTICS_KINDS, NORM_KINDS, NormSpec, auto_num_groups, is_norm_layer


def test_kinds_cover_the_product_card():
    assert set(NORM_KINDS) == {
        "instance",
        "batch",
        "sync_batch",
        "group",
        "layer",
        "batch_instance",
        "switchable",
        "conditional_instance",
        "none",
    }


@pytest.mark.parametrize(
    ("kind", "expected_type"),
    [
        ("instance", nn.InstanceNorm2d),
        ("batch", nn.BatchNorm2d),
        ("sync_batch", nn.SyncBatchNorm),
        ("group", nn.GroupNorm),
        ("layer", nn.GroupNorm),
        ("batch_instance", BatchInstanceNorm2d),
        ("switchable", SwitchableNorm2d),
        ("none", nn.Identity),
    ],
)
@pytest.mark.parametrize("affine", [True, False])
def test_each_kind_builds_its_torch_module(kind, expected_type, affine):
    layer = NormSpec(kind=kind, affine=affine)(64)
    assert type(layer) is expected_type
    if kind != "none":
        assert layer.affine is affine
        assert (layer.weight is not None) is affine
        assert is_norm_layer(layer)
    else:
        assert not is_norm_layer(layer)


def test_layer_is_one_group_and_group_follows_auto_rule():
    assert NormSpec(kind="layer", affine=True)(48).num_groups == 1
    assert NormSpec(kind="group", affine=True)(48).num_groups == 16
    assert NormSpec(kind="group", affine=True, num_groups=4)(48).num_groups == 4


@pytest.mark.parametrize(
    ("channels", "groups"),
    # the table printed by the GroupNorm notebook (seed 002)
    [(24, 8), (32, 32), (48, 16), (64, 32), (96, 32), (128, 32), (160, 32), (192, 32), (256, 32), (3, 1), (6, 2)],
)
def test_auto_group_rule_of_the_seed(channels, groups):
    assert auto_num_groups(channels) == groups


def test_group_count_that_does_not_divide_names_layer_and_channels():
    with pytest.raises(ValueError, match=r"down1\.norm.*num_groups=5.*48 channels"):
        NormSpec(kind="group", affine=True, num_groups=5)(48, name="down1.norm")


def test_running_stats_defaults_and_overrides():
    assert NormSpec(kind="instance", affine=False)(8).track_running_stats is False
    assert NormSpec(kind="batch", affine=False)(8).track_running_stats is True
    assert NormSpec(kind="instance", affine=False, track_running_stats=True)(8).track_running_stats is True
    assert NormSpec(kind="batch", affine=False, track_running_stats=False)(8).track_running_stats is False


def test_eps_and_momentum_reach_the_layer():
    layer = NormSpec(kind="batch", affine=True, eps=1e-3, momentum=0.3)(8)
    assert (layer.eps, layer.momentum) == (1e-3, 0.3)
    assert NormSpec(kind="group", affine=True, eps=1e-4)(8).eps == 1e-4


def test_from_config_accepts_mappings_and_names_and_rejects_typos():
    assert NormSpec.from_config({"kind": "group", "affine": True, "num_groups": 8, "eps": "1e-5"}).eps == 1e-5
    assert NormSpec.from_config("layer").kind == "layer"
    with pytest.raises(ValueError, match="Unknown norm config key.*'afine'"):
        NormSpec.from_config({"kind": "batch", "afine": True})
    with pytest.raises(ValueError, match="Unknown norm kind 'instnace'.*instance, batch"):
        NormSpec.from_config("instnace")
    with pytest.raises(ValueError, match="affine must be true, false or null"):
        NormSpec(kind="batch", affine="yes")
    with pytest.raises(ValueError, match="num_groups must be a positive int or 'auto'"):
        NormSpec(kind="group", num_groups=0)


def test_unresolved_affine_is_an_error_not_a_silent_default():
    with pytest.raises(ValueError, match="affine is unresolved"):
        NormSpec(kind="instance")(8)
    assert NormSpec(kind="instance").with_default_affine(True).affine is True
    assert NormSpec(kind="instance", affine=False).with_default_affine(True).affine is False


def test_conv_bias_rule():
    absorbs_bias = {"batch", "sync_batch", "batch_instance"}
    assert {k: NormSpec(kind=k).conv_bias for k in NORM_KINDS} == {k: k not in absorbs_bias for k in NORM_KINDS}


def test_sync_batch_norm_runs_like_batch_norm_outside_ddp():
    x = torch.randn(4, 8, 5, 5)
    sync = NormSpec(kind="sync_batch", affine=False)(8)
    plain = NormSpec(kind="batch", affine=False)(8)
    torch.testing.assert_close(sync(x), plain(x))


@pytest.mark.parametrize("kind", NORM_KINDS)
def test_batch_statistics_kinds_are_those_whose_training_output_depends_on_the_batch(kind):
    layer = NormSpec(kind=kind, affine=True)(4).train()
    batch = torch.randn(2, 4, 5, 5)
    other = batch.clone()
    other[1] = other[1] * 3 + 2  # change the second sample only
    depends_on_batch = not torch.allclose(layer(batch)[0], layer(other)[0])
    assert depends_on_batch == (kind in BATCH_STATISTICS_KINDS)


@pytest.mark.parametrize(("channels", "groups"), [(16, 1), (32, 2), (64, 4), (512, 32)])
def test_channels_per_group_fixes_the_group_size(channels, groups):
    layer = NormSpec(kind="group", affine=True, channels_per_group=16)(channels)
    assert (layer.num_groups, layer.num_channels) == (groups, channels)


def test_channels_per_group_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"enc1\.norm: norm.channels_per_group=16 does not divide its 24 channels"):
        NormSpec(kind="group", affine=True, channels_per_group=16)(24, name="enc1.norm")
    with pytest.raises(ValueError, match="both fix the groups; set one"):
        NormSpec(kind="group", num_groups=32, channels_per_group=16)
    with pytest.raises(ValueError, match="channels_per_group must be a positive int or null"):
        NormSpec(kind="group", channels_per_group=0)


def test_channels_per_group_is_stored_only_when_set():
    assert "channels_per_group" not in NormSpec(kind="group").to_dict()
    spec = NormSpec.from_config({"kind": "group", "channels_per_group": 16, "num_groups": "auto"})
    assert spec.to_dict()["channels_per_group"] == 16
