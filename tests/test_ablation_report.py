"""The ablation report end to end on synthetic run folders in the run layout (tests/report_runs.py):
claims in, verdicts out, checked against scipy on the same numbers."""

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from stylenorm.report.claims import ClaimError, parse_claims
from stylenorm.report.cli import main
from stylenorm.report.evaluate import analyze
from stylenorm.report.frame import ReportError, RunTable, read_runs
from tests.report_runs import sweep, write_run


def claim(**changes):
    base = {
        "id": "a_beats_b",
        "sentence": "A beats B.",
        "source": "a test",
        "metrics": ["val/psnr"],
        "comparison": {"type": "difference", "a": {"norm.kind": "batch"}, "b": {"norm.kind": "group"}},
        "expect": "greater",
        "smallest_effect": 0.5,
        "family": "main",
        "budget": "600 steps",
    }
    return {**base, **changes}


def two_variants(root, a, b, claims, **extra):
    groups = {"norm-batch": ({"norm": {"kind": "batch"}}, a), "norm-group": ({"norm": {"kind": "group"}}, b)}
    groups.update(extra)
    sweep(root, groups, {"preset": "test", "score_last_k": 3, "claims": claims})
    return analyze(read_runs(root))


def test_identical_variants_are_never_different(tmp_path):
    values = np.random.default_rng(0).normal(20, 0.5, 5)
    claims = [claim(), claim(id="same", expect="equivalent", smallest_effect=1.0, family="other")]
    tests = two_variants(tmp_path, values, values, claims).tests.set_index("claim")
    assert tests.loc["a_beats_b", "outcome"] == "inconclusive"
    assert tests.loc["same", "outcome"] == "equivalent"


def test_variants_from_one_distribution_are_not_called_different(tmp_path):
    rng = np.random.default_rng(7)
    claims = [claim(pairing="seed")]
    tests = two_variants(tmp_path, rng.normal(20, 0.5, 5), rng.normal(20, 0.5, 5), claims).tests
    assert tests.loc[0, "outcome"] in ("inconclusive", "equivalent")
    assert tests.loc[0, "detectable"] > 0.5  # with 5 seeds of sd 0.5 no effect under ~1 dB is findable


def test_a_difference_of_three_seed_sds_with_ten_seeds_is_different(tmp_path):
    rng = np.random.default_rng(1)
    a, b = rng.normal(23.0, 1.0, 10), rng.normal(20.0, 1.0, 10)
    row = two_variants(tmp_path, a, b, [claim()]).tests.iloc[0]
    ref = stats.ttest_ind(a, b, equal_var=False)
    assert (row["outcome"], row["verdict"]) == ("different", "supported")
    assert row["estimate"] == pytest.approx(a.mean() - b.mean())
    assert row["p"] == pytest.approx(ref.pvalue)
    assert (row["low"], row["high"]) == tuple(pytest.approx(v) for v in ref.confidence_interval())


def test_a_difference_against_the_expectation_contradicts_the_claim(tmp_path):
    rng = np.random.default_rng(2)
    row = two_variants(tmp_path, rng.normal(17, 0.3, 6), rng.normal(20, 0.3, 6), [claim()]).tests.iloc[0]
    assert (row["outcome"], row["verdict"]) == ("different", "contradicted")


def test_an_equivalence_margin_smaller_than_the_noise_is_inconclusive(tmp_path):
    rng = np.random.default_rng(3)
    claims = [claim(expect="equivalent", smallest_effect=0.1)]
    row = two_variants(tmp_path, rng.normal(20, 1.0, 4), rng.normal(20, 1.0, 4), claims).tests.iloc[0]
    assert (row["outcome"], row["verdict"]) == ("inconclusive", "inconclusive")
    assert row["detectable"] > 1.0  # the margin this n could establish, in dB


def test_holm_runs_within_a_declared_family_only(tmp_path):
    rng = np.random.default_rng(4)
    a, b = rng.normal(21.0, 1.0, 5), rng.normal(20.0, 1.0, 5)
    alone = two_variants(tmp_path / "one", a, b, [claim()]).tests
    crowded = two_variants(
        tmp_path / "two", a, b, [claim(), claim(id="other", family="elsewhere"), claim(id="twin", family="main")]
    ).tests.set_index("claim")
    assert alone.loc[0, "p_adjusted"] == pytest.approx(alone.loc[0, "p"])
    assert crowded.loc["other", "p_adjusted"] == pytest.approx(crowded.loc["other", "p"])  # its own family
    assert crowded.loc["a_beats_b", "p_adjusted"] == pytest.approx(min(1, 2 * crowded.loc["a_beats_b", "p"]))


