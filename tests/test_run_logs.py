"""The web page finds a checkpoint's run by the run layout and shows what its result.json recorded."""

import json
import math

from stylenorm.demo.catalog import index_log_runs, run_key
from stylenorm.run_record import read_result


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
    record = read_result(index[job])
    assert (record["status"], record["metrics"]["val/psnr"]) == ("diverged", 21.5)
    assert math.isnan(record["metrics"]["val/loss"])  # written as "nan" (json has none), read back as a float


def test_a_run_without_a_readable_result_json_is_incomplete_and_says_why(tmp_path):
    run = tmp_path / "runs" / "x"
    (run / ".hydra").mkdir(parents=True)
    assert read_result(run) == {"status": "incomplete", "error": "no result.json: killed, still running or crashed",
                                "metrics": {}}  # fmt: skip
    (run / "result.json").write_text('{"status": "fin')  # e.g. written by hand, or a copy cut short
    assert read_result(run)["status"] == "incomplete" and "result.json unreadable" in read_result(run)["error"]
    (run / "result.json").write_text("[]")
    assert "not a JSON object" in read_result(run)["error"]
