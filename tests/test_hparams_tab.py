"""TensorBoard's HPARAMS tab and scalars of a real run: the swept keys and the norm as columns, booleans as
booleans, validation metrics without placeholders, and an interrupted run keeps its last validation."""

import math
from pathlib import Path

import pytest
from lightning.pytorch import Callback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata as hparams_metadata

from conftest import run_folders, train_tiny_autoencoder
from stylenorm.tasks.base import tab_hparams

pytestmark = pytest.mark.integration


class InterruptAtStep(Callback):
    """Ctrl-C as Lightning sees it, after the given optimizer step (configured as a callback of the run)."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            raise KeyboardInterrupt


def test_the_tab_holds_the_norm_and_what_the_command_line_set():
    params = {"model": "autoencoder", "norm/kind": "group", "norm/affine": True, "lr": 0.001, "beta1": 0.9, "seed": 3}
    assert tab_hparams(params, varied={"lr", "data/known_answer"}) == {
        "model": "autoencoder",
        "norm/kind": "group",
        "norm/affine": True,
        "lr": 0.001,
    }


def events(root: Path) -> EventAccumulator:
    (folder,) = run_folders(root / "logs")
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def validation_tags(accumulator: EventAccumulator) -> list[str]:
    return [tag for tag in accumulator.Tags()["scalars"] if tag.startswith("val/")]


def test_hparams_are_typed_and_metrics_have_no_placeholders(tmp_path):
    train_tiny_autoencoder(tmp_path, "instance", "trainer.max_steps=4")
    accumulator = events(tmp_path)
    session = hparams_metadata.parse_session_start_info_plugin_data(
        accumulator.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content
    )
    assert session.hparams["norm/affine"].WhichOneof("kind") == "bool_value"
    assert session.hparams["norm/affine"].bool_value is True
    assert session.hparams["norm/kind"].string_value == "instance"
    tags = validation_tags(accumulator)
    assert "val/psnr" in tags
    for tag in tags:
        values = accumulator.Scalars(tag)
        assert all(math.isfinite(event.value) for event in values), tag  # no NaN marker
        assert values[0].step > 0, tag  # nothing before the first validation


def test_an_interrupted_run_keeps_its_last_validation(tmp_path):
    # validated after every 3-batch epoch (step 3), stopped by Ctrl-C at step 5
    with pytest.raises(SystemExit):
        train_tiny_autoencoder(
            tmp_path,
            "batch",
            "trainer.max_steps=20",
            "+callbacks.interrupt._target_=test_hparams_tab.InterruptAtStep",
            "+callbacks.interrupt.step=5",
        )
    accumulator = events(tmp_path)
    metrics = [tag for tag in validation_tags(accumulator) if tag in ("val/psnr", "val/ssim")]
    assert metrics
    for tag in metrics:
        last = accumulator.Scalars(tag)[-1]
        assert 0 < last.step < 5 and math.isfinite(last.value)  # what the HPARAMS row shows for this run