def test_variants_outside_every_claim_are_described_not_tested(tmp_path):
    rng = np.random.default_rng(5)
    extra = {"norm-layer": ({"norm": {"kind": "layer"}}, rng.normal(25, 0.2, 3))}
    analysis = two_variants(tmp_path, rng.normal(20, 1, 3), rng.normal(20, 1, 3), [claim()], **extra)
    assert len(analysis.tests) == 1
    main([str(tmp_path), "--out", str(tmp_path / "out"), "--no-tensorboard"])
    variants = pd.read_csv(tmp_path / "out" / "variants.csv")
    assert set(variants["norm.kind"]) == {"batch", "group", "layer"}


def test_paired_seeds_use_the_paired_test_when_they_correlate(tmp_path):
    rng = np.random.default_rng(6)
    common = rng.normal(0, 2, 5)
    a, b = 20.5 + common + rng.normal(0, 0.1, 5), 20 + common + rng.normal(0, 0.1, 5)
    row = two_variants(tmp_path, a, b, [claim(pairing="seed")]).tests.iloc[0]
    assert row["method"] == "paired t"
    assert row["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert row["verdict"] == "supported"


def test_a_constant_side_falls_back_to_welch_and_says_why(tmp_path):
    """IN's train/eval gap is exactly 0 on every seed: no correlation exists, so the pairing cannot be used."""
    a, b = np.random.default_rng(7).normal(0.12, 0.03, 5), np.zeros(5)
    row = two_variants(tmp_path, a, b, [claim(pairing="seed")]).tests.iloc[0]
    assert row["method"] == "Welch t (pairing declared, no seed correlation: a side is constant)"
    assert row["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_log_scale_claims_give_a_ratio_interval_above_zero(tmp_path):
    rng = np.random.default_rng(8)
    a, b = np.exp(rng.normal(-6, 1.5, 5)), np.exp(rng.normal(-3, 0.2, 5))
    claims = [claim(expect="less", log_scale=True, smallest_effect=2.0)]
    row = two_variants(tmp_path, a, b, claims).tests.iloc[0]
    ref = stats.ttest_ind(np.log(a), np.log(b), equal_var=False).confidence_interval()
    assert (row["low"], row["high"]) == (pytest.approx(math.exp(ref.low)), pytest.approx(math.exp(ref.high)))
    assert 0 < row["low"] < row["estimate"] < row["high"] < 1


def test_trend_claim_fits_the_interaction_of_norm_and_log2_batch(tmp_path):
    rng = np.random.default_rng(9)
    groups, x, y, g = {}, [], [], []
    for batch in (2, 4, 8, 16, 32):
        for kind, slope in (("batch", 0.8), ("group", 0.0)):
            values = 20 + slope * math.log2(batch) + rng.normal(0, 0.3, 3)
            groups[f"{kind}-{batch}"] = ({"norm": {"kind": kind}, "data": {"batch_size": batch}}, values)
            x += [math.log2(batch)] * 3
            y += list(values)
            g += [kind == "batch"] * 3
    trend = {
        "type": "trend",
        "factor": "data.batch_size",
        "scale": "log2",
        "a": {"norm.kind": "batch"},
        "b": {"norm.kind": "group"},
    }
    flat = {"type": "trend", "factor": "data.batch_size", "scale": "log2", "a": {"norm.kind": "group"}}
    claims = [
        claim(comparison=trend, smallest_effect=0.25),
        claim(id="flat", comparison=flat, expect="equivalent", smallest_effect=0.25),
    ]
    sweep(tmp_path, groups, {"preset": "test", "claims": claims})
    tests = analyze(read_runs(tmp_path)).tests.set_index("claim")
    x, y, g = np.array(x), np.array(y), np.array(g)
    ra, rb = stats.linregress(x[g], y[g]), stats.linregress(x[~g], y[~g])
    assert tests.loc["a_beats_b", "estimate"] == pytest.approx(ra.slope - rb.slope)
    assert tests.loc["a_beats_b", "verdict"] == "supported"
    assert tests.loc["flat", "estimate"] == pytest.approx(rb.slope)
    assert tests.loc["flat", "verdict"] == "supported"


def test_a_difference_selector_catching_several_variants_is_refused(tmp_path):
    groups = {
        f"{kind}-{batch}": ({"norm": {"kind": kind}, "data": {"batch_size": batch}}, [20, 21, 22])
        for kind in ("batch", "group")
        for batch in (2, 8)
    }
    sweep(tmp_path, groups, {"preset": "test", "claims": [claim()]})
    with pytest.raises(ReportError, match=r"comparison.a selects runs of 2 variants.*within: \['data.batch_size'\]"):
        analyze(read_runs(tmp_path))
    table = read_runs(tmp_path)
    table.ablation["claims"] = [claim(comparison={**claim()["comparison"], "within": ["data.batch_size"]})]
    assert list(analyze(table).tests["level"]) == ["data.batch_size=2", "data.batch_size=8"]


def test_crashed_diverged_and_non_finite_runs_are_listed_not_averaged(tmp_path):
    ablation = {"preset": "test", "claims": [claim()]}
    for seed, (kind, status, last) in enumerate(
        [("batch", "finished", 21), ("batch", "finished", 22), ("batch", "crashed", 99),
         ("batch", "finished", float("nan")), ("group", "finished", 20), ("group", "finished", 20.5),
         ("group", "diverged", 99), ("group", "incomplete", 99)]
    ):  # fmt: skip
        settings = {"seed": seed, "norm": {"kind": kind}}
        write_run(
            tmp_path, f"{seed}_{kind}", settings, {"val/psnr": [19, last, last, last]}, status=status, ablation=ablation
        )
    analysis = analyze(read_runs(tmp_path))
    row = analysis.tests.iloc[0]
    assert (row["n_a"], row["n_b"]) == (2, 2)
    assert row["estimate"] == pytest.approx(21.5 - 20.25)
    left = analysis.left_out.set_index("run")
    assert set(left.index) == {"2_batch", "3_batch", "6_group", "7_group"}
    assert left.loc["3_batch", "metric"] == "val/psnr" and "non-finite" in left.loc["3_batch", "reason"]
    assert left.loc["7_group", "reason"].startswith("incomplete")


def test_score_is_the_mean_of_the_last_k_validations(tmp_path):
    ablation = {"preset": "test", "score_last_k": 2, "claims": []}
    write_run(tmp_path, "0_run", {"norm": {"kind": "batch"}}, {"val/psnr": [10, 20, 30, 41]}, ablation=ablation)
    analysis = analyze(read_runs(tmp_path))
    assert analysis.scores.loc["0_run", "val/psnr"] == pytest.approx(35.5)


def test_report_folder_round_trips_through_its_csvs(tmp_path):
    rng = np.random.default_rng(10)
    first = two_variants(tmp_path / "logs", rng.normal(21, 1, 4), rng.normal(20, 1, 4), [claim(pairing="seed")])
    assert main([str(tmp_path / "logs"), "--out", str(tmp_path / "out"), "--no-tensorboard"]) == 0
    again = analyze(RunTable.read(tmp_path / "out"))
    pd.testing.assert_frame_equal(first.tests, again.tests)
    for name in ("runs.csv", "steps.csv.gz", "claims.yaml", "tests.csv", "report.md", "curves.png", "forest.png"):
        assert (tmp_path / "out" / name).is_file(), name
    steps = pd.read_csv(tmp_path / "out" / "steps.csv.gz")
    assert set(steps.columns) == {"run", "step", "metric", "value"} and len(steps) == 8 * 6


def test_runs_for_different_claims_are_not_mixed(tmp_path):
    write_run(
        tmp_path,
        "0_a",
        {"norm": {"kind": "batch"}},
        {"val/psnr": [1, 2]},
        ablation={"preset": "x", "claims": [claim()]},
    )
    write_run(
        tmp_path, "1_b", {"norm": {"kind": "group"}}, {"val/psnr": [1, 2]}, ablation={"preset": "x", "claims": []}
    )
    with pytest.raises(ReportError, match="different ablation protocols"):
        read_runs(tmp_path)


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    write_run(
        tmp_path / "logs",
        "0_a",
        {"norm": {"kind": "batch"}},
        {"val/psnr": [1, 2]},
        ablation={"preset": "x", "claims": [claim(expect="better")]},
    )
    assert main([str(tmp_path / "logs"), "--out", str(tmp_path / "out"), "--no-tensorboard"]) == 2
    assert "expect must be one of ('greater', 'less', 'equivalent'), got 'better'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"source": None}, r"missing \['source'\]"),
        ({"smallest_effect": -1}, "smallest_effect must be a positive number"),
        ({"smallest_effect": 0.9, "log_scale": True}, "a ratio > 1"),
        ({"comparison": {"type": "difference", "a": {"norm.kind": "batch"}}}, "give comparison.b"),
        ({"comparison": {"type": "trend", "a": {"norm.kind": "batch"}}}, "needs comparison.factor"),
        ({"comparison": {"type": "ratio", "a": {"x": 1}}}, "comparison.type must be one of"),
        ({"comparison": {"type": "difference", "a": {"x": 1}, "b": {"x": 1}}}, "select the same runs"),
        ({"pairing": "yes"}, "pairing must be one of"),
        ({"plateau": {"val/ssim": 0.1}}, r"plateau names \['val/ssim'\], not among metrics"),
        ({"colour": "red"}, r"unknown keys \['colour'\]"),
    ],
)
def test_claim_errors_name_the_claim_and_the_fix(change, message):
    with pytest.raises(ClaimError, match=message) as error:
        parse_claims([claim(**change)], "my_preset")
    assert str(error.value).startswith("my_preset claim 'a_beats_b'")


