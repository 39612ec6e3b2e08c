"""One 3-style conditional-instance-norm network against 3 one-style networks (Dumoulin, Shlens &
Kudlur 2017): the presets build the arms they promise, the runs log each style's losses under one
name, and the report compares style K of the one with style K of the other - and nothing else.

The report's statistics are checked against numbers computed here from the values written into
small synthetic event logs (Welch's t-test by its formula, scipy only for the t distribution).
"""

import functools
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from scipy import stats as scipy_stats
from torch.utils.tensorboard import SummaryWriter

from conftest import REPO_ROOT
from stylenorm.report.cli import main
from stylenorm.report.styles import comparable, measures, per_style_index, styles_held
from stylenorm.run_record import hparam_key
from stylenorm.tasks import StyleTransferTask

PRESETS = ("cin_vs_separate", "cin_vs_separate_equal_steps_per_style")
ARM_KEY = "+experiment/cin_arm"
SEPARATE = ("separate_0", "separate_1", "separate_2")


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
def test_preset_sweeps_the_four_arms_over_three_seeds_with_its_protocol(preset):
    cfg = compose_arm(preset)
    params = sweep(cfg)
    assert params == {ARM_KEY: ["conditional", *SEPARATE], "seed": ["0", "1", "2"]}
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
def test_the_runs_record_which_styles_they_hold(tiny_arms):
    from stylenorm.report import collect_runs
    from stylenorm.report.variants import group_variants

    _, logdir = tiny_arms
    runs = collect_runs(logdir)
    held = {run.hparams["norm/kind"]: styles_held(run.hparams) for run in runs}
    assert held == {"conditional_instance": {0, 1, 2}, "instance": {1}}
    assert len(group_variants(runs)) == 2


@pytest.mark.integration
def test_a_style_index_on_a_multi_style_network_is_refused(tmp_path):
    from conftest import compose_offline_run
    from stylenorm.train import run

    cfg = compose_offline_run(tmp_path, *tiny_overrides("conditional", "+model.style_index=0"))
    with pytest.raises(ValueError, match="style_index=0 names the one style of a one-style network"):
        run(cfg)


# --- which styles a network holds ----------------------------------------------------------------


def test_styles_held_and_what_may_be_compared():
    conditional = {"norm/kind": "conditional_instance", "norm/num_styles": 3, "style_index": None}
    separate_1 = {"norm/kind": "instance", "style_index": 1}
    plain = {"norm/kind": "instance", "style_index": "None"}  # how hparams.yaml records "no index"
    assert styles_held(conditional) == {0, 1, 2} and styles_held(separate_1) == {1} and styles_held(plain) is None
    assert per_style_index("val/style_12") == 12 and per_style_index("val/style") is None
    assert per_style_index("val/psnr_AtoB") is None and per_style_index("train/style_1") is None
    assert measures(separate_1, "val/style_1") and not measures(separate_1, "val/content_2")
    assert measures(plain, "val/style_2") and measures(separate_1, "val/contrast_invariance_l1")
    for tag in ("val/style_1", "val/content_1", "val/total_1"):
        assert comparable(separate_1, conditional, tag)
    for tag in ("val/style", "val/content", "val/total", "train/loss", "val/style_0", "val/style_2"):
        assert not comparable(separate_1, conditional, tag), tag
    assert comparable(plain, conditional, "val/style")  # unknown styles: compared as before
    assert comparable({"style_index": 0}, {"style_index": 0}, "val/style")


# --- the report on a synthetic sweep ---------------------------------------------------------------

SEEDS = (0, 1, 2)
TERMS = ("content", "style", "total")


def _values(rng: np.random.Generator, centre: float) -> dict[str, float]:
    content, style = centre * 0.4 + rng.normal(0, 5), centre + rng.normal(0, 20)
    values = {"content": content, "style": style, "total": content + style}
    return {term: float(np.float32(value)) for term, value in values.items()}  # event files hold float32


