"""Example checkpoints for a page that found none: three small autoencoders (instance norm, batch norm, none),
trained briefly by ``train.py`` into ``checkpoints/examples`` and ``logs/examples`` (docs/demo.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from lightning.pytorch import Callback

EXAMPLE_KINDS = ("instance", "batch", "none")  # in training order
DEFAULT_EXAMPLE_STEPS = 150  # optimizer steps per example run (--example-steps)

#: Relative to the folder the page was started in (train.py's default folders).
EXAMPLE_LOGS = Path("logs") / "examples"
EXAMPLE_CHECKPOINTS = Path("checkpoints") / "examples"

_training = threading.Lock()

#: Set while examples train: called with each optimizer step of the current run.
report: Callable[[int], None] | None = None


class ReportSteps(Callback):
    """Passes each optimizer step to :data:`report` (the example runs' callback)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if report is not None:
            report(trainer.global_step)


def train_examples(
    root: str | Path = ".",
    steps: int = DEFAULT_EXAMPLE_STEPS,
    progress: Callable[[float, str], None] = lambda fraction, text: None,
) -> list[Path]:
    """Train the example runs under ``root``; returns the folders to search for their checkpoints."""
    from hydra import compose, initialize_config_dir

    from stylenorm.train import run

    global report

    root = Path(root).absolute()
    configs = Path(__file__).resolve().parents[2] / "configs"  # beside the package in a clone (pip install -e)
    if not (configs / "train.yaml").is_file():
        raise FileNotFoundError(
            f"The training configs are not at {configs}: example checkpoints need a clone of the project "
            f"(pip install -e .). Train with python train.py model=autoencoder norm=instance instead."
        )
    if not _training.acquire(blocking=False):
        raise RuntimeError("Example checkpoints are being trained already (another visitor asked first).")
    try:
        for index, kind in enumerate(EXAMPLE_KINDS):

            def steps_done(step: int, index=index, kind=kind) -> None:
                fraction = (index + min(step, steps) / steps) / len(EXAMPLE_KINDS)
                progress(fraction, f"norm={kind}: step {step}/{steps}")

            report = steps_done
            report(0)
            overrides = [
                "model=autoencoder",
                f"norm={kind}",
                "model.network.base_channels=8",
                "data.image_size=32",
                "data.batch_size=8",
                f"trainer.max_steps={steps}",
                "trainer.limit_val_batches=2",
                "trainer.enable_progress_bar=false",
                "speed.compile=false",
                "~callbacks.norm_statistics",
                "+callbacks.page_progress._target_=stylenorm.demo.examples.ReportSteps",
                f"paths.log_dir={root / EXAMPLE_LOGS}",
                f"paths.checkpoint_dir={root / EXAMPLE_CHECKPOINTS}",
                f"paths.data_dir={root / 'data'}",
            ]
            with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
                run(compose("train", overrides=overrides))
        progress(1.0, "done")
    finally:
        report = None
        _training.release()
    return [root / EXAMPLE_CHECKPOINTS, root / EXAMPLE_LOGS]