def test_claim_ids_are_unique():
    with pytest.raises(ClaimError, match="used twice"):
        parse_claims([claim(), claim()], "p")


def test_every_preset_declares_valid_claims():
    from pathlib import Path

    presets = Path(__file__).resolve().parent.parent / "configs" / "experiment"
    declared = {}
    for path in sorted(presets.glob("*.yaml")):
        ablation = (yaml.safe_load(path.read_text()) or {}).get("ablation") or {}
        declared[path.stem] = parse_claims(ablation.get("claims"), path.stem)
    assert all(
        declared[p] for p in ("ablation_autoencoder", "ablation_cyclegan", "bn_vs_gn_small_batch", "cin_vs_separate")
    )
    assert all(c.source for claims in declared.values() for c in claims)


def test_a_claim_whose_variants_were_not_run_is_named_not_tested(tmp_path):
    other = claim(id="colour", where={"data.known_answer": "colour_grade"})
    task = {"known_answer": "exposure"}
    groups = {
        "norm-batch": ({"norm": {"kind": "batch"}, "data": task}, [20, 21, 22]),
        "norm-group": ({"norm": {"kind": "group"}, "data": task}, [19, 20, 21]),
    }
    sweep(tmp_path, groups, {"preset": "test", "claims": [claim(), other]})
    analysis = analyze(read_runs(tmp_path))
    assert list(analysis.tests["claim"]) == ["a_beats_b"]
    assert analysis.absent == [("colour", "val/psnr")]


