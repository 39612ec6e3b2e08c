"""The NormStatistics callback: the statistics it computes, and what a real tiny run logs."""

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_training import compose_run, data_dir  # noqa: F401  (data_dir is a fixture)
from torch import nn

from stylenorm import train
from stylenorm.callbacks import NormStatistics, activation_statistics
from stylenorm.callbacks.norm_statistics import select_layers
from stylenorm.nn.norm import NormSpec


def event_tags(log_dir: str) -> tuple[EventAccumulator, set[str], set[str]]:
    accumulator = EventAccumulator(log_dir, size_guidance={"scalars": 0, "histograms": 0})
    accumulator.Reload()
    return accumulator, set(accumulator.Tags()["scalars"]), set(accumulator.Tags()["histograms"])


def test_activation_statistics_match_a_direct_computation():
    x = torch.randn(3, 4, 5, 6) * 2 + 0.5
    stats = activation_statistics(x, num_groups=2)
    direct = {
        "mean": x.mean(),
        "std": x.std(unbiased=False),
        "instance_abs_mean": x.mean((2, 3)).abs().mean(),
        "instance_std": x.var((2, 3), unbiased=False).sqrt().mean(),
        "channel_abs_mean": x.mean((0, 2, 3)).abs().mean(),
        "channel_std": x.var((0, 2, 3), unbiased=False).sqrt().mean(),
        "sample_abs_mean": x.mean((1, 2, 3)).abs().mean(),
        "sample_std": x.var((1, 2, 3), unbiased=False).sqrt().mean(),
        "group_abs_mean": x.reshape(3, 2, -1).mean(2).abs().mean(),
        "group_std": x.reshape(3, 2, -1).var(2, unbiased=False).sqrt().mean(),
    }
    assert stats.keys() == direct.keys()
    for key, value in direct.items():
        assert stats[key] == pytest.approx(value.item(), rel=1e-5, abs=1e-6), key
    half = activation_statistics(x.bfloat16())
    assert all(isinstance(v, float) for v in half.values())
    assert half["std"] == pytest.approx(stats["std"], rel=1e-2)


@pytest.mark.parametrize(
    ("kind", "normalised"), [("instance", "instance"), ("batch", "channel"), ("layer", "sample"), ("group", "group")]
)
def test_each_kind_normalises_its_own_statistics(kind, normalised):
    layer = NormSpec(kind=kind, affine=False)(8).train()
    x = torch.randn(4, 8, 16, 16) * 3 + 2
    stats = activation_statistics(layer(x), num_groups=getattr(layer, "num_groups", None))
    assert stats[f"{normalised}_abs_mean"] == pytest.approx(0, abs=1e-3)
    assert stats[f"{normalised}_std"] == pytest.approx(1, abs=1e-3)
    before = activation_statistics(x)
    assert before["sample_abs_mean"] > 1 and before["sample_std"] > 2  # the input was not normalised


def test_layer_selection_and_bad_config_errors():
    layers = [(str(i), nn.Identity()) for i in range(7)]
    assert [n for n, _ in select_layers(layers, "first_last")] == ["0", "6"]
    assert [n for n, _ in select_layers(layers[:1], "first_last")] == ["0"]
    assert len(select_layers(layers, "all")) == 7
    assert [n for n, _ in select_layers(layers, 3)] == ["0", "3", "6"]
    assert [n for n, _ in select_layers(layers, 4)] == ["0", "4", "6"]
    with pytest.raises(ValueError, match="every_n_steps"):
        NormStatistics(every_n_steps=0)
    with pytest.raises(ValueError, match="first_last"):
        NormStatistics(layers="some")


@pytest.mark.integration
def test_instance_norm_run_logs_normalised_statistics_and_removes_hooks(tmp_path, data_dir, keep_task):  # noqa: F811
    cfg = compose_run(
        tmp_path,
        data_dir,
        "autoencoder",
        "norm=instance",
        "norm.affine=false",
        "data.batch_size=2",
        "trainer.max_steps=4",
        "callbacks.norm_statistics.every_n_steps=2",
    )
    train.run(cfg)
    accumulator, scalar_tags, histogram_tags = event_tags(cfg.paths.run_dir)
    ours = {tag for tag in scalar_tags if tag.startswith("norm_stats/")}
    layers = sorted({tag.rsplit("/", 2)[0] for tag in ours if "/after/" in tag})
    assert len(layers) == 2 and all(layer.startswith("norm_stats/autoencoder/") for layer in layers), layers
    suffixes = ["input_mean", "input_std", "output_mean", "output_std"] + [
        f"{side}/{prefix}_{stat}"
        for side in ("before", "after")
        for prefix in ("instance", "channel", "sample")
        for stat in ("abs_mean", "std")
    ]
    first = layers[0].removesuffix("/after")
    assert {f"{first}/{suffix}" for suffix in suffixes} <= ours
    assert {f"{first}/after/channel_means", f"{first}/before/channel_stds"} <= histogram_tags
    std = accumulator.Scalars(f"{first}/after/instance_std")
    assert [event.step for event in std] == [0, 2]
    assert std[0].value == pytest.approx(1, abs=1e-3)
    assert accumulator.Scalars(f"{first}/after/instance_abs_mean")[0].value == pytest.approx(0, abs=1e-3)
    assert all(not module._forward_hooks for module in keep_task["task"].modules())


@pytest.mark.integration
def test_cyclegan_records_each_layer_once_per_step(tmp_path, data_dir, keep_task):  # noqa: F811
    """G_AB runs three times per batch (fake, cycle, identity); one value per tag per step."""
    cfg = compose_run(
        tmp_path,
        data_dir,
        "cyclegan",
        "data.batch_size=1",
        "trainer.max_steps=4",
        "callbacks.norm_statistics.every_n_steps=2",
        "callbacks.norm_statistics.histograms=false",
    )
    train.run(cfg)
    accumulator, scalar_tags, histogram_tags = event_tags(cfg.paths.run_dir)
    networks = {tag.split("/")[1] for tag in scalar_tags if tag.startswith("norm_stats/")}
    assert networks == {"G_AB", "G_BA", "D_A", "D_B"}
    for tag in (t for t in scalar_tags if t.startswith("norm_stats/G_AB/")):
        assert [event.step for event in accumulator.Scalars(tag)] == [0, 2], tag
    assert not any(tag.startswith("norm_stats/") for tag in histogram_tags)
    assert all(not module._forward_hooks for module in keep_task["task"].modules())
