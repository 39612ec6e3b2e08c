"""The ablation report's statistics, grouping and left-out rules, against independent computations.

Numbers are synthetic and checked against the statistics module, numpy, a t-table value, a
hand-worked Welch-Satterthwaite example and a hand-worked Holm example; the analysis is run on
in-memory runs (no training, no files), so every case - identical variants, a large difference,
n = 1, NaN, crashed, repeats, references within batch size, convergence - is a few lines.
"""

import math
import statistics
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from stylenorm.report.analysis import analyze
from stylenorm.report.convergence import IMPROVING, PLATEAUED, WORSENING, late_change
from stylenorm.report.document import markdown_report, ranks
from stylenorm.report.runs import ReportError, RunSummary
from stylenorm.report.stats import (
    BETTER,
    N_TOO_SMALL,
    NOT_SIGNIFICANT,
    WORSE,
    holm,
    summarize,
    verdict,
    welch,
)
from stylenorm.report.variants import group_variants

T_975_DF2 = 4.302653  # two-sided 95% Student t quantile, 2 degrees of freedom (printed tables)
T_975_DF1 = 12.706205


# --- statistics -----------------------------------------------------------------------------------


def test_summary_matches_statistics_module_and_t_table():
    values = [1.0, 2.0, 4.0]
    summary = summarize(values)
    mean, sd = statistics.mean(values), statistics.stdev(values)  # stdev: the n - 1 estimate
    half = T_975_DF2 * sd / math.sqrt(len(values))
    assert summary.n == 3
    assert summary.mean == pytest.approx(mean, rel=1e-12)
    assert summary.std == pytest.approx(sd, rel=1e-12)
    assert summary.ci_low == pytest.approx(mean - half, rel=1e-6)
    assert summary.ci_high == pytest.approx(mean + half, rel=1e-6)
    two = summarize([3.0, 5.0])
    assert two.ci_high - two.mean == pytest.approx(T_975_DF1 * statistics.stdev([3.0, 5.0]) / math.sqrt(2), rel=1e-6)


def test_summary_small_and_flat_samples():
    one = summarize([7.5])
    assert (one.n, one.mean) == (1, 7.5) and math.isnan(one.std) and math.isnan(one.ci_low)
    empty = summarize([])
    assert empty.n == 0 and math.isnan(empty.mean)
    flat = summarize([2.0, 2.0, 2.0])
    assert (flat.std, flat.ci_low, flat.ci_high) == (0.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="non-finite"):
        summarize([1.0, float("nan")])


