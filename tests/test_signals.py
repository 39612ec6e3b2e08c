"""A run stopped by SIGTERM (preemption) or SIGINT (Ctrl-C) leaves its checkpoint, records itself as
interrupted, exits with 143 or 130 (never 0, which schedulers read as finished) and prints a resume
command that Hydra accepts as written, although run names hold '=' and ','."""

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT


def default_signal_handlers() -> None:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def start_long_run(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable, "train.py", "model=autoencoder", "data.image_size=32", "data.batch_size=2",
            "model.network.base_channels=8", "trainer.max_steps=1000000", "trainer.enable_progress_bar=false",
            "speed.compile=false",  # speed.compile=auto would compile an endless run; the signal must find it training
            f"paths.data_dir={root / 'data'}", f"paths.log_dir={root / 'logs'}",
            f"paths.checkpoint_dir={root / 'checkpoints'}",
        ],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # A child inherits ignored signals: Lightning's Ctrl-C handling in an earlier test of this
        # process sets SIGINT to "ignore", which would make the run deaf to it. Start from defaults.
        preexec_fn=default_signal_handlers,
    )  # fmt: skip


def wait_for_training(root: Path, process: subprocess.Popen, timeout: float = 300) -> None:
    """Until the run has logged (its signal handlers are in place by then) and taken a few steps."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the run ended early: {process.stdout.read()[-3000:]}")
        if list((root / "logs").rglob("events.out.tfevents.*")):
            time.sleep(3)
            return
        time.sleep(0.5)
    process.kill()
    raise AssertionError("the run did not start training in time")


@pytest.mark.integration
@pytest.mark.parametrize(("sent", "expected_status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_leaves_a_checkpoint_a_nonzero_status_and_a_resume_command(tmp_path, sent, expected_status):
    process = start_long_run(tmp_path)
    wait_for_training(tmp_path, process)
    process.send_signal(sent)
    try:
        output, _ = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"the run did not stop within 300 s of {sent.name}") from None
    assert process.returncode == expected_status, output[-3000:]
    (checkpoint,) = (tmp_path / "checkpoints").rglob("last.ckpt")
    (result_file,) = (tmp_path / "logs").rglob("result.json")
    result = json.loads(result_file.read_text())
    assert result["status"] == "interrupted" and f"exit {expected_status}" in result["error"]
    command = output.split("Resume with:\n")[1].splitlines()[0].strip()
    words = shlex.split(command)
    assert words[:2] == ["python", "train.py"] and words[-1] == f"ckpt_path={checkpoint}"  # pastes unquoted
    # The command as printed composes (Hydra parses the quoted path) and points at the checkpoint.
    composed = subprocess.run(
        [sys.executable, *words[1:], "--cfg", "job"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert composed.returncode == 0, composed.stderr[-2000:]
    assert f"ckpt_path: {checkpoint}" in composed.stdout