def _write_run(folder: Path, hparams: dict, scalars: dict[str, list[tuple[int, float]]]) -> None:
    writer = SummaryWriter(log_dir=str(folder))
    for tag, series in scalars.items():
        for step, value in series:
            writer.add_scalar(tag, value, step)
    writer.close()
    (folder / "hparams.yaml").write_text(yaml.safe_dump(hparams, sort_keys=False))
    last = max(step for series in scalars.values() for step, _ in series)
    (folder / "result.json").write_text(json.dumps({"status": "finished", "global_step": last, "metrics": {}}))


@pytest.fixture(scope="module")
def synthetic_sweep(tmp_path_factory):
    """A cin_vs_separate sweep as its runs record it (hparams of the preset's arms), with made-up
    losses: returns LOGDIR and the final per-style values written, {arm: {tag: [seed 0, 1, 2]}}."""
    root = tmp_path_factory.mktemp("cin_vs_separate") / "logs"
    rng = np.random.default_rng(13)
    protocol = {f"ablation/{key}": str(value or "") for key, value in compose_arm("cin_vs_separate").ablation.items()}
    finals: dict[str, dict[str, list[float]]] = {}
    centres = {0: 1000.0, 1: 1100.0, 2: 9000.0}  # style 2 is far harder than the others
    for arm in ("conditional", *SEPARATE):
        cfg = compose_arm("cin_vs_separate", arm)
        steps = cfg.trainer.max_steps
        hparams = {
            "model": "style",
            "norm/kind": cfg.norm.kind,
            "norm/affine": True,
            **({"norm/num_styles": 3} if arm == "conditional" else {}),
            # As hparams.yaml records it: a missing index is written as the string "None".
            "style_index": cfg.model.get("style_index", "None"),
            "trainer/max_steps": steps,
            "trainer/precision": "32-true",
            "data/batch_size": 4,
            **protocol,
        }
        styles = range(3) if arm == "conditional" else [cfg.model.style_index]
        for seed in SEEDS:
            scalars: dict[str, list[tuple[int, float]]] = {}
            means = {term: 0.0 for term in TERMS}
            for index in styles:
                early = _values(rng, centres[index] * 3)
                late = _values(rng, centres[index] + (150 if arm == "conditional" and index == 2 else 0))
                for term in TERMS:
                    tag = f"val/{term}_{index}"
                    scalars[tag] = [(steps // 2, early[term]), (steps, late[term])]
                    finals.setdefault(arm, {}).setdefault(tag, []).append(late[term])
                    means[term] += late[term] / len(styles)
            for term in TERMS:
                scalars[f"val/{term}"] = [(steps // 2, 3 * means[term]), (steps, means[term])]
            scalars["val/bn_train_eval_gap"] = [(steps // 2, 0.0), (steps, 0.0)]
            scalars["train/loss"] = [(steps, means["total"])]
            name = f"style/{cfg.norm.kind}-affine_true,experiment_cin_arm={arm},seed={seed}/version_0"
            _write_run(root / name, {**hparams, "seed": seed}, scalars)
    return root, finals


def welch_p(a: list[float], b: list[float]) -> float:
    """Two-sided Welch t-test, by its formula."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.mean(a) - statistics.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return 2 * scipy_stats.t.sf(abs(t), df)


@pytest.fixture(scope="module")
def synthetic_report(synthetic_sweep, tmp_path_factory):
    logdir, _ = synthetic_sweep
    out = tmp_path_factory.mktemp("report")
    assert main([str(logdir), "--out", str(out), "--no-layout"]) == 0
    import csv

    with (out / "ablation.csv").open() as handle:
        rows = {row["variant"]: row for row in csv.DictReader(handle)}
    return out, rows


def holm_by_hand(p: list[float]) -> list[float]:
    """Holm's step-down adjustment: the i-th smallest of m times (m - i + 1), running maximum, at most 1."""
    order = sorted(range(len(p)), key=p.__getitem__)
    adjusted, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, p[i] * (len(p) - rank)))
        adjusted[i] = running
    return adjusted


@pytest.mark.integration
def test_report_pairs_style_k_of_the_conditional_network_with_the_style_k_network(synthetic_sweep, synthetic_report):
    _, finals = synthetic_sweep
    _, rows = synthetic_report
    conditional = next(label for label in rows if label.startswith("conditional_instance"))
    assert rows[conditional]["reference"] == conditional
    # Holm's family of a per-style term is its three styles: "worse on any style?" asked three times.
    adjusted = {
        term: holm_by_hand(
            [
                welch_p(finals[arm][f"val/{term}_{k}"], finals["conditional"][f"val/{term}_{k}"])
                for k, arm in enumerate(SEPARATE)
            ]
        )
        for term in TERMS
    }
    for index, arm in enumerate(SEPARATE):
        label = next(label for label, row in rows.items() if row["style_index"] == str(index))
        row = rows[label]
        assert row["reference"] == conditional and int(row["runs"]) == len(SEEDS)
        for term in TERMS:
            tag = f"val/{term}_{index}"
            mine, theirs = finals[arm][tag], finals["conditional"][tag]
            assert float(row[f"{tag}_mean"]) == pytest.approx(statistics.mean(mine), rel=1e-6)
            assert float(row[f"{tag}_std"]) == pytest.approx(statistics.stdev(mine), rel=1e-5)
            assert int(row[f"{tag}_n"]) == len(SEEDS)
            assert float(row[f"{tag}_diff"]) == pytest.approx(statistics.mean(mine) - statistics.mean(theirs), rel=1e-5)
            p, p_holm = welch_p(mine, theirs), adjusted[term][index]
            assert float(row[f"{tag}_p"]) == pytest.approx(p, rel=1e-4)
            assert float(row[f"{tag}_p_holm"]) == pytest.approx(p_holm, rel=1e-4)
            better = statistics.mean(mine) < statistics.mean(theirs)  # losses: lower is better
            expected = "not significant" if p_holm >= 0.05 else ("better" if better else "worse")
            assert row[f"{tag}_verdict"] == expected
            assert float(rows[conditional][f"{tag}_mean"]) == pytest.approx(statistics.mean(theirs), rel=1e-6)
        for other in set(range(3)) - {index}:  # a style this network does not hold: no cell at all
            assert row[f"val/style_{other}_n"] == "" and row[f"val/style_{other}_p"] == ""
        # Means over 3 styles are not tested against one style's loss; the style-free gap is.
        for tag in ("val/style", "val/content", "val/total", "train/loss"):
            assert row[f"{tag}_n"] == "3" and row[f"{tag}_p"] == "" and row[f"{tag}_verdict"] == ""
        assert row["rank"] == ""  # no ranking across networks holding different styles
        assert row["convergence"] in ("plateaued", "still improving", "still getting worse")


@pytest.mark.integration
def test_report_lists_no_run_as_left_out_and_says_why_some_metrics_are_not_compared(synthetic_report):
    out, _ = synthetic_report
    markdown = (out / "ablation.md").read_text()
    left_out = markdown.split("## Runs left out\n")[1].split("\n## ")[0]
    assert "None: every run is averaged into every metric it logged." in left_out
    assert "compared only on the per-style metrics" in markdown and "no rank" in markdown
    assert "val/style_K: val/style_0, val/style_1, val/style_2" in markdown  # Holm's family, named
    comparisons = markdown.split("## Comparisons\n")[1].split("\n## ")[0]
    tested = {line.split("|")[1].strip() for line in comparisons.splitlines()[3:] if line.startswith("|")}
    assert {f"val/{term}_{k}" for term in TERMS for k in range(3)} <= tested
    assert not tested & {"val/style", "val/content", "val/total", "train/loss"}
