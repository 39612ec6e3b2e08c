"""The study protocol (docs/ablations-protocol.md): learning rates per variant, the linear scaling rule,
paper GN at the presets' widths, the stages composed from the presets."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from conftest import REPO_ROOT
from stylenorm.protocol import best_lr, scaled_lr
from stylenorm.protocol.stages import extension_commands, final_stage_command, tuning_runs
from stylenorm.run_folder import register_resolvers

register_resolvers()  # the run-folder resolvers of configs/train.yaml, as train.py registers them
STUDY_PRESETS = ("ablation_autoencoder", "ablation_style", "ablation_cyclegan", "bn_vs_gn_small_batch")


def compose_preset(name, *overrides):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=[f"experiment={name}", *overrides], return_hydra_config=True)


# --- best_lr -------------------------------------------------------------------------------------


def test_best_lr_takes_the_best_mean_over_seeds_per_variant():
    rng = np.random.default_rng(0)
    rows = []
    for variant, best in (("batch", 3e-3), ("instance", 1e-3)):
        for lr in (3e-4, 1e-3, 3e-3):
            for seed in range(3):
                rows.append(
                    {
                        "variant": variant,
                        "lr": lr,
                        "seed": seed,
                        "metric": -abs(math.log(lr / best)) + rng.normal(0, 0.01),
                    }
                )
    frame = pd.DataFrame(rows)
    chosen = best_lr(frame).set_index("variant")
    means = frame.groupby(["variant", "lr"])["metric"].mean()  # the independent computation
    for variant in ("batch", "instance"):
        assert chosen.loc[variant, "lr"] == means[variant].idxmax()
        assert chosen.loc[variant, "mean"] == pytest.approx(means[variant].max())
        assert chosen.loc[variant, "seeds"] == 3
    assert chosen.loc["batch", "lr"] == 3e-3 and bool(chosen.loc["batch", "at_edge"])
    assert chosen.loc["instance", "lr"] == 1e-3 and not chosen.loc["instance", "at_edge"]
    lowest = best_lr(frame.assign(metric=-frame["metric"]), higher_is_better=False).set_index("variant")
    assert lowest.loc["batch", "lr"] == 3e-3  # a loss: the smallest mean wins


def test_best_lr_ties_go_to_the_smaller_lr_and_a_diverged_seed_ranks_last():
    frame = pd.DataFrame(
        [
            {"variant": "v", "lr": 1e-3, "seed": 0, "metric": 20.0},
            {"variant": "v", "lr": 1e-3, "seed": 1, "metric": 22.0},
            {"variant": "v", "lr": 2e-3, "seed": 0, "metric": 21.0},
            {"variant": "v", "lr": 2e-3, "seed": 1, "metric": 21.0},
            {"variant": "v", "lr": 4e-3, "seed": 0, "metric": 30.0},
            {"variant": "v", "lr": 4e-3, "seed": 1, "metric": math.nan},  # diverged
        ]
    )
    assert best_lr(frame)["lr"].item() == 1e-3  # 21 = 21: the smaller learning rate
    with pytest.raises(ValueError, match="Every learning rate of variant 'v' diverged"):
        best_lr(frame.assign(metric=math.inf))
    with pytest.raises(ValueError, match=r"best_lr needs the columns \['metric'\]"):
        best_lr(frame.drop(columns="metric"))


# --- the linear scaling rule ----------------------------------------------------------------------


def test_scaled_lr_follows_goyal_et_al():
    assert scaled_lr(1e-3, 1.0, 2, 16, "linear") == pytest.approx(1e-3 * 2 / 16)
    assert scaled_lr(1e-3, 0.5, 32, 16, "linear") == pytest.approx(1e-3)
    assert scaled_lr(1e-3, 2.0, 2, 16, "none") == pytest.approx(2e-3)
    with pytest.raises(ValueError, match="protocol.lr_scaling='sqrt': expected none"):
        scaled_lr(1e-3, 1.0, 2, 16, "sqrt")


@pytest.mark.integration
def test_bn_vs_gn_scales_the_lr_with_the_batch_and_can_leave_it_unscaled():
    for batch in (32, 16, 2):
        cfg = compose_preset("bn_vs_gn_small_batch", f"data.batch_size={batch}")
        assert cfg.model.lr == pytest.approx(1e-3 * batch / 16)
        unscaled = compose_preset("bn_vs_gn_small_batch", f"data.batch_size={batch}", "protocol.lr_scaling=none")
        assert unscaled.model.lr == pytest.approx(1e-3)


# --- paper GN at the presets' widths --------------------------------------------------------------


@pytest.mark.parametrize("name", STUDY_PRESETS)
def test_group_norm_of_every_study_preset_is_neither_instance_nor_layer_norm(name):
    """The rule: every GN layer has 2 <= groups <= channels / 2 (at least 2 channels per group, at
    least 2 groups), at Wu & He's 16 channels per group."""
    extra = ["model.vgg_weights=random"] if name == "ablation_style" else []
    cfg = compose_preset(name, "norm=group", *extra)
    task = instantiate(cfg.model, _convert_="all")
    layers = [m for m in task.modules() if isinstance(m, nn.GroupNorm)]
    assert layers
    for layer in layers:
        assert layer.num_channels // layer.num_groups == 16
        assert 2 <= layer.num_groups <= layer.num_channels // 2, (layer.num_groups, layer.num_channels)


