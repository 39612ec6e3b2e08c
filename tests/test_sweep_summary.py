"""A sweep ends with its answer: one row per job, the skipped and failed ones with their reason, the
report command, and an exit status that says whether every requested job ran."""

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import REPO_ROOT, run_folders
from stylenorm.sweep_summary import summarize


def _tiny_sweep(tmp_path, *overrides: str) -> list[str]:
    """``python train.py -m model=autoencoder <overrides>`` at 16 px, width 4, with every folder under ``tmp_path``."""
    return [
        sys.executable, str(REPO_ROOT / "train.py"), "-m", "model=autoencoder", *overrides, "data.image_size=16",
        "model.network.base_channels=4", "trainer.enable_progress_bar=false", "trainer.limit_val_batches=1",
        f"paths.data_dir={tmp_path / 'data'}", f"paths.log_dir={tmp_path / 'logs'}",
        f"paths.checkpoint_dir={tmp_path / 'checkpoints'}",
    ]  # fmt: skip


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
    assert list(table.status) == ["skipped", "incomplete", "finished"]
    assert table.reason[0] == "not a run of its own" and table.reason[1].startswith("no result.json: killed")
    assert table.metric[2] == "val/psnr 20.5" and table.minutes[2] == 1.5


@pytest.mark.integration
def test_a_three_job_sweep_ends_with_its_table_and_report_command(tmp_path):
    command = _tiny_sweep(tmp_path, "norm=instance,none", "norm.affine=true", "trainer.max_steps=2")
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 3, output[-3000:]  # one grid point did not run: skipped as redundant
    folders = run_folders(tmp_path / "logs")
    assert [f.name for f in folders] == ["0_norm-instance", "1_norm-none"]
    assert "1 of 2 jobs finished" in output
    assert "skipped" in output and "norm=none with norm.affine=true" in output
    assert f"python scripts/ablation_report.py {folders[0].parent}" in output
    assert f"tensorboard --logdir {folders[0].parent}" in output
    link = next(line for line in output.splitlines() if "pinnedCards" in line)
    assert "val%2Fpsnr" in link  # the instance job's validation metric, pinned on top
    assert json.loads((folders[1] / "result.json").read_text())["status"] == "skipped"


@pytest.mark.integration
@pytest.mark.slow
def test_a_killed_sweep_run_again_skips_finished_jobs_and_resumes_the_interrupted_one(tmp_path):
    """SIGTERM a sweep while its second job trains; the same command again leaves the first job as it
    was, continues the second from its last.ckpt and finishes."""
    command = _tiny_sweep(
        tmp_path, "seed=0,1", "trainer.max_steps=400", "+trainer.limit_train_batches=4",
        "trainer.val_check_interval=1.0", "callbacks.model_checkpoint.every_n_train_steps=20",
        "~callbacks.norm_statistics", f"hydra.sweep.dir={tmp_path / 'logs' / 'multirun' / 'study'}",
    )  # fmt: skip
    sweep = tmp_path / "logs" / "multirun" / "study"
    first, second = sweep / "0_seed-0", tmp_path / "checkpoints" / "multirun" / "study" / "1_seed-1"
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 900
    while not list(second.glob("step*.ckpt")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=300) == 143
    finished_record = (first / "result.json").read_text()
    assert json.loads(finished_record)["status"] == "finished"
    assert json.loads((sweep / "1_seed-1" / "result.json").read_text())["status"] == "interrupted"
    stopped_at = torch.load(second / "last.ckpt", weights_only=True)["global_step"]
    assert 0 < stopped_at < 400

    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert (first / "result.json").read_text() == finished_record  # not trained again
    assert "Restored all states from the checkpoint" in done.stdout + done.stderr  # the second job resumed
    assert json.loads((sweep / "1_seed-1" / "result.json").read_text())["status"] == "finished"
    assert torch.load(second / "last.ckpt", weights_only=True)["global_step"] == 400


@pytest.mark.integration
def test_a_second_launch_into_a_sweep_folder_with_other_settings_keeps_both_runs_apart(tmp_path):
    """Two launches into one sweep folder that differ in a fixed override (as when one more learning rate is
    tried for one variant) each get their own job folder; launched again, each finds its own, and no launch
    rewrites another run's .hydra record (Hydra writes it before the job's own checks run)."""
    sweep = tmp_path / "logs" / "multirun" / "study"

    def launch(task: str) -> str:
        command = _tiny_sweep(
            tmp_path, "seed=0,1", f"data.known_answer={task}", "trainer.max_steps=2", f"hydra.sweep.dir={sweep}"
        )
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
        return done.stdout + done.stderr

    def records() -> dict[str, str]:
        files = [*sweep.glob("*/.hydra/*.yaml"), *sweep.glob("*/result.json")]
        return {str(f.relative_to(sweep)): f.read_text() for f in files}

    launch("exposure")
    first = records()
    launch("colour_grade")
    names = sorted(f.name for f in run_folders(tmp_path / "logs"))
    assert names == [
        "0_seed-0",
        "0_seed-0+data.known_answer-colour_grade",
        "1_seed-1",
        "1_seed-1+data.known_answer-colour_grade",
    ]
    assert {k: v for k, v in records().items() if k.split("/")[0] in ("0_seed-0", "1_seed-1")} == first  # untouched
    for folder in run_folders(tmp_path / "logs"):
        task = "colour_grade" if "colour_grade" in folder.name else "exposure"
        assert f"data.known_answer={task}" in (folder / ".hydra" / "overrides.yaml").read_text()
        assert json.loads((folder / "result.json").read_text())["status"] == "finished"
    both = records()
    output = launch("colour_grade")  # the same command again: found in its own folder, not trained again
    assert "Already finished" in output and "other settings" not in output
    assert records() == both
    assert list((sweep / "0_seed-0+data.known_answer-colour_grade" / ".hydra").glob("relaunch_*/overrides.yaml"))