def _welch_by_hand(a, b):
    """t, Welch-Satterthwaite df and two-sided p, from the textbook formulas."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    t = (statistics.mean(a) - statistics.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return t, df, 2 * scipy_stats.t.sf(abs(t), df)


def test_welch_matches_hand_computed_welch_satterthwaite():
    # Equal variances (0.0233) and n: df = 2n - 2 = 4; t = -4.9333 / sqrt(2 * 0.02333 / 3) = -39.56.
    a, b = [10.0, 10.2, 9.9], [15.1, 14.8, 15.0]
    t, df, p = _welch_by_hand(a, b)
    assert df == pytest.approx(4.0) and t == pytest.approx(-39.555, abs=1e-3)
    test = welch(a, b)
    assert test.p == pytest.approx(p, rel=1e-9) and test.p < 1e-5
    assert test.difference == pytest.approx(statistics.mean(a) - statistics.mean(b))
    # Unequal: var 1.667 (n 4) vs 13 (n 3): se^2 = 0.4167 + 4.333 = 4.75, df = 4.75^2 / 9.4468 = 2.388.
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 9.0]
    t, df, p = _welch_by_hand(a, b)
    assert df == pytest.approx(2.3884, abs=1e-4) and t == pytest.approx(-1.14708, abs=1e-5)
    assert welch(a, b).p == pytest.approx(p, rel=1e-9)


def test_welch_edge_cases():
    small = welch([1.0], [2.0, 3.0])
    assert small.p is None and "n too small" in small.note
    same = welch([2.0, 2.0], [2.0, 2.0, 2.0])
    assert same.p == 1.0 and same.difference == 0.0
    apart = welch([2.0, 2.0], [3.0, 3.0])
    assert apart.p == 0.0 and apart.difference == -1.0 and "deterministic" in apart.note
    one_flat = welch([2.0, 2.0, 2.0], [1.0, 3.0, 5.0])  # only one side without spread: a real t-test
    _, _, p = _welch_by_hand([2.0, 2.0, 2.0], [1.0, 3.0, 5.0])
    assert one_flat.p == pytest.approx(p) and 0.3 < one_flat.p < 0.7
    assert welch([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]).p == pytest.approx(1.0)


def test_holm_worked_example():
    # m = 4, sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max
    # 0.02, 0.03, 0.06, 0.06; back in the given order:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # 0.5 x 2 = 1 caps both
    assert holm([0.2]) == [0.2] and holm([]) == []
    with pytest.raises(ValueError):
        holm([float("nan")])


def test_verdict_directions():
    assert verdict(+1.0, 0.01, 0.05, higher_is_better=True) == BETTER
    assert verdict(+1.0, 0.01, 0.05, higher_is_better=False) == WORSE
    assert verdict(-1.0, 0.01, 0.05, higher_is_better=False) == BETTER
    assert verdict(-1.0, 0.05, 0.05, higher_is_better=True) == NOT_SIGNIFICANT  # not below alpha
    assert verdict(-1.0, None, 0.05, higher_is_better=True) == N_TOO_SMALL


# --- in-memory runs --------------------------------------------------------------------------------

CONSTANT = {"model": "autoencoder", "lr": 0.001, "beta1": 0.9, "data/image_size": 64, "trainer/precision": "32-true"}


def make_run(kind, seed, finals, status="finished", batch_size=16, affine=True, series=None, version=None, **extra):
    """A run as :func:`collect_runs` would read it: ``finals`` tag -> last logged value."""
    hparams = {**CONSTANT, "seed": seed, "norm/kind": kind, "norm/affine": affine, "data/batch_size": batch_size}
    hparams.update(extra)
    folder = f"autoencoder/{kind}-affine_{str(affine).lower()},batch_size={batch_size}"
    name = f"{folder}/version_{seed if version is None else version}"
    series = series or {tag: [(0, float("nan")), (100, value)] for tag, value in finals.items()}
    return RunSummary(
        path=Path("/nonexistent") / name,
        name=name,
        model="autoencoder",
        norm_kind=kind,
        affine=affine,
        batch_size=batch_size,
        steps=max(step for points in series.values() for step, _ in points),
        metrics={  # the last finite value, as collect_runs reads it
            tag: finite[-1] for tag, points in series.items() if (finite := [v for _, v in points if math.isfinite(v)])
        },
        hparams=hparams,
        seed=seed,
        status=status,
        final=dict(finals),
        final_step={tag: points[-1][0] for tag, points in series.items()},
        series=series,
    )


def sweep(values: dict[str, list[float]], tag="val/psnr", **kwargs):
    return [make_run(kind, seed, {tag: v}, **kwargs) for kind, vs in values.items() for seed, v in enumerate(vs)]


def variant_rows(text: str) -> dict[str, dict[str, str]]:
    """The markdown's variant table: label -> {column: cell}."""
    section = text.split("## Variants")[1].split("## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    header, rows = split[0], split[2:]
    return {row[1]: dict(zip(header, row, strict=True)) for row in rows}


def comparison(analysis, label, tag="val/psnr"):
    variant = next(v for v in analysis.variants if v.label == label)
    return analysis.comparison(variant, tag)


def test_identical_variants_are_not_different_and_a_real_gap_is():
    runs = sweep({"instance": [10.0, 10.2, 9.9], "layer": [10.0, 10.2, 9.9], "batch": [15.1, 14.8, 15.0]})
    analysis = analyze(runs, reference="norm/kind=instance")
    same, gap = comparison(analysis, "layer"), comparison(analysis, "batch")
    assert same.verdict == NOT_SIGNIFICANT and same.test.p == pytest.approx(1.0)
    assert gap.verdict == BETTER  # PSNR: higher is better
    raw = [_welch_by_hand([15.1, 14.8, 15.0], [10.0, 10.2, 9.9])[2], 1.0]  # sorted: batch, layer
    assert [c.p_adjusted for c in analysis.comparisons] == pytest.approx(holm(raw))
    text = markdown_report(analysis)
    rows = variant_rows(text)
    assert rows["batch"]["val/psnr ↑"].endswith("▲") and rows["batch"]["compared with"] == "instance"
    assert not rows["layer"]["val/psnr ↑"].endswith(("▲", "▼"))
    assert "Welch" in text and "Holm" in text


def test_lower_is_better_metrics_flip_the_direction():
    runs = sweep({"instance": [0.30, 0.31, 0.29], "batch": [0.10, 0.11, 0.09]}, tag="val/loss")
    analysis = analyze(runs, reference="norm/kind=instance", primary="val/loss")
    assert comparison(analysis, "batch", "val/loss").verdict == BETTER


def test_one_run_per_variant_gets_no_test_and_no_mark():
    analysis = analyze(sweep({"instance": [10.0], "batch": [15.0, 15.2]}), reference="norm/kind=instance")
    result = comparison(analysis, "batch")
    assert result.test.p is None and result.verdict == N_TOO_SMALL and result.p_adjusted is None
    assert not any(row["val/psnr ↑"].endswith(("▲", "▼")) for row in variant_rows(markdown_report(analysis)).values())
    instance = next(v for v in analysis.variants if v.label == "instance")
    assert analysis.cells[(instance, "val/psnr")].summary.n == 1


def test_non_finite_and_failed_runs_are_listed_not_averaged():
    runs = sweep({"instance": [10.0, 10.2, 9.9], "batch": [15.1, 14.8, 15.0]})
    late_nan = [(0, float("nan")), (50, 12.0), (100, float("nan"))]  # went NaN after a finite validation
    runs.append(make_run("batch", 3, {"val/psnr": float("nan")}, series={"val/psnr": late_nan}))
    runs.append(make_run("batch", 4, {"val/psnr": 99.0}, status="crashed"))
    runs.append(make_run("batch", 5, {"val/psnr": 99.0}, status="diverged"))
    runs.append(make_run("batch", 6, {"val/psnr": 99.0}, status="incomplete"))
    runs.append(make_run("batch", 0, {"val/psnr": 99.0}, version=7))  # seed 0 again: a repeat
    analysis = analyze(runs, reference="norm/kind=instance")
    batch = next(v for v in analysis.variants if v.label == "batch")
    cell = analysis.cells[(batch, "val/psnr")]
    assert cell.summary.n == 3 and cell.summary.mean == pytest.approx(np.mean([15.1, 14.8, 15.0]))
    reasons = {e.run.seed: (e.reason, e.tags) for e in analysis.exclusions}
    assert set(reasons) == {0, 3, 4, 5, 6}
    assert reasons[3][1] == ("val/psnr",) and "final value non-finite: val/psnr = nan at step 100" in reasons[3][0]
    assert reasons[4][1] is None and "crashed" in reasons[4][0]
    assert "diverged" in reasons[5][0] and "result.json" in reasons[6][0]
    assert "repeat of seed 0" in reasons[0][0] and reasons[0][1] is None  # the later copy (version_7) goes
    assert next(e.run for e in analysis.exclusions if e.run.seed == 0).name.endswith("version_7")
    text = markdown_report(analysis)
    section = text.split("## Runs left out")[1]
    for excluded in analysis.exclusions:
        assert excluded.run.name in section
    # Incomplete runs can be averaged in on request, and are then flagged.
    included = analyze(runs, reference="norm/kind=instance", include_incomplete=True)
    assert included.cells[(included.variants[0], "val/psnr")].summary.n == 4
    assert [run.seed for run in included.flagged] == [6] and "without result.json" in markdown_report(included)
    # A sweep logged before runs wrote result.json: nothing averaged in, and the header says why.
    old = analyze(sweep({"instance": [1.0, 2.0], "batch": [3.0, 4.0]}, status="incomplete"))
    assert all(cell.summary.n == 0 for cell in old.cells.values())
    assert "**Warning:** no run has a result.json" in markdown_report(old)


def test_labels_show_only_what_differs_and_references_follow_within():
    runs = []
    for kind, scores in (("batch", {2: [5.0, 5.5], 16: [9.0, 9.2]}), ("group", {2: [8.8, 9.0], 16: [9.0, 9.1]})):
        for batch_size, values in scores.items():
            layer = {"batch": "BatchNorm2d", "group": "GroupNorm"}[kind]  # follows the kind: not in labels
            runs += [
                make_run(kind, seed, {"val/psnr": v}, batch_size=batch_size, **{"norm/layer_types": layer})
                for seed, v in enumerate(values)
            ]
    analysis = analyze(runs, reference="norm/kind=group", within="data/batch_size")
    assert [v.label for v in analysis.variants] == ["batch, bs=2", "batch, bs=16", "group, bs=2", "group, bs=16"]
    study = analysis.studies[0]
    references = {v.label: study.references[v].label for v in analysis.variants}
    assert references == {
        "batch, bs=2": "group, bs=2",
        "batch, bs=16": "group, bs=16",
        "group, bs=2": "group, bs=2",
        "group, bs=16": "group, bs=16",
    }
    assert "norm/layer_types" in markdown_report(analysis)  # still shown, in the settings table
    assert not analysis.studies[0].notes
    # Without --within there is one reference, which matches two variants: a person must decide.
    with pytest.raises(ReportError, match="matches 2 variants"):
        analyze(runs, reference="norm/kind=group")
    with pytest.raises(ReportError, match="values seen"):
        analyze(runs, reference="norm/kind=instance")
    with pytest.raises(ReportError, match="did you mean data/batch_size"):
        analyze(runs, reference="norm/kind=group", within="data/batch_sise")


def test_protocol_from_hparams_and_default_reference():
    protocol = {"ablation/reference": "norm/kind=group", "ablation/preset": "p", "ablation/primary_metric": "val/ssim"}
    runs = [
        make_run(kind, seed, {"val/psnr": 1.0 + seed, "val/ssim": 0.5 + seed / 10}, **protocol)
        for kind in ("batch", "group")
        for seed in range(2)
    ]
    assert [len(v.runs) for v in group_variants(runs)] == [2, 2]  # seed and protocol do not split variants
    analysis = analyze(runs)
    study = analysis.studies[0]
    assert study.preset == "p" and analysis.primary[study] == "val/ssim" and analysis.metrics[0] == "val/ssim"
    assert all(reference.label == "group" for reference in study.references.values())
    overridden = analyze(runs, reference="norm/kind=batch", primary="val/psnr")
    assert all(ref.label == "batch" for ref in overridden.studies[0].references.values())
    plain = analyze([make_run(kind, s, {"val/psnr": 1.0 + s}) for kind in ("group", "batch") for s in range(2)])
    assert all(ref.label == "batch" for ref in plain.studies[0].references.values())  # first in sort order
    assert "first variant in sort order" in markdown_report(plain)
    # Same hparams from differently named run folders: grouped, and the report asks to check.
    runs[0].name = runs[0].name.replace("batch-affine_true", "batch-affine_true,known_answer=exposure")
    assert "come from 2 run folders" in markdown_report(analyze(runs))


def _rising(end_value, start_value, steps=(0, 20, 40, 60, 80, 100)):
    """A validation series from start to end, linear in step (NaN placeholder first)."""
    slope = (end_value - start_value) / steps[-1]
    return [(0, float("nan")), *((s, start_value + slope * s) for s in steps[1:])]


def test_late_change_uses_the_validation_nearest_three_quarters():
    change = late_change(_rising(10.0, 0.0))  # 75% of 100 is nearest 80
    assert (change.start_step, change.end_step) == (80, 100)
    assert change.change == pytest.approx(10.0 - 8.0)
    sparse = late_change([(100, 1.0), (400, 2.0)])  # the last validation is never its own start
    assert (sparse.start_step, sparse.change) == (100, 1.0)
    assert late_change([(0, float("nan")), (100, 1.0)]) is None


def test_convergence_states_and_rank_not_final():
    runs = []
    for seed, noise in enumerate((0.0, 0.3)):
        runs.append(make_run("batch", seed, {"val/psnr": 10.0 + noise}, series={"val/psnr": _rising(10.0 + noise, 0)}))
        flat = [(0, float("nan")), (20, 5.0), (80, 9.0 + noise), (100, 9.0 + noise)]
        runs.append(make_run("group", seed, {"val/psnr": 9.0 + noise}, series={"val/psnr": flat}))
        falling = _rising(4.0 + noise, 8.0)
        runs.append(make_run("layer", seed, {"val/psnr": 4.0 + noise}, series={"val/psnr": falling}))
    analysis = analyze(runs)
    state = {v.label: analysis.convergence[v].state for v in analysis.variants}
    # batch: +2 per run over the last fifth, seed std 0.21 -> improving; group: change 0 -> plateaued.
    assert state == {"batch": IMPROVING, "group": PLATEAUED, "layer": WORSENING}
    rank = {v.label: r for v, r in ranks(analysis, analysis.studies[0]).items()}
    assert rank == {"batch": "1 (not final)", "group": "2", "layer": "3 (not final)"}
    assert "still improving" in markdown_report(analysis)


def test_models_are_separate_studies_and_figures_draw_them(tmp_path):
    from stylenorm.report.curves import write_batch_size_plot, write_curves

    runs = sweep({"instance": [10.0, 10.2], "batch": [15.1, 14.8]})
    runs += [make_run(kind, seed, {"val/psnr": 1.0 + seed}, batch_size=2) for kind in ("instance",) for seed in (0, 1)]
    style = sweep({"instance": [1.0, 1.1], "batch": [1.3, 1.2]}, tag="val/content")
    for run in style:
        run.hparams["model"] = run.model = "style"
    analysis = analyze(runs + style)
    assert [(study.model, len(study.variants)) for study in analysis.studies] == [("autoencoder", 3), ("style", 2)]
    for study in analysis.studies:  # every reference is of the same model
        assert all(ref.model == study.model for ref in study.references.values())
    style_study = analysis.studies[1]
    assert analysis.primary[style_study] == "val/content"
    assert {c.tag for c in analysis.comparisons if c.study is style_study} == {"val/content"}
    assert write_curves(analysis, tmp_path / "curves.png").stat().st_size > 10_000
    assert write_batch_size_plot(analysis, tmp_path / "batch_size.png").stat().st_size > 10_000


def test_curves_align_seeds_on_shared_steps_else_interpolate():
    from stylenorm.report.curves import aligned

    nan = float("nan")
    steps, values, interpolated = aligned([[(0, nan), (10, 2.0), (20, 3.0), (30, 5.0)], [(10, 1.0), (20, 4.0)]])
    assert steps.tolist() == [10, 20] and values.tolist() == [[2.0, 3.0], [1.0, 4.0]] and not interpolated
    # Validations one step apart share nothing: the second seed is interpolated onto the first's steps.
    steps, values, interpolated = aligned([[(10, 1.0), (20, 2.0)], [(11, 1.0), (21, 3.0)]])
    assert interpolated and steps.tolist() == [20]  # within the range both cover, [11, 20]
    assert values[:, 0].tolist() == pytest.approx([2.0, 1.0 + 2.0 * 9 / 10])  # 1 at 11, 3 at 21
