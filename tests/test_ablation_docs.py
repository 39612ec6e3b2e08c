"""docs/ablations.md is generated from the committed report folders, and `--check` catches any drift."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from stylenorm.report.cli import main as report_main
from stylenorm.report.docs import _agreement, check, write
from stylenorm.report.frame import ReportError
from tests.report_runs import sweep

ROOT = Path(__file__).resolve().parent.parent
CLAIM = {
    "id": "bn_beats_gn",
    "sentence": "BN beats GN.",
    "source": "a test",
    "metrics": ["val/psnr"],
    "comparison": {"type": "difference", "a": {"norm.kind": "batch"}, "b": {"norm.kind": "group"}},
    "expect": "greater",
    "smallest_effect": 0.5,
    "family": "main",
    "budget": "600 steps",
    "pairing": "seed",
}
TEMPLATE = "# Ablations\n\n{{summary}}\n\n{{forest}}\n\n## The example\n\n{{report example}}\n\nProse stays.\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A repository with a template, no presets and one report folder made by scripts/ablation_report.py."""
    root = tmp_path_factory.mktemp("built")
    rng = np.random.default_rng(0)
    groups = {
        "norm-batch": ({"norm": {"kind": "batch"}}, rng.normal(21, 0.5, 4)),
        "norm-group": ({"norm": {"kind": "group"}}, rng.normal(20, 0.5, 4)),
    }
    sweep(root / "logs", groups, {"preset": "example", "claims": [CLAIM]})
    (root / "docs").mkdir()
    (root / "configs" / "experiment").mkdir(parents=True)
    (root / "docs" / "ablations.template.md").write_text(TEMPLATE)
    out = root / "docs" / "ablations" / "example"
    assert report_main([str(root / "logs"), "--out", str(out), "--no-tensorboard"]) == 0
    write(root)
    return root


@pytest.fixture
def repo(built, tmp_path):
    """A fresh copy of the built repository for a test to change."""
    shutil.copytree(built, tmp_path / "repo")
    return tmp_path / "repo"


def test_generated_document_opens_with_the_summary_and_keeps_the_prose(repo, built):
    text = (repo / "docs" / "ablations.md").read_text()
    assert text.index("| preset / report") < text.index("forest.png") < text.index("## The example")
    assert "| example / [example](#example) | shared          | BN beats GN." in text and "Prose stays." in text
    assert "python train.py -m experiment=example variant=norm-batch,norm-group seed=0,1,2,3" in text
    # the report command as it was run (the folder records it)
    out = built / "docs" / "ablations" / "example"
    assert f"python scripts/ablation_report.py {built / 'logs'} --out {out}" in text
    assert (repo / "docs" / "ablations" / "forest.png").is_file()
    assert check(repo) is None


def test_check_names_the_first_line_when_one_number_in_a_csv_changes(repo):
    steps_csv = repo / "docs" / "ablations" / "example" / "steps.csv.gz"
    steps = pd.read_csv(steps_csv)
    last = steps.index[-1]
    steps.loc[last, "value"] += 0.5  # one validation of one run
    steps.to_csv(steps_csv, index=False)
    difference = check(repo)
    assert difference is not None and difference.startswith("docs/ablations")
    assert ":" in difference and "committed" in difference and "generated" in difference


def test_check_catches_a_hand_edit_of_the_document(repo):
    document = repo / "docs" / "ablations.md"
    document.write_text(document.read_text().replace("supported", "supported (obviously)", 1))
    assert "docs/ablations.md:" in check(repo)