@pytest.mark.integration  # a subprocess: a clean interpreter is the only honest way to see what gets imported
def test_the_report_imports_no_network_torch_or_lightning_code():
    """Layering: the report reads files; it must run where the training stack is not installed."""
    import subprocess
    import sys

    modules = ", ".join(f"stylenorm.report.{m}" for m in ("cli", "docs", "evaluate", "figures", "aggregate"))
    code = f"import sys, {modules}; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning')"
    code += " or m.startswith('stylenorm.nn')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def summarize_across_tasks(logs, spec):
    """The report's across-task summary of the runs under ``logs`` (variants named without the task), and
    the analysis it came from."""
    from stylenorm.report.aggregate import across_tasks
    from stylenorm.report.tensorboard import variant_labels

    analysis = analyze(read_runs(logs))
    settings = analysis.table.runs.set_index("run").loc[analysis.scores.index]
    labels = variant_labels(analysis.table, leave_out=(spec["task"],))
    return (*across_tasks(analysis.scores, settings, labels, spec), analysis)


@pytest.mark.integration
def test_across_tasks_gives_iqm_of_normalised_scores_and_probability_of_improvement(tmp_path):
    rng = np.random.default_rng(11)
    spec = {"task": "data.known_answer", "metric": "val/psnr", "nothing": "val/psnr_identity_baseline"}
    values = {}
    for t, (task, centre) in enumerate((("exposure", 20.0), ("colour_grade", 15.0))):
        for k, kind in enumerate(("instance", "batch")):
            values[(task, kind)] = (
                centre + (2.0 if (kind == "instance") == (task == "exposure") else 0) + rng.normal(0, 1, 5)
            )
            for seed, value in enumerate(values[(task, kind)]):
                curves = {"val/psnr": [value] * 3, "val/psnr_identity_baseline": [10.0] * 3}
                settings = {"seed": seed, "norm": {"kind": kind}, "data": {"known_answer": task}}
                write_run(tmp_path, f"{t}{k}_{seed}", settings, curves, ablation={"preset": "x", "across_tasks": spec})
    iqm, improvement, chosen, analysis = summarize_across_tasks(tmp_path, spec)
    normalised = []
    for task in ("exposure", "colour_grade"):
        best = max(values[(task, "instance")].mean(), values[(task, "batch")].mean())
        normalised += list((values[(task, "instance")] - 10.0) / (best - 10.0))
    assert iqm.set_index("variant").loc["kind=instance", "IQM"] == pytest.approx(stats.trim_mean(normalised, 0.25))
    expected = np.mean(
        [
            stats.mannwhitneyu(values[(t, "instance")], values[(t, "batch")]).statistic / 25
            for t in ("exposure", "colour_grade")
        ]
    )
    assert improvement.loc["kind=instance", "kind=batch"].startswith(f"{expected:.2f} [")
    assert chosen == {"tasks": ["colour_grade", "exposure"], "left_out_variants": [], "left_out_tasks": []}
    assert "## Across tasks" in __import__("stylenorm.report.document", fromlist=["render"]).render(
        analysis, [], [], "##"
    )