# --- the stages, composed -------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("name", STUDY_PRESETS)
def test_stages_of_every_study_preset(name):
    shared = compose_preset(name)
    params = shared.hydra.sweeper.params
    assert shared.eval_split == "test" and shared.data.max_val_images is None
    assert params.seed == "0,1,2,3,4" and "protocol.lr_factor" not in params
    tune = compose_preset(name, "protocol=tune")
    assert tune.eval_split == "val" and tune.hydra.sweeper.params.seed == "100,101"
    assert len(str(tune.hydra.sweeper.params["protocol.lr_factor"]).split(",")) == 5
    assert "norm" in tune.hydra.sweeper.params  # the variants are swept too
    assert tune.hydra.sweep.dir.endswith(f"multirun/{name}-tune")
    final = compose_preset(name, "protocol=final", "protocol.lr=0.002", "protocol.variant=norm-batch")
    assert final.hydra.sweep.dir.endswith(f"multirun/{name}-final/norm-batch")
    assert final.eval_split == "test" and final.hydra.sweeper.params.seed == "0,1,2,3,4"
    expected = 0.002 * (final.data.batch_size / 16 if name == "bn_vs_gn_small_batch" else 1)
    assert final.model.lr == pytest.approx(expected)


# --- from a tuning sweep's folders to the final command --------------------------------------------


def fake_tuning_sweep(root, scores):
    """Run folders as a tuning sweep leaves them (.hydra/, metrics.csv, result.json): the files this
    module reads, with the metric values given."""
    for number, ((norm, factor, seed), (values, status)) in enumerate(scores.items()):
        job = root / f"{number}_norm-{norm}+protocol.lr_factor-{factor}+seed-{seed}"
        (job / ".hydra").mkdir(parents=True)
        overrides = ["experiment=ablation_autoencoder", "protocol=tune", "data.known_answer=mixture"]
        overrides += [f"norm={norm}", f"protocol.lr_factor={factor}", f"seed={seed}"]
        (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        config = {"seed": seed, "protocol": {"stage": "tune", "lr": 1e-3, "lr_factor": factor}}
        (job / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(config)))
        frame = pd.DataFrame({"step": range(len(values)), "val/psnr": values})
        frame.to_csv(job / "metrics.csv", index=False)
        (job / "result.json").write_text(json.dumps({"status": status, "metrics": {"val/psnr": values[-1]}}))


