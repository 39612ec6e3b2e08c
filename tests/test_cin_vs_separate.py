"""One 3-style conditional-instance-norm network against 3 one-style networks (Dumoulin, Shlens &
Kudlur 2017): the presets build the arms they promise, the runs log each style's losses under one
name, and the report compares style K of the one with style K of the other - and nothing else.

The report's statistics are checked against numbers computed here from the values written into
small synthetic event logs (Welch's t-test by its formula, scipy only for the t distribution).
"""

import functools
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from scipy import stats as scipy_stats

from conftest import REPO_ROOT
from stylenorm.run_record import hparam_key
from stylenorm.tasks import StyleTransferTask

PRESETS = ("cin_vs_separate", "cin_vs_separate_equal_steps_per_style")
ARM_KEY = "+experiment/cin_arm"
SEPARATE = ("separate_0", "separate_1", "separate_2")
TERMS = ("content", "style", "total")


def per_style_index(tag: str) -> int | None:
    """``val/style_2`` -> 2; other tags -> None."""
    match = re.fullmatch(r"val/(?:content|style|total)_(\d+)", tag)
    return int(match[1]) if match else None


@functools.cache  # composed once per arguments: the tests only read them
def compose_arm(preset: str, arm: str | None = None, *overrides: str):
    extra = [f"{ARM_KEY}={arm}"] if arm else []
    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        return compose("train", overrides=[f"experiment={preset}", *extra, *overrides], return_hydra_config=True)


def sweep(cfg) -> dict[str, list[str]]:
    return {key: str(value).split(",") for key, value in cfg.hydra.sweeper.params.items()}


# --- the presets ---------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("preset", PRESETS)
def test_preset_sweeps_the_four_arms_over_the_seeds_of_its_learning_rate_protocol(preset):
    cfg = compose_arm(preset)
    params = sweep(cfg)
    assert params == {"seed": ["0", "1", "2", "3", "4"], ARM_KEY: ["conditional", *SEPARATE]}
    assert cfg.model.lr == cfg.protocol.lr and cfg.eval_split == "test"  # shared: one rate, the test photos
    tune = compose_arm(preset, None, "protocol=tune")
    assert sweep(tune)["seed"] == ["100", "101"] and len(sweep(tune)["protocol.lr_factor"]) > 1
    assert tune.eval_split == "val"  # tuning never sees a test photo
    assert cfg.hydra.mode.name == "MULTIRUN" and cfg.model.name == "style"
    assert cfg.trainer.precision == "32-true"  # never `auto`: it differs between machines
    assert cfg.ablation.preset == preset and cfg.ablation.holds_equal
    assert cfg.ablation.primary_metric in StyleTransferTask.hparam_metrics
    assert not cfg.ablation.compare_within  # one reference: the conditional network


@pytest.mark.parametrize("preset", PRESETS)
def test_each_arm_is_the_network_it_names(preset):
    conditional = compose_arm(preset, "conditional")
    assert conditional.norm.kind == "conditional_instance" and conditional.data.num_styles == 3
    assert conditional.model.get("style_index") is None
    for index, arm in enumerate(SEPARATE):
        cfg = compose_arm(preset, arm)
        assert (cfg.norm.kind, cfg.norm.affine) == ("instance", True)  # the published one-style network
        assert cfg.model.style_index == index and cfg.data.num_styles == 1
        # Everything but the norm, the style(s) and the steps is the conditional arm's.
        for group in ("data", "model", "trainer"):
            mine, theirs = dict(cfg[group]), dict(conditional[group])
            for key in ("norm", "style_index", "style_image", "num_styles", "max_steps"):
                mine.pop(key, None), theirs.pop(key, None)
            assert mine == theirs, group


@pytest.mark.integration
def test_the_separate_arms_train_the_conditional_arms_styles_in_its_order(tmp_path):
    """separate_K's painting is the one the conditional network holds as row K (what makes the
    per-style comparison a comparison of one style)."""
    from hydra.utils import instantiate

    data_dir = f"paths.data_dir={tmp_path}"
    conditional = instantiate(compose_arm("cin_vs_separate", "conditional", data_dir).data)
    conditional.prepare_data()
    held = [Path(path).resolve() for path in conditional.style_images]
    assert len(held) == 3 and len(set(held)) == 3
    for index, arm in enumerate(SEPARATE):
        separate = instantiate(compose_arm("cin_vs_separate", arm, data_dir).data)
        assert [Path(path).resolve() for path in separate.style_images] == [held[index]]


def test_equal_total_steps_or_equal_steps_per_network_as_each_preset_says():
    steps = {
        preset: {arm: compose_arm(preset, arm).trainer.max_steps for arm in ("conditional", *SEPARATE)}
        for preset in PRESETS
    }
    total = steps["cin_vs_separate"]
    assert sum(total[arm] for arm in SEPARATE) == total["conditional"]  # one network's compute = three's
    assert len({total[arm] for arm in SEPARATE}) == 1
    per_network = steps["cin_vs_separate_equal_steps_per_style"]
    assert {per_network[arm] for arm in SEPARATE} == {per_network["conditional"]} == {total["conditional"]}
    for preset in PRESETS:  # the preset's own words name its steps
        words = compose_arm(preset).ablation.holds_equal
        assert str(steps[preset]["conditional"]) in words and str(steps[preset]["separate_0"]) in words


