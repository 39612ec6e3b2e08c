"""Training end to end on tiny images, on CPU, offline: every model x every norm kind.

Runs go through the same path as ``python train.py`` (compose -> stylenorm.train.run), with the
embedded datasets materialised once per session in a temporary data folder.
"""

import os
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import REPO_ROOT
from stylenorm.nn.norm import NORM_KINDS
from stylenorm.run_naming import VERSION_ENV
from stylenorm.tasks import AutoencoderTask, CycleGANTask, StyleTransferTask
from stylenorm.train import run

TINY = {
    "cyclegan": ["model.generator.ngf=8", "model.generator.n_blocks=2", "model.discriminator.ndf=8"],
    "style": ["model.vgg_weights=random", "model.network.num_residual_blocks=1"],
    "autoencoder": ["model.network.base_channels=8"],
}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(autouse=True)
def _fresh_version_env(monkeypatch):
    monkeypatch.delenv(VERSION_ENV, raising=False)  # each run picks its own version


def compose_run(tmp_path: Path, data_dir: Path, model: str, *overrides: str, tiny: bool = True):
    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        return compose(
            "train",
            overrides=[
                f"model={model}",
                f"paths.data_dir={data_dir}",
                f"paths.log_dir={tmp_path / 'logs'}",
                f"paths.checkpoint_dir={tmp_path / 'checkpoints'}",
                "data.image_size=32",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
                "trainer.num_sanity_val_steps=0",
                "trainer.limit_val_batches=1",
                *(TINY[model] if tiny else []),
                *overrides,
            ],
        )


def scalars(log_dir: str, tag: str) -> list[float]:
    accumulator = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    accumulator.Reload()
    return [event.value for event in accumulator.Scalars(tag)] if tag in accumulator.Tags()["scalars"] else []


@pytest.mark.parametrize("kind", NORM_KINDS)
@pytest.mark.parametrize("model", ["cyclegan", "style", "autoencoder"])
def test_every_model_and_norm_trains_and_checkpoints(tmp_path, data_dir, model, kind):
    cfg = compose_run(tmp_path, data_dir, model, f"norm={kind}", "data.batch_size=2", "trainer.max_steps=4")
    run(cfg)
    checkpoint_dir = Path(cfg.run.checkpoint_dir)
    assert (checkpoint_dir / "last.ckpt").is_file()
    assert cfg.run.name.startswith(f"{model}/{kind}-affine_")
    assert (Path(cfg.run.log_dir) / "config.yaml").is_file()
    assert list(Path(cfg.run.log_dir).glob("events.out.tfevents.*"))


@pytest.mark.parametrize("model", ["autoencoder", "style"])
def test_training_loss_falls(tmp_path, data_dir, model):
    cfg = compose_run(
        tmp_path, data_dir, model, "data.batch_size=4", "trainer.max_steps=60", "trainer.log_every_n_steps=1"
    )
    run(cfg)
    values = scalars(cfg.run.log_dir, "train/loss")
    assert len(values) == 60
    first, last = sum(values[:10]) / 10, sum(values[-10:]) / 10
    assert last < 0.8 * first, f"first 10 mean {first:.4f}, last 10 mean {last:.4f}"


def test_cyclegan_cycle_error_falls_on_the_fixed_validation_images(tmp_path, data_dir):
    """GAN terms do not fall by design, and batch-1 training losses are noisy; the cycle error on the
    fixed validation images must fall epoch after epoch."""
    cfg = compose_run(
        tmp_path,
        data_dir,
        "cyclegan",
        "data.batch_size=4",
        "trainer.max_steps=300",
        "+trainer.limit_train_batches=25",
        "trainer.val_check_interval=1.0",
        "model.lr=1e-3",
        "model.generator.ngf=16",
    )
    run(cfg)
    values = [v for v in scalars(cfg.run.log_dir, "val/cycle_l1") if v == v]  # drop the NaN placeholder
    assert len(values) == 6, values  # one validation per epoch of 25 iterations
    assert values[-1] < 0.9 * values[0], values


TASKS = {"cyclegan": CycleGANTask, "style": StyleTransferTask, "autoencoder": AutoencoderTask}


@pytest.mark.parametrize("model", ["cyclegan", "style", "autoencoder"])
def test_checkpoint_reloads_to_identical_outputs(tmp_path, data_dir, model):
    cfg = compose_run(tmp_path, data_dir, model, "norm=group", "data.batch_size=2", "trainer.max_steps=4")
    run(cfg)
    task = TASKS[model].load_from_checkpoint(Path(cfg.run.checkpoint_dir) / "last.ckpt", map_location="cpu")
    assert task.norm_spec.kind == "group"
    again = TASKS[model].load_from_checkpoint(Path(cfg.run.checkpoint_dir) / "last.ckpt", map_location="cpu")
    x = torch.rand(2, 3, 32, 32)
    task.eval()
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(task(x), again(x), rtol=0, atol=0)
    ckpt = torch.load(Path(cfg.run.checkpoint_dir) / "last.ckpt", map_location="cpu", weights_only=False)
    assert not any(k.startswith("perceptual.") for k in ckpt["state_dict"])  # VGG is not stored


def test_resume_continues_the_step_count_in_the_same_version(tmp_path, data_dir):
    cfg = compose_run(tmp_path, data_dir, "autoencoder", "data.batch_size=2", "trainer.max_steps=6")
    run(cfg)
    last = Path(cfg.run.checkpoint_dir) / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 6
    os.environ.pop(VERSION_ENV, None)
    resumed = compose_run(
        tmp_path, data_dir, "autoencoder", "data.batch_size=2", "trainer.max_steps=10", f"ckpt_path={last}"
    )
    run(resumed)
    assert resumed.run.version == cfg.run.version and resumed.run.name == cfg.run.name
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert state["global_step"] == 10
    assert state["optimizer_states"][0]["state"]  # Adam moments restored and continued


def test_cyclegan_default_logs_known_answer_metrics_and_grids(tmp_path, data_dir):
    cfg = compose_run(
        tmp_path,
        data_dir,
        "cyclegan",
        "data.batch_size=1",
        "trainer.max_steps=4",
        "trainer.log_every_n_steps=1",
        "+trainer.limit_train_batches=2",
    )  # 1 epoch, then validation
    run(cfg)
    accumulator = EventAccumulator(cfg.run.log_dir)
    accumulator.Reload()
    tags = accumulator.Tags()
    assert {"val/psnr_AtoB", "val/psnr_identity_baseline", "val/cycle_l1", "train/G", "train/D_A"} <= set(
        tags["scalars"]
    )
    assert "val/A_fakeB_recA_B_fakeA_recB" in tags["images"]
    assert any(t.startswith("lr-Adam") for t in tags["scalars"])


def test_missing_resume_checkpoint_names_the_path(tmp_path, data_dir):
    cfg = compose_run(tmp_path, data_dir, "autoencoder", f"ckpt_path={tmp_path / 'nope.ckpt'}")
    with pytest.raises(FileNotFoundError, match=r"nope\.ckpt does not exist"):
        run(cfg)


def test_missing_user_data_folder_names_the_fix(tmp_path, data_dir):
    cfg = compose_run(tmp_path, data_dir, "cyclegan", "data=unpaired", f"data.root={tmp_path / 'horse2zebra'}")
    with pytest.raises(FileNotFoundError, match="horse2zebra"):
        run(cfg)