def test_final_stage_command_from_a_tuning_sweep(tmp_path):
    scores = {}
    for norm, best_factor in (("batch", 2), ("instance", 0.5)):
        for factor in (0.5, 1, 2):
            for seed in (100, 101):
                level = 20.0 - abs(math.log2(factor / best_factor))
                scores[(norm, factor, seed)] = ([0.0, level - 1, level, level + 1], "finished")
    scores[("batch", 2, 101)] = ([0.0, math.nan], "diverged")  # batch at 2x diverges once: 1x wins
    fake_tuning_sweep(tmp_path, scores)
    runs = tuning_runs(tmp_path, "val/psnr", last_k=3)
    assert sorted(runs["variant"].unique()) == ["norm=batch", "norm=instance"]
    for row in runs.itertuples():  # the mean of the last 3 validations: level - 1, level, level + 1
        factor, best_factor = row.lr / 1e-3, 2 if row.variant == "norm=batch" else 0.5
        if row.status == "diverged":
            assert math.isnan(row.metric)
        else:
            assert row.metric == pytest.approx(20.0 - abs(math.log2(factor / best_factor)))
    best = best_lr(runs).set_index("variant")
    assert best.loc["norm=batch", "lr"] == pytest.approx(1e-3) and best.loc["norm=instance", "lr"] == pytest.approx(
        5e-4
    )
    command = final_stage_command(best_lr(runs), runs)
    assert command.splitlines() == [
        "python train.py -m experiment=ablation_autoencoder data.known_answer=mixture protocol=final norm=batch "
        "protocol.lr=0.001 protocol.variant=norm-batch && \\",
        "python train.py -m experiment=ablation_autoencoder data.known_answer=mixture protocol=final norm=instance "
        "protocol.lr=0.0005 protocol.variant=norm-instance",
    ]
    assert "data.known_answer" not in final_stage_command(best_lr(runs), runs, drop=["data.known_answer"])
    # instance's best (0.5x) is the bottom of its grid: one step beyond it, into the same sweep folder
    assert extension_commands(best_lr(runs), runs, tmp_path) == [
        "python train.py -m experiment=ablation_autoencoder data.known_answer=mixture protocol=tune "
        f"protocol.lr_factor=0.25 norm=instance hydra.sweep.dir={tmp_path}"
    ]


def test_tuning_runs_of_an_empty_or_foreign_folder_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="No runs under"):
        tuning_runs(tmp_path, "val/psnr")
    (tmp_path / "job" / ".hydra").mkdir(parents=True)
    (tmp_path / "job" / ".hydra" / "overrides.yaml").write_text("[]\n")
    (tmp_path / "job" / ".hydra" / "config.yaml").write_text("seed: 0\n")
    with pytest.raises(ValueError, match="has no protocol settings"):
        tuning_runs(tmp_path, "val/psnr")


def test_final_stage_leaves_out_a_run_without_a_result_and_still_extends_the_edge(tmp_path, capsys):
    """A run still training (or killed by SIGKILL) has no result.json yet: its partial score must neither
    win nor mark its learning rate as tried, or the edge below it would pass as interior."""
    scores = {
        ("batch", factor, seed): ([0.0, 20.0 + factor], "finished") for factor in (0.5, 1, 2) for seed in (100, 101)
    }
    scores.update({("batch", 4, seed): ([0.0, 5.0], "finished") for seed in (100, 101)})  # 4x after a few steps
    fake_tuning_sweep(tmp_path, scores)
    for job in tmp_path.glob("*lr_factor-4+*"):
        (job / "result.json").unlink()  # what a run in progress looks like
    spec = importlib.util.spec_from_file_location("final_stage", REPO_ROOT / "scripts" / "final_stage.py")
    final_stage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(final_stage)
    assert final_stage.main([str(tmp_path), "--metric", "val/psnr", "--last-k", "1"]) == 0
    printed = capsys.readouterr()
    assert "2 run(s) left out" in printed.err and "incomplete" in printed.err
    assert "best lr 0.002 is at the edge of [0.0005, 0.001, 0.002]" in printed.err
    assert f"protocol=tune protocol.lr_factor=4 hydra.sweep.dir={tmp_path}" in printed.err  # run it to the end
    assert "protocol.lr=0.002" in printed.out
