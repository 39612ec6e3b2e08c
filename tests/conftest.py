"""Shared fixtures. Tests run on CPU, offline, and never touch the user's data/ or logs/."""

import sys
from pathlib import Path

import pytest
import torch

TESTS_DIR = Path(__file__).parent
REPO_ROOT = TESTS_DIR.parent
sys.path.insert(0, str(TESTS_DIR))  # reference modules live next to the tests


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def keep_task(monkeypatch):
    """Runs through ``stylenorm.train.run`` keep their task object here (``["task"]``) for inspection."""
    from stylenorm import train

    kept = {}
    build = train.build

    def keeping_build(cfg):
        datamodule, model, trainer = build(cfg)
        kept["task"] = model
        return datamodule, model, trainer

    monkeypatch.setattr(train, "build", keeping_build)
    return kept


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


def compose_offline_run(root: Path, *overrides: str, data_dir: Path | None = None):
    """The training config of a small CPU run whose logs and checkpoints (and data, unless
    ``data_dir`` is given) live under ``root`` (what ``python train.py`` composes, without the
    command line)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        return compose(
            "train",
            overrides=[
                f"paths.data_dir={data_dir or root / 'data'}",
                f"paths.log_dir={root / 'logs'}",
                f"paths.checkpoint_dir={root / 'checkpoints'}",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
                "trainer.num_sanity_val_steps=0",
                "trainer.limit_val_batches=1",
                *overrides,
            ],
        )
