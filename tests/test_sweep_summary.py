"""A sweep ends with its answer: one row per job, the skipped and failed ones with their reason, the
report command, and an exit status that says whether every requested job ran."""

import json
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, run_folders
from stylenorm.sweep_summary import summarize


def _job(sweep, name, overrides, result=None):
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    if result is not None:
        (folder / "result.json").write_text(json.dumps(result))


def test_the_summary_lists_every_job_in_order_with_its_status_and_reason(tmp_path):
    _job(
        tmp_path,
        "10_norm-none",
        ["norm=none"],
        {"status": "finished", "metrics": {"val/psnr": 20.5}, "wall_seconds": 90},
    )
    _job(
        tmp_path, "2_norm-batch", ["norm=batch"], {"status": "skipped", "error": "not a run of its own", "metrics": {}}
    )
    _job(tmp_path, "3_norm-group", ["norm=group"])  # killed: no result.json
    table = summarize(tmp_path, "val/psnr")
    assert list(table.job) == ["2", "3", "10"]  # numeric job order, not text order
    assert list(table.status) == ["skipped", "no result.json", "finished"]
    assert table.reason[0] == "not a run of its own"
    assert table.metric[2] == "val/psnr 20.5" and table.minutes[2] == 1.5


@pytest.mark.integration
def test_a_three_job_sweep_ends_with_its_table_and_report_command(tmp_path):
    command = [
        sys.executable, str(REPO_ROOT / "train.py"), "-m", "model=autoencoder", "norm=instance,none",
        "norm.affine=true", "data.image_size=16", "model.network.base_channels=4", "trainer.max_steps=2",
        "trainer.enable_progress_bar=false", "trainer.limit_val_batches=1", f"paths.data_dir={tmp_path / 'data'}",
        f"paths.log_dir={tmp_path / 'logs'}", f"paths.checkpoint_dir={tmp_path / 'checkpoints'}",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]  # one grid point did not run
    folders = run_folders(tmp_path / "logs")
    assert [f.name for f in folders] == ["0_norm-instance", "1_norm-none"]
    assert "1 of 2 jobs finished" in output
    assert "skipped" in output and "norm=none with norm.affine=true" in output
    assert f"python scripts/ablation_report.py {folders[0].parent}" in output
    assert json.loads((folders[1] / "result.json").read_text())["status"] == "skipped"
