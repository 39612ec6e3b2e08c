"""Example checkpoints for a page that found none: three small autoencoders, trained briefly.

Instance norm, batch norm and no norm (the seeds' ConvINAct autoencoder, 8 channels, on 32 px crops of
the embedded photo tiles), each trained by ``stylenorm.train.run`` exactly as ``python train.py model=autoencoder
norm=<kind> ...`` would: the files land in ``checkpoints/examples`` and ``logs/examples`` under the
folder the page was started in, with their logs, and the page lists them like any other run. Small
and short, so they differ in the ways the page shows (lighting, statistics), not in quality.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

#: The norm kinds of the example runs, in training order.
EXAMPLE_KINDS = ("instance", "batch", "none")

#: Optimizer steps per example run (the page's --example-steps).
DEFAULT_EXAMPLE_STEPS = 150

#: Where the examples go, relative to the folder the page was started in (train.py's default folders).
EXAMPLE_LOGS = Path("logs") / "examples"
EXAMPLE_CHECKPOINTS = Path("checkpoints") / "examples"

_training = threading.Lock()


def configs_folder() -> Path:
    """``configs/`` of the project (beside the package in a clone, which ``pip install -e`` keeps)."""
    folder = Path(__file__).resolve().parents[2] / "configs"
    if not (folder / "train.yaml").is_file():
        raise FileNotFoundError(
            f"The training configs are not at {folder}: example checkpoints need a clone of the project "
            f"(pip install -e .). Train with python train.py model=autoencoder norm=instance instead."
        )
    return folder


def example_overrides(kind: str, steps: int, root: Path) -> list[str]:
    return [
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
        "+callbacks.page_progress._target_=stylenorm.demo.example_progress.ReportSteps",
        f"paths.log_dir={root / EXAMPLE_LOGS}",
        f"paths.checkpoint_dir={root / EXAMPLE_CHECKPOINTS}",
        f"paths.data_dir={root / 'data'}",
    ]


def train_examples(
    root: str | Path = ".",
    steps: int = DEFAULT_EXAMPLE_STEPS,
    progress: Callable[[float, str], None] = lambda fraction, text: None,
) -> list[Path]:
    """Train the example runs under ``root``; returns the folders to search for their checkpoints."""
    from hydra import compose, initialize_config_dir

    from stylenorm.demo import example_progress
    from stylenorm.train import run

    root = Path(root).absolute()
    if not _training.acquire(blocking=False):
        raise RuntimeError("Example checkpoints are being trained already (another visitor asked first).")
    try:
        for index, kind in enumerate(EXAMPLE_KINDS):
            total = len(EXAMPLE_KINDS)

            def report(step: int, index=index, kind=kind, total=total) -> None:
                progress((index + min(step, steps) / steps) / total, f"norm={kind}: step {step}/{steps}")

            example_progress.report = report
            report(0)
            with initialize_config_dir(config_dir=str(configs_folder()), version_base="1.3"):
                run(compose("train", overrides=example_overrides(kind, steps, root)))
        progress(1.0, "done")
    finally:
        example_progress.report = None
        _training.release()
    return [root / EXAMPLE_CHECKPOINTS, root / EXAMPLE_LOGS]