def test_claims_from_a_preset_file_for_runs_that_recorded_none(tmp_path):
    rng = np.random.default_rng(12)
    two_variants(tmp_path / "logs", rng.normal(22, 0.3, 3), rng.normal(20, 0.3, 3), [])
    preset = tmp_path / "preset.yaml"
    preset.write_text(yaml.safe_dump({"ablation": {"claims": [claim()]}}))
    assert (
        main([str(tmp_path / "logs"), "--out", str(tmp_path / "out"), "--claims", str(preset), "--no-tensorboard"]) == 0
    )
    assert pd.read_csv(tmp_path / "out" / "tests.csv")["verdict"].tolist() == ["supported"]
    assert f"from `{preset}` (--claims), not recorded by the runs" in (tmp_path / "out" / "report.md").read_text()


def test_a_significant_effect_smaller_than_what_matters_is_flagged(tmp_path):
    a, b = 20.1 + np.arange(10) * 0.001, 20.0 + np.arange(10) * 0.001  # 0.1 dB, no noise to speak of
    row = two_variants(tmp_path, a, b, [claim(smallest_effect=0.5)]).tests.iloc[0]
    assert (row["verdict"], row["matters"]) == ("supported", "no")


def test_a_selector_key_no_run_has_is_refused(tmp_path):
    bad = claim(comparison={"type": "difference", "a": {"norm.knd": "batch"}, "b": {"norm.kind": "group"}})
    with pytest.raises(ReportError, match=r"names \['norm.knd'\], which no run's config has"):
        two_variants(tmp_path, [20, 21, 22], [19, 20, 21], [bad])


def test_a_resumed_runs_relogged_steps_count_once_with_the_later_value(tmp_path):
    folder = write_run(
        tmp_path, "0_run", {"norm": {"kind": "batch"}}, {"val/psnr": [10, 20, 30]}, ablation={"preset": "x"}
    )
    with open(folder / "metrics.csv", "a") as csv:  # interrupted after step 200's checkpoint, resumed
        csv.write("2,33.0,300\n3,40.0,400\n")
    table = read_runs(tmp_path)
    assert table.steps["step"].tolist() == [100, 200, 300, 400]
    assert table.steps["value"].tolist() == [10, 20, 33, 40]


CLAIMED_PRESETS = [
    "ablation_autoencoder",
    "ablation_cyclegan",
    "ablation_style",
    "bn_eval_gap",
    "bn_vs_gn_small_batch",
    "bn_vs_gn_small_batch_equal_steps",
    "cin_vs_separate",
    "cin_vs_separate_equal_steps_per_style",
]