def test_every_preset_claim_without_a_report_is_listed_as_not_run(repo):
    shutil.copy(ROOT / "configs" / "experiment" / "bn_vs_gn_small_batch.yaml", repo / "configs" / "experiment")
    missing = r"no entry for the declared claims .*bn_vs_gn_small_batch:gn_flat_over_batch"
    with pytest.raises(ReportError, match=missing):
        write(repo)  # a declared claim without its literature line
    ids = ("bn_falls_with_batch_psnr", "bn_falls_with_batch_ssim", "gn_flat_over_batch")
    entries = {f"bn_vs_gn_small_batch:{i}": {"reports": "Wu & He 2018, Fig. 1", "predicts": "supported"} for i in ids}
    (repo / "docs" / "ablations" / "literature.yaml").write_text(yaml.safe_dump(entries))
    (repo / "docs" / "ablations.template.md").write_text(TEMPLATE + "\n{{literature}}\n")
    write(repo)
    text = (repo / "docs" / "ablations.md").read_text()
    assert "BN's PSNR falls faster than GN's as the batch shrinks" in text and "not run yet" in text
    row = re.search(r"^\| `bn_vs_gn_small_batch:gn_flat_over_batch` +\| (.*)\|$", text, re.MULTILINE).group(1)
    cells = [cell.strip() for cell in row.split("|")]
    assert cells == ["Wu & He 2018, Fig. 1", "supported", "not run yet", "not run yet"]


def test_literature_entries_for_claims_no_preset_declares_are_refused(repo):
    (repo / "docs" / "ablations" / "literature.yaml").write_text(
        yaml.safe_dump({"gone:claim": {"reports": "x", "predicts": "none"}})
    )
    with pytest.raises(ReportError, match=r"entries for claims no preset declares \['gone:claim'\]"):
        write(repo)


@pytest.mark.parametrize(
    ("predicts", "verdict", "expected"),
    [
        ("supported", "supported", "agrees"),
        ("supported", "contradicted", "disagrees: fewer steps here"),
        ("contradicted", "supported", "disagrees: fewer steps here"),
        ("supported", "inconclusive", "open: inconclusive here"),
        ("none", "supported", "no prediction"),
        ("supported", "not run yet", "not run yet"),
    ],
)
def test_a_verdict_is_compared_with_what_the_literature_predicts(predicts, verdict, expected):
    entry = {"reports": "a paper", "predicts": predicts, "if_not": "fewer steps here"}
    assert _agreement(entry, verdict) == expected


@pytest.mark.integration
def test_committed_docs_match_their_report_folders():
    """docs/ablations.md and every report.md it places are what the committed CSVs give."""
    assert check(ROOT) is None


