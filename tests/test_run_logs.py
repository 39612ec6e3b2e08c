"""The web page finds a checkpoint's run by the run layout and shows what its result.json recorded."""

import json
import math

from stylenorm.demo.catalog import index_log_runs, read_run, run_key


def test_a_checkpoint_finds_its_run_folder_and_its_final_metrics(tmp_path):
    job = "multirun/2026-12-05_10-00-00/3_norm-group+seed-1"
    run = tmp_path / "logs" / "ae" / job  # a preset logging under paths.log_dir=logs/ae
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 1\n")
    result = {"status": "diverged", "metrics": {"val/psnr": 21.5, "val/loss": "nan"}}
    (run / "result.json").write_text(json.dumps(result))
    checkpoint = tmp_path / "checkpoints" / job / "last.ckpt"
    index = index_log_runs([tmp_path / "checkpoints", tmp_path / "logs", tmp_path / "missing"])
    assert run_key(checkpoint.parent) == job and index == {job: run}
    status, metrics = read_run(index[job])
    assert (status, metrics["val/psnr"]) == ("diverged", 21.5)
    assert math.isnan(metrics["val/loss"])


def test_a_run_without_result_json_is_incomplete(tmp_path):
    (tmp_path / "runs" / "x" / ".hydra").mkdir(parents=True)
    assert read_run(tmp_path / "runs" / "x") == ("incomplete", {})
