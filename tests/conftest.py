"""Shared fixtures. Tests run on CPU, offline, and never touch the user's data/ or logs/."""

import sys
import urllib.error
from pathlib import Path

import pytest
import torch

TESTS_DIR = Path(__file__).parent
REPO_ROOT = TESTS_DIR.parent
sys.path.insert(0, str(TESTS_DIR))  # reference modules live next to the tests

from stylenorm.run_folder import register_resolvers  # noqa: E402

register_resolvers()  # tests compose configs as train.py does, whatever test file runs first


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


def run_folders(logs: Path) -> list[Path]:
    """The run folders under a ``paths.log_dir`` (single runs and sweep jobs, configs/train.yaml), sorted."""
    return sorted(path for path in [*logs.glob("runs/*"), *logs.glob("multirun/*/*")] if path.is_dir())


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


def train_tiny_autoencoder(root: Path, kind: str, *overrides: str) -> None:
    """One 8-channel, 32 px autoencoder run with norm ``kind`` under ``root`` through ``stylenorm.train.run``,
    fp32 (``trainer.precision=auto`` is bf16 on some CPUs), validated every epoch of 3 batches and logged
    every step: real checkpoints and log folders in seconds. ``overrides`` add to or replace these."""
    from stylenorm.train import run

    run(
        compose_offline_run(
            root,
            "model=autoencoder",
            f"norm={kind}",
            "data.image_size=32",
            "data.batch_size=4",
            "model.network.base_channels=8",
            "+trainer.limit_train_batches=3",
            "trainer.val_check_interval=1.0",
            "trainer.log_every_n_steps=1",
            "trainer.precision=32-true",
            *overrides,
        )
    )


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub cache under tmp_path and a download function that fails as if offline.

    torchvision's ``VGG16_Weights.get_state_dict`` calls ``torch.hub.load_state_dict_from_url``, which
    loads ``<hub dir>/checkpoints/<file name of the URL>`` when present and otherwise calls
    ``torch.hub.download_url_to_file``; that last one is the only network access, so it is the one
    replaced. Returns the list of URLs a download was attempted for.
    """
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # in case anything called torch.hub.set_dir
    attempts = []

    def offline_download(url, dst, *args, **kwargs):
        attempts.append(url)
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline_download)
    return attempts


def scalars(log_dir: str, tag: str) -> list[float]:
    """Every value TensorBoard holds for ``tag`` in a run's event files, in step order."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    accumulator.Reload()
    return [event.value for event in accumulator.Scalars(tag)]
