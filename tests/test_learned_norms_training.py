"""The learned norms and weight standardization through `train.py`'s path: batch-instance gates stay
in [0, 1] and move, the learned mixtures are logged per layer, and a WS checkpoint loads for
inference with the same outputs as the trained network."""

import pandas as pd
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from test_training import compose_run, data_dir  # noqa: F401  (data_dir is a fixture)

from stylenorm import train
from stylenorm.inference import load_stylizer
from stylenorm.nn.norm import has_learned_mixture
from stylenorm.nn.weight_standardization import is_weight_standardized
from stylenorm.report.cli import main as report_main


def mixture_scalars(log_dir):
    accumulator = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: accumulator.Scalars(tag) for tag in accumulator.Tags()["scalars"] if tag.startswith("norm_mix/")}


@pytest.mark.integration
def test_batch_instance_gates_are_projected_logged_and_learn(tmp_path, data_dir, keep_task):  # noqa: F811
    cfg = compose_run(
        tmp_path,
        data_dir,
        "autoencoder",
        "norm=batch_instance",
        "data.batch_size=4",
        "trainer.max_steps=12",
        "model.lr=1e-2",
        "callbacks.norm_statistics.every_n_steps=4",
    )
    train.run(cfg)
    layers = [m for m in keep_task["task"].autoencoder.modules() if has_learned_mixture(m)]
    rho = torch.cat([m.rho.detach() for m in layers])
    assert len(layers) == 6
    # the gate starts at 1 (batch norm); projection keeps it in [0, 1] while it learns
    assert rho.max() <= 1 and rho.min() >= 0, (rho.min(), rho.max())
    assert (rho < 0.99).any(), "no gate moved away from batch norm in 12 steps at lr 1e-2"
    scalars = mixture_scalars(cfg.paths.run_dir)
    rho_tags = sorted(tag for tag in scalars if tag.endswith("/rho"))
    assert len(rho_tags) == 6 and all(tag.startswith("norm_mix/autoencoder/") for tag in rho_tags)
    for tag in rho_tags:
        assert [event.step for event in scalars[tag]] == [0, 4, 8]
        assert scalars[tag][0].value == pytest.approx(1.0)
        assert all(0 <= event.value <= 1 for event in scalars[tag])
    # the report's steps.csv.gz carries every layer's gate at every logged step (metrics.csv, recomputable)
    assert report_main([str(tmp_path / "logs"), "--out", str(tmp_path / "report"), "--no-tensorboard"]) == 0
    steps = pd.read_csv(tmp_path / "report" / "steps.csv.gz")
    for tag in rho_tags:
        logged = steps[steps["metric"] == tag].sort_values("step")
        assert logged["step"].tolist() == [0, 4, 8]
        assert logged["value"].tolist() == pytest.approx([event.value for event in scalars[tag]])


@pytest.mark.integration
def test_switchable_weights_are_logged_per_layer_and_sum_to_one(tmp_path, data_dir):  # noqa: F811
    cfg = compose_run(
        tmp_path,
        data_dir,
        "cyclegan",
        "norm=switchable",
        "data.batch_size=2",
        "trainer.max_steps=4",
        "callbacks.norm_statistics.every_n_steps=2",
        "callbacks.norm_statistics.histograms=false",
    )
    train.run(cfg)
    scalars = mixture_scalars(cfg.paths.run_dir)
    assert {tag.split("/")[1] for tag in scalars} == {"G_AB", "G_BA", "D_A", "D_B"}
    layer_paths = {tag.rsplit("/", 2)[0] for tag in scalars}
    for layer in layer_paths:
        for part in ("mean_weight", "var_weight"):
            weights = [scalars[f"{layer}/{part}/{kind}"][-1].value for kind in ("instance", "layer", "batch")]
            assert sum(weights) == pytest.approx(1.0, abs=1e-5), (layer, part, weights)


@pytest.mark.integration
def test_a_weight_standardized_run_checkpoints_and_stylizes_like_the_trained_network(
    tmp_path,
    data_dir,  # noqa: F811
    keep_task,
):
    cfg = compose_run(
        tmp_path,
        data_dir,
        "autoencoder",
        "norm=group",
        "model.conv.weight_standardization=true",
        "data.batch_size=2",
        "trainer.max_steps=4",
    )
    train.run(cfg)
    trained = keep_task["task"].autoencoder.eval()
    assert sum(is_weight_standardized(m) for m in trained.modules()) == 6
    stylizer = load_stylizer(f"{cfg.paths.run_checkpoint_dir}/last.ckpt", device="cpu")
    assert sum(is_weight_standardized(m) for m in stylizer.network.modules()) == 6
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(stylizer.network(x), trained(x))