@pytest.mark.integration
def test_committed_docs_pass_check_and_fail_when_a_committed_csv_changes(tmp_path):
    """The command CI runs, on the repository's own committed files, then on a copy with one number changed."""
    command = [sys.executable, str(ROOT / "scripts" / "ablation_docs.py"), "--check"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    copy = tmp_path / "repo"
    for part in ("docs", "configs"):
        shutil.copytree(ROOT / part, copy / part)
    reports = sorted(p.parent for p in (copy / "docs" / "ablations").glob("*/runs.csv"))
    assert reports, "no committed report folder with runs.csv"
    steps_csv = reports[0] / "steps.csv.gz"
    steps = pd.read_csv(steps_csv)
    steps.loc[steps.index[-1], "value"] += 1.0
    steps.to_csv(steps_csv, index=False)
    result = subprocess.run([*command, "--root", str(copy)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert "out of date: docs/ablations" in result.stderr


def test_the_committed_example_agrees_with_an_independent_computation():
    """The committed tiny sweep: scores recomputed from steps.csv.gz by hand, the test by scipy."""
    from scipy import stats

    folder = ROOT / "docs" / "ablations" / "ablation_autoencoder_exposure_tiny"
    runs = pd.read_csv(folder / "runs.csv").set_index("run")
    steps = pd.read_csv(folder / "steps.csv.gz")
    psnr = steps[steps["metric"] == "val/psnr"].sort_values("step")
    score = {run: values.tail(3)["value"].mean() for run, values in psnr.groupby("run")}
    a = [score[r] for r in runs.index if runs.at[r, "norm.kind"] == "instance"]
    b = [score[r] for r in runs.index if runs.at[r, "norm.kind"] == "batch"]
    reference = stats.ttest_ind(a, b, equal_var=False)  # the report fell back to Welch (seed r <= 0)
    row = pd.read_csv(folder / "tests.csv").set_index("claim").loc["in_helps_exposure"]
    assert row["estimate"] == pytest.approx(np.mean(a) - np.mean(b))
    assert (row["low"], row["high"]) == tuple(pytest.approx(v) for v in reference.confidence_interval())
    assert row["p"] == pytest.approx(reference.pvalue)
    assert row["verdict"] == ("supported" if reference.pvalue < 0.05 and np.mean(a) > np.mean(b) else row["verdict"])


def test_check_catches_a_change_no_document_shows(repo):
    """A metric outside every claim only reaches variants.csv: the check compares that file too."""
    variants = repo / "docs" / "ablations" / "example" / "variants.csv"
    table = pd.read_csv(variants)
    column = next(c for c in table.columns if c.endswith(" sd"))
    table.loc[0, column] *= 1.01
    table.to_csv(variants, index=False)
    difference = check(repo)
    assert difference.startswith(f"docs/ablations/example/variants.csv: row 2, {column}: committed ")
    committed, generated = (float(part.split()[-1]) for part in difference.split(", ")[-2:])
    assert committed == pytest.approx(generated * 1.01)


def test_a_report_that_tests_no_claim_is_placed_and_checked(repo):
    """Runs whose variants no declared claim compares (e.g. a tuned stage of other variants) give an empty
    tests.csv; the document still places the folder, and --check still compares it."""
    unmatched = {**CLAIM, "comparison": {"type": "difference", "a": {"norm.kind": "layer"}, "b": {"norm.kind": "none"}}}
    rng = np.random.default_rng(1)
    groups = {"norm-batch": ({"norm": {"kind": "batch"}}, rng.normal(21, 0.5, 3))}
    sweep(repo / "untested_logs", groups, {"preset": "untested", "claims": [unmatched]})
    out = repo / "docs" / "ablations" / "untested"
    assert report_main([str(repo / "untested_logs"), "--out", str(out), "--no-tensorboard"]) == 0
    template = repo / "docs" / "ablations.template.md"
    template.write_text(template.read_text() + "\n{{report untested}}\n")
    write(repo)
    assert "No claim tested." in (repo / "docs" / "ablations.md").read_text()
    assert check(repo) is None
    (out / "tests.csv").write_text("claim,metric\nbn_beats_gn,val/psnr\n")  # a row no run gives
    assert "tests.csv" in check(repo)


def test_learned_norm_weights_are_placed_from_the_report_and_checked(repo):
    """``{{mixtures NAME}}`` tabulates the norm_mix/... values in that folder's steps; --check sees them change."""
    template = repo / "docs" / "ablations.template.md"
    template.write_text(template.read_text() + "\n{{mixtures example}}\n")
    write(repo)
    assert "No learned-norm weights" in (repo / "docs" / "ablations.md").read_text()
    steps_csv = repo / "docs" / "ablations" / "example" / "steps.csv.gz"
    steps = pd.read_csv(steps_csv)
    run = steps["run"].iloc[0]
    extra = pd.DataFrame({"run": run, "step": 10_000, "metric": "norm_mix/net/enc.norm/rho", "value": [0.8125]})
    pd.concat([steps, extra]).to_csv(steps_csv, index=False)
    write(repo)
    assert "| net/enc.norm | 0.81" in (repo / "docs" / "ablations.md").read_text()
    assert check(repo) is None
    extra["value"] = 0.25
    pd.concat([steps, extra]).to_csv(steps_csv, index=False)
    assert check(repo) is not None


def test_a_marker_the_generator_does_not_know_is_refused_not_published(repo):
    template = repo / "docs" / "ablations.template.md"
    template.write_text(template.read_text() + "\n{{adain_prose}}\n")
    with pytest.raises(ReportError, match=r"unknown markers \['\{\{adain_prose\}\}'\]"):
        write(repo)