@pytest.mark.integration
@pytest.mark.parametrize("preset", CLAIMED_PRESETS)
def test_every_key_a_preset_claim_names_is_in_its_composed_config(preset):
    """Claims are declared before the runs, so a typo must fail here, not in the report of a finished sweep."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from conftest import REPO_ROOT
    from stylenorm.report.frame import flatten

    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={preset}"], return_hydra_config=True)
        # a sweep over added config groups (cin_vs_separate's arms) adds keys: compose each arm too
        added = {k: str(v).split(",") for k, v in cfg.hydra.sweeper.params.items() if k.startswith("+")}
        arms = [compose("train", overrides=[f"experiment={preset}", f"{k}={v}"]) for k, vs in added.items() for v in vs]
    keys = set()
    for composed in [cfg, *arms]:
        keys |= set(flatten(OmegaConf.to_container(composed, resolve=False)))
    claims = parse_claims(OmegaConf.to_container(cfg.ablation.claims), preset)
    assert claims
    for c in claims:
        named = {*c.where, *c.comparison.a, *(c.comparison.b or {}), *c.comparison.within}
        named |= {c.comparison.factor} if c.comparison.factor else set()
        assert named <= keys, (c.id, named - keys)


@pytest.mark.integration
def test_across_tasks_keeps_the_variants_run_on_every_task_and_tasks_doing_nothing_can_score(tmp_path):
    spec = {"task": "data.known_answer", "metric": "val/psnr", "nothing": "val/psnr_identity_baseline"}
    rng = np.random.default_rng(12)
    grid = [(task, kind) for task in ("exposure", "colour_grade", None) for kind in ("instance", "batch")]
    for t, (task, kind) in enumerate([*grid, ("exposure", "layer")]):
        nothing = math.inf if task is None else 10.0  # reconstruction: the input is the answer
        for seed in range(5):
            curves = {"val/psnr": [20 + rng.normal()] * 3, "val/psnr_identity_baseline": [nothing] * 3}
            settings = {"seed": seed, "norm": {"kind": kind}, "data": {"known_answer": task}}
            write_run(tmp_path, f"{t}_{seed}", settings, curves, ablation={"preset": "x", "across_tasks": spec})
    iqm, _, chosen, _ = summarize_across_tasks(tmp_path, spec)
    assert sorted(iqm["variant"]) == ["kind=batch", "kind=instance"]
    assert chosen == {"tasks": ["colour_grade", "exposure"], "left_out_variants": ["kind=layer"],
                      "left_out_tasks": ["null"]}  # fmt: skip


def test_convergence_names_each_variant_that_has_not_plateaued_as_changing_or_unresolved(tmp_path):
    # per seed (steps 100..600): flat at the end, rising 5 dB per 1000 steps, or flat but too noisy to tell
    shapes = {
        "batch": lambda seed: [20.0 + seed] * 6,
        "group": lambda seed: [20.0 + seed + 0.5 * i for i in range(6)],
        "layer": lambda seed: [20.0 + seed + (2.0 if (i + seed) % 2 else -2.0) for i in range(6)],
    }
    against_layer = {"type": "difference", "a": {"norm.kind": "batch"}, "b": {"norm.kind": "layer"}}
    claims = [
        claim(plateau={"val/psnr": 0.5}),
        claim(id="vs_layer", plateau={"val/psnr": 0.5}, comparison=against_layer),
    ]
    ablation = {"preset": "test", "score_last_k": 3, "claims": claims}
    for kind, shape in shapes.items():
        for seed in range(3):
            settings = {"seed": seed, "norm": {"kind": kind}, "model": {"name": "autoencoder"}}
            write_run(tmp_path, f"{kind}_{seed}", settings, {"val/psnr": shape(seed)}, ablation=ablation)
    convergence = analyze(read_runs(tmp_path)).tests.set_index("claim")["convergence"]  # A = batch: plateaued
    assert convergence["a_beats_b"].startswith("still changing: kind=group (+5 [")
    assert "batch" not in convergence["a_beats_b"] and "unresolved" not in convergence["a_beats_b"]
    assert convergence["vs_layer"].startswith("unresolved: kind=layer (")