def test_the_reference_names_the_conditional_arm_only():
    cfg = compose_arm("cin_vs_separate")
    key, _, value = cfg.ablation.reference.partition("=")
    assert key == hparam_key("norm")
    kinds = {arm: compose_arm("cin_vs_separate", arm).norm.kind for arm in ("conditional", *SEPARATE)}
    assert [arm for arm, kind in kinds.items() if kind == value] == ["conditional"]


# --- what the runs log (two tiny real runs) --------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_arms(tmp_path_factory):
    """The conditional arm and separate_1, 2 steps each at 16 px: {arm: final metrics}, and LOGDIR."""
    from conftest import compose_offline_run
    from stylenorm.train import run

    root = tmp_path_factory.mktemp("tiny_arms")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a second thread mostly waits on a shared CPU
    try:
        metrics = {arm: run(compose_offline_run(root, *tiny_overrides(arm))) for arm in ("conditional", "separate_1")}
    finally:
        torch.set_num_threads(threads)
    return metrics, root / "logs"


def tiny_overrides(arm: str, *extra: str) -> list[str]:
    return [
        "experiment=cin_vs_separate",
        f"{ARM_KEY}={arm}",
        "model.vgg_weights=random",
        "data.image_size=16",
        "data.batch_size=2",
        "data.max_val_images=2",
        "cin_vs_separate.conditional_steps=2",
        "cin_vs_separate.separate_steps=2",
        "trainer.val_check_interval=2",
        "~callbacks.norm_statistics",
        *extra,
    ]


@pytest.mark.integration
def test_a_one_style_network_logs_its_losses_under_its_style_index(tiny_arms):
    metrics, _ = tiny_arms
    separate = metrics["separate_1"]
    for term in TERMS:
        assert separate[f"val/{term}_1"] == separate[f"val/{term}"]  # the same loss, the shared name
    assert not any(per_style_index(tag) not in (None, 1) for tag in separate)  # no other style's name


@pytest.mark.integration
def test_the_conditional_network_logs_every_styles_losses_and_their_means(tiny_arms):
    metrics, _ = tiny_arms
    conditional = metrics["conditional"]
    for term in TERMS:
        per_style = [conditional[f"val/{term}_{k}"] for k in range(3)]
        assert conditional[f"val/{term}"] == pytest.approx(sum(per_style) / 3, rel=1e-5)
    assert len({conditional[f"val/style_{k}"] for k in range(3)}) == 3  # three different styles scored


@pytest.mark.integration
def test_a_style_index_on_a_multi_style_network_is_refused(tmp_path):
    from conftest import compose_offline_run
    from stylenorm.train import run

    cfg = compose_offline_run(tmp_path, *tiny_overrides("conditional", "+model.style_index=0"))
    with pytest.raises(ValueError, match="style_index=0 names the one style of a one-style network"):
        run(cfg)


# --- the report on a synthetic sweep: the preset's claims pair style K with style K -------------------


@pytest.mark.parametrize("preset", PRESETS)
def test_the_claims_compare_style_k_of_the_conditional_network_with_the_style_k_network(preset, tmp_path):
    from stylenorm.report.evaluate import analyze
    from stylenorm.report.frame import read_runs
    from tests.report_runs import write_run

    ablation = yaml.safe_load((REPO_ROOT / "configs" / "experiment" / f"{preset}.yaml").read_text())["ablation"]
    rng = np.random.default_rng(0)
    style = {("conditional", k): rng.lognormal(6, 0.02, 3) for k in range(3)}
    style.update({(f"separate_{k}", k): rng.lognormal(6 + 0.5 * k, 0.02, 3) for k in range(3)})
    for arm in ("conditional", *SEPARATE):
        for seed in range(3):
            held = range(3) if arm == "conditional" else [int(arm[-1])]
            settings = {"seed": seed, "norm": {"kind": "conditional_instance" if arm == "conditional" else "instance"}}
            settings["model"] = {"name": "style", "style_index": None if arm == "conditional" else int(arm[-1])}
            curves = {f"val/style_{k}": [style[(arm, k)][seed]] * 3 for k in held}
            curves["val/style"] = [float(np.mean([style[(arm, k)][seed] for k in held]))] * 3  # never compared
            write_run(tmp_path, f"{arm}_{seed}", settings, curves, ablation=ablation)
    tests = analyze(read_runs(tmp_path)).tests.set_index("metric")
    assert sorted(tests.index) == ["val/style_0", "val/style_1", "val/style_2"]
    for k in range(3):
        a, b = np.log(style[("conditional", k)]), np.log(style[(f"separate_{k}", k)])
        ref = (
            scipy_stats.ttest_rel(a, b)
            if tests.loc[f"val/style_{k}", "method"] == "paired t"
            else scipy_stats.ttest_ind(a, b, equal_var=False)
        )
        assert tests.loc[f"val/style_{k}", "p"] == pytest.approx(ref.pvalue)
        assert tests.loc[f"val/style_{k}", "estimate"] == pytest.approx(
            math.exp(np.mean(a - b) if "paired" in tests.loc[f"val/style_{k}", "method"] else a.mean() - b.mean())
        )
    assert (tests["n_a"] == 3).all() and (tests["n_b"] == 3).all()
    assert tests.loc["val/style_0", "verdict"] == "supported"  # one distribution, sd 2% against a 25% margin
    assert tests.loc["val/style_2", "verdict"] == "contradicted"  # e^-1: the one network is far better
