"""The run-length estimate and the progress display (stylenorm/callbacks/progress.py), on real Trainer runs."""

import logging
import re

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from stylenorm.callbacks.progress import RunProgressBar, RunProgressLog, duration, run_progress


class TinyRegression(pl.LightningModule):
    """A linear model on random data: steps take microseconds, so the estimate uses its 20-step rule."""

    def __init__(self, optimizer_steps_per_batch: int = 1):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.optimizer_steps_per_batch = optimizer_steps_per_batch

    def training_step(self, batch, batch_idx):
        loss = torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", torch.nn.functional.mse_loss(self.layer(batch[0]), batch[1]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loader(batches: int) -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(batches * 2, 4), torch.randn(batches * 2, 1)), batch_size=2)


def fit(tmp_path, callback, **trainer_options):
    options = {"max_epochs": -1, "limit_val_batches": 2, "num_sanity_val_steps": 0, "logger": False,
               "enable_checkpointing": False, "enable_model_summary": False, "accelerator": "cpu",
               "default_root_dir": tmp_path, **trainer_options}  # fmt: skip
    trainer = pl.Trainer(callbacks=[callback], enable_progress_bar=isinstance(callback, RunProgressBar), **options)
    trainer.fit(TinyRegression(), loader(10), loader(2))
    return trainer


def progress_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stylenorm.callbacks.progress"]


def test_durations_read_as_a_person_says_them():
    assert [duration(s) for s in (0.2, 44.6, 89, 91, 719, 7260)] == [
        "1 s",
        "45 s",
        "89 s",
        "2 min",
        "12 min",
        "2 h 01 min",
    ]


def test_bad_intervals_are_refused_with_the_key():
    with pytest.raises(ValueError, match="every_percent in"):
        RunProgressLog(every_percent=0)


@pytest.mark.integration
def test_a_step_limited_run_announces_its_length_and_writes_progress_lines(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stylenorm.callbacks.progress")
    trainer = fit(tmp_path, run_progress(bar=False, every_seconds=3600, every_percent=25), max_steps=60)
    lines = progress_lines(caplog)
    assert trainer.global_step == 60
    announce = lines[0]
    # whole-run steps (6 epochs of 10 batches, stopped by max_steps), not one epoch
    assert re.match(r"Run length: 60 steps, about \d+ s on this machine \(.* s per step over steps 2-\d+", announce)
    steps = [int(m.group(1)) for line in lines if (m := re.match(r"Step (\d+)/60 \((\d+)%\)", line))]
    assert steps == sorted(set(steps))
    # every 25% of the run (after the estimate): at or just past 25, 50, 75 and 100% of 60 steps
    assert [s * 4 // 60 for s in steps][-3:] == [2, 3, 4]
    assert all("train/loss" in line and "left" in line for line in lines if line.startswith("Step "))
    assert lines[-1].startswith("Trained 60 steps in ")
    assert not any("Epoch" in line or "v_num" in line or "/-" in line for line in lines)


@pytest.mark.integration
def test_an_epoch_limited_run_counts_steps_of_all_epochs(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stylenorm.callbacks.progress")
    fit(tmp_path, RunProgressLog(every_seconds=3600, every_percent=50), max_epochs=3)
    assert progress_lines(caplog)[0].startswith("Run length: 30 steps, about ")


@pytest.mark.integration
def test_the_terminal_bar_spans_the_whole_run_without_v_num(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="stylenorm.callbacks.progress")
    bar = RunProgressBar(terminal=True)
    trainer = fit(tmp_path, bar, max_steps=45)
    task = bar.progress.tasks[bar.train_progress_bar_id]
    assert (task.total, task.completed) == (45, 45)  # one bar for the run, not reset per 10-batch epoch
    assert task.description.strip() == "Training"
    assert "v_num" not in bar.get_metrics(trainer, trainer.lightning_module)
    lines = progress_lines(caplog)
    assert lines[0].startswith("Run length: 45 steps") and lines[0].endswith("Progress is shown below.")
    assert not any(line.startswith("Step ") for line in lines)  # the bar shows it


def test_without_a_terminal_the_bar_is_off_and_lines_are_written():
    bar = RunProgressBar(terminal=False)
    assert bar.is_disabled and bar.run_log.lines
