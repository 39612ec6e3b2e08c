"""The claim-testing measurements return known values on known inputs."""

import torch

from stylenorm.networks import ConvNormActAutoencoder
from stylenorm.nn.norm import NormSpec
from stylenorm.tasks.probes import batch_statistics, has_running_statistics, illumination_shift, train_eval_gap


def test_illumination_shift_is_gain_and_offset():
    x = torch.tensor([0.0, 0.5, 1.0])
    torch.testing.assert_close(illumination_shift(x), torch.tensor([0.15, 0.45, 0.75]))
    torch.testing.assert_close(illumination_shift(x, gain=2.0, offset=0.0), torch.tensor([0.0, 1.0, 1.0]))


def test_batch_statistics_uses_the_batch_and_leaves_running_stats_alone():
    bn = NormSpec("batch", affine=False)(3).eval()
    x = torch.randn(4, 3, 5, 5) * 3 + 2
    before = (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())
    with batch_statistics(bn):
        y = bn(x)
        assert bn.training
    assert not bn.training and bn.momentum == 0.1
    torch.testing.assert_close(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5, rtol=0)  # batch stats
    for saved, now in zip(before, (bn.running_mean, bn.running_var, bn.num_batches_tracked), strict=True):
        torch.testing.assert_close(saved, now)


def test_train_eval_gap_is_zero_without_running_statistics_and_exact_with_them():
    x = torch.rand(4, 3, 16, 16)
    instance = ConvNormActAutoencoder("instance", base_channels=8)
    assert not has_running_statistics(instance)
    assert train_eval_gap(instance, instance, x) == 0.0

    batch = ConvNormActAutoencoder("batch", base_channels=8)
    assert has_running_statistics(batch)
    batch.train()(x * 3)  # running stats now differ from the statistics of x
    batch.eval()
    with torch.no_grad():
        eval_out = batch(x)
        batch.train()
        for m in batch.modules():
            if hasattr(m, "momentum"):
                m.momentum = 0.0
        train_out = batch(x)
        batch.eval()
    expected = (train_out - eval_out).abs().mean().item()
    fresh = ConvNormActAutoencoder("batch", base_channels=8)
    fresh.load_state_dict(batch.state_dict())
    assert abs(train_eval_gap(fresh, fresh, x) - expected) < 1e-6
    assert expected > 1e-3
