"""Flicker as report metrics (stylenorm/report/flicker_runs.py, scripts/flicker.py --runs): each run and
--frame-stats option becomes a row, its flicker numbers metrics, and the preset's flicker claims are
tested by the report like any other claim."""

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from conftest import REPO_ROOT
from stylenorm.report.evaluate import analyze
from stylenorm.report.flicker_runs import with_flicker
from stylenorm.report.frame import ReportError, read_runs
from tests.report_runs import write_run

CLAIM = {
    "id": "in_flickers_more",
    "sentence": "IN flickers more than BN.",
    "source": "a test",
    "where": {"flicker.frame_stats": "per-frame"},
    "metrics": ["flicker/pan/global_flicker"],
    "comparison": {"type": "difference", "a": {"norm.kind": "instance"}, "b": {"norm.kind": "batch"}},
    "expect": "greater",
    "log_scale": True,
    "smallest_effect": 1.5,
    "family": "flicker",
    "budget": "a test",
    "pairing": "none",
}


def flicker_sweep(root, flicker_by_run):
    """Runs IN/BN x 4 seeds, each with an (empty) last.ckpt where its config says its checkpoints are."""
    for name, (kind, seed, _) in flicker_by_run.items():
        checkpoints = root / "checkpoints" / name
        checkpoints.mkdir(parents=True)
        (checkpoints / "last.ckpt").write_bytes(b"")
        settings = {"seed": seed, "norm": {"kind": kind}, "paths": {"run_checkpoint_dir": str(checkpoints)}}
        write_run(root / "logs", name, settings, {"val/psnr": [20.0, 21.0, 21.0]}, ablation={"claims": [CLAIM]})


def test_each_run_and_option_becomes_a_row_and_the_claim_is_tested_on_the_flicker_numbers(tmp_path):
    rng = np.random.default_rng(0)
    runs = {f"{kind}-{seed}": (kind, seed, (2.0 if kind == "instance" else 1.0) * math.exp(rng.normal(0, 0.1)))
            for kind in ("instance", "batch") for seed in range(4)}  # fmt: skip
    flicker_sweep(tmp_path, runs)
    by_checkpoint = {str(tmp_path / "checkpoints" / name / "last.ckpt"): value for name, (*_, value) in runs.items()}

    def measure_run(checkpoint):
        value = by_checkpoint[str(checkpoint)]
        return [
            {"clip": "pan", "frame_stats": option, "warp_error": 3.0, "global_flicker": value * factor, "seconds": 0.1}
            for option, factor in (("per-frame", 1.0), ("clip", 0.5))
        ]

    table = with_flicker(read_runs(tmp_path / "logs"), measure_run, ["per-frame", "clip"])
    assert sorted(table.runs["run"]) == sorted(f"{name}@{o}" for name in runs for o in ("per-frame", "clip"))
    pan = table.steps[table.steps["metric"] == "flicker/pan/global_flicker"]
    assert set(pan["step"]) == {300}  # at the run's last step
    assert float(pan.loc[pan["run"] == "batch-0@clip", "value"].iloc[0]) == pytest.approx(runs["batch-0"][2] * 0.5)

    tests = analyze(table).tests
    row = tests[tests["claim"] == "in_flickers_more"].iloc[0]
    log_a = [math.log(runs[f"instance-{s}"][2]) for s in range(4)]
    log_b = [math.log(runs[f"batch-{s}"][2]) for s in range(4)]
    assert row["estimate"] == pytest.approx(math.exp(np.mean(log_a) - np.mean(log_b)))
    assert row["p"] == pytest.approx(stats.ttest_ind(log_a, log_b, equal_var=False).pvalue)  # two-sided
    assert row["verdict"] == "supported"


def test_a_run_without_its_checkpoint_is_named(tmp_path):
    flicker_sweep(tmp_path, {"instance-0": ("instance", 0, 1.0)})
    (tmp_path / "checkpoints" / "instance-0" / "last.ckpt").unlink()
    with pytest.raises(ReportError, match=r"run instance-0: no .*instance-0/last\.ckpt"):
        with_flicker(read_runs(tmp_path / "logs"), lambda path: [], ["per-frame"])


@pytest.mark.integration
def test_a_trained_flicker_sweep_gives_a_report_with_the_presets_claims(tmp_path):
    """Tiny IN and BN autoencoders trained by the flicker preset, measured on the embedded clips."""
    logs, checkpoints, report = tmp_path / "logs", tmp_path / "checkpoints", tmp_path / "report"
    train = [sys.executable, "train.py", "-m", "experiment=flicker_autoencoder", "norm=instance,batch", "seed=0,1",
             "trainer.max_steps=10", f"hydra.sweep.dir={logs}", f"paths.checkpoint_dir={checkpoints}"]  # fmt: skip
    subprocess.run(train, cwd=REPO_ROOT, check=True, capture_output=True)
    command = [sys.executable, "scripts/flicker.py", "--runs", str(logs), "--report", str(report),
               "--clips", "pan", "brightness", "--frame-stats", "per-frame", "clip", "--truth", "colour_grade",
               "--frames", "6", "--size", "48"]  # fmt: skip
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    import pandas as pd

    tests = pd.read_csv(report / "tests.csv")
    assert {"in_flickers_more_than_bn", "in_steady_under_fade", "clip_statistics_cut_in_flicker"} <= set(tests["claim"])
    assert (tests["n_a"] == 2).all() and tests["estimate"].gt(0).all()  # ratios of positive flicker numbers
    assert "flicker/pan/global_flicker" in (report / "report.md").read_text()
    import yaml

    recorded = yaml.safe_load((report / "claims.yaml").read_text())["report_command"]
    assert recorded.startswith(f"python scripts/flicker.py --runs {logs} --report {report}")  # docs' reproduce line


@pytest.mark.integration
def test_an_adain_flicker_sweep_is_measured_with_its_style_image(tmp_path):
    """The AdaIN preset's runs need a style image: without one the script names it, with one the report
    tests the AdaIN claims and its reproduce line carries the image."""
    logs, checkpoints, report = tmp_path / "logs", tmp_path / "checkpoints", tmp_path / "report"
    data = tmp_path / "data"
    train = [sys.executable, "train.py", "-m", "experiment=flicker_adain", "norm=none,instance", "seed=0,1",
             "trainer.max_steps=40", "model.network.width=4", "data.image_size=32", "data.load_size=32",
             f"hydra.sweep.dir={logs}", f"paths.checkpoint_dir={checkpoints}", f"paths.data_dir={data}"]  # fmt: skip
    subprocess.run(train, cwd=REPO_ROOT, check=True, capture_output=True)
    command = [sys.executable, "scripts/flicker.py", "--runs", str(logs), "--report", str(report), "--clips", "pan",
               "brightness", "--frame-stats", "per-frame", "clip", "--frames", "6", "--size", "48"]  # fmt: skip
    refused = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert refused.returncode == 2 and "style" in refused.stderr.lower(), refused.stderr
    style = data / "embedded" / "style" / "style.png"
    result = subprocess.run([*command, "--style-image", str(style)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    import pandas as pd
    import yaml

    tests = pd.read_csv(report / "tests.csv")
    assert set(tests["claim"]) == {"clip_statistics_cut_adain_flicker", "per_frame_adain_removes_a_fade",
                                   "in_decoder_flickers_more"}  # fmt: skip
    assert tests["estimate"].gt(0).all()  # ratios of positive flicker numbers
    recorded = yaml.safe_load((report / "claims.yaml").read_text())["report_command"]
    assert recorded.endswith(f"--style-image {style}")
