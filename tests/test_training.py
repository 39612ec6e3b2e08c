"""Training end to end on tiny images, on CPU, offline: every model x every norm kind.

Runs go through the same path as ``python train.py`` (compose -> stylenorm.train.run), with the
embedded datasets materialised once per session in a temporary data folder.
"""

from pathlib import Path

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_offline_run
from stylenorm.config_checks import ConfigError
from stylenorm.nn.norm import NORM_KINDS, STYLE_CONDITIONED_KINDS
from stylenorm.tasks import AutoencoderTask, CycleGANTask, StyleTransferTask
from stylenorm.train import run

pytestmark = pytest.mark.integration

TINY = {
    "cyclegan": ["model.generator.ngf=8", "model.generator.n_blocks=2", "model.discriminator.ndf=8"],
    "style": ["model.vgg_weights=random", "model.network.num_residual_blocks=1"],
    "autoencoder": ["model.network.base_channels=8"],
}


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


def compose_run(tmp_path: Path, data_dir: Path, model: str, *overrides: str, tiny: bool = True):
    return compose_offline_run(
        tmp_path,
        f"model={model}",
        "data.image_size=32",
        *(TINY[model] if tiny else []),
        *overrides,
        data_dir=data_dir,
    )


def scalars(log_dir: str, tag: str) -> list[float]:
    accumulator = EventAccumulator(log_dir, size_guidance={"scalars": 0})
    accumulator.Reload()
    return [event.value for event in accumulator.Scalars(tag)] if tag in accumulator.Tags()["scalars"] else []


@pytest.mark.parametrize("kind", [k for k in NORM_KINDS if k not in STYLE_CONDITIONED_KINDS])
@pytest.mark.parametrize("model", ["cyclegan", "style", "autoencoder"])
def test_every_model_and_norm_trains_and_checkpoints(tmp_path, data_dir, model, kind):
    cfg = compose_run(tmp_path, data_dir, model, f"norm={kind}", "data.batch_size=2", "trainer.max_steps=4")
    run(cfg)
    checkpoint_dir = Path(cfg.paths.run_checkpoint_dir)
    assert (checkpoint_dir / "last.ckpt").is_file()
    assert Path(cfg.paths.run_dir).name.endswith(f"_{model}-{kind}")  # logs/runs/<time>_<model>-<norm>
    assert checkpoint_dir.relative_to(tmp_path / "checkpoints") == Path(cfg.paths.run_dir).relative_to(
        tmp_path / "logs"
    )
    assert (Path(cfg.paths.run_dir) / ".hydra" / "config.yaml").is_file()
    assert list(Path(cfg.paths.run_dir).glob("events.out.tfevents.*"))


@pytest.mark.parametrize("model", ["autoencoder", "style"])
def test_training_loss_falls(tmp_path, data_dir, model):
    cfg = compose_run(
        tmp_path, data_dir, model, "data.batch_size=4", "trainer.max_steps=60", "trainer.log_every_n_steps=1"
    )
    run(cfg)
    values = scalars(cfg.paths.run_dir, "train/loss")
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
        "trainer.precision=32-true",  # `auto` is bf16 on some CPUs and fp32 on others: one answer everywhere
    )
    run(cfg)
    values = [v for v in scalars(cfg.paths.run_dir, "val/cycle_l1") if v == v]  # drop the NaN placeholder
    # one validation per epoch of 25 iterations; the 6th ends training exactly, so no extra one after fit
    assert len(values) == 6, values
    # GAN training is not monotone; the later validations must reach clearly below the first one.
    assert min(values[2:]) < 0.92 * values[0], values


TASKS = {"cyclegan": CycleGANTask, "style": StyleTransferTask, "autoencoder": AutoencoderTask}


@pytest.mark.parametrize("model", ["cyclegan", "style", "autoencoder"])
def test_checkpoint_reloads_to_the_trained_models_outputs(tmp_path, data_dir, model, keep_task):
    """The model as training left it (in memory) and the model loaded from its last.ckpt compute the
    same outputs: the checkpoint holds everything the forward pass needs."""
    cfg = compose_run(tmp_path, data_dir, model, "norm=group", "data.batch_size=2", "trainer.max_steps=4")
    run(cfg)
    trained = keep_task["task"].cpu().eval()
    loaded = TASKS[model].load_from_checkpoint(Path(cfg.paths.run_checkpoint_dir) / "last.ckpt", map_location="cpu")
    assert loaded.norm_spec.kind == "group"
    loaded.eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = trained(x)
        assert not torch.equal(expected, TASKS[model](**trained.hparams).eval()(x))  # a fresh model differs
        torch.testing.assert_close(loaded(x), expected, rtol=0, atol=0)
    ckpt = torch.load(Path(cfg.paths.run_checkpoint_dir) / "last.ckpt", map_location="cpu", weights_only=False)
    assert not any(k.startswith("perceptual.") for k in ckpt["state_dict"])  # VGG is not stored


def test_resume_continues_the_step_count_in_the_same_folder(tmp_path, data_dir):
    cfg = compose_run(tmp_path, data_dir, "autoencoder", "data.batch_size=2", "trainer.max_steps=6")
    run(cfg)
    last = Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == 6
    resumed = compose_run(
        tmp_path, data_dir, "autoencoder", "data.batch_size=2", "trainer.max_steps=10", f"ckpt_path={last}"
    )
    run(resumed)
    assert resumed.paths.run_dir == cfg.paths.run_dir  # continued in its own folder
    assert (Path(cfg.paths.run_dir) / ".hydra" / "config.yaml").read_text() != ""  # the run's own config kept
    assert list((Path(cfg.paths.run_dir) / ".hydra").glob("resume_*/config.yaml"))  # the resume's beside it
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
    accumulator = EventAccumulator(cfg.paths.run_dir)
    accumulator.Reload()
    tags = accumulator.Tags()
    assert {"val/psnr_AtoB", "val/psnr_identity_baseline", "val/cycle_l1", "train/G", "train/D_A"} <= set(
        tags["scalars"]
    )
    assert "val/A_fakeB_recA_B_fakeA_recB" in tags["images"]
    assert {"lr-G", "lr-D"} <= set(tags["scalars"])  # the learning rates by network, not lr-Adam and lr-Adam-1


def test_missing_resume_checkpoint_names_the_path(tmp_path, data_dir):
    cfg = compose_run(tmp_path, data_dir, "autoencoder", f"ckpt_path={tmp_path / 'nope.ckpt'}")
    with pytest.raises(ConfigError, match=r"nope\.ckpt does not exist"):
        run(cfg)


def test_missing_user_data_folder_names_the_fix(tmp_path, data_dir):
    cfg = compose_run(tmp_path, data_dir, "cyclegan", "data=unpaired", f"data.root={tmp_path / 'horse2zebra'}")
    with pytest.raises(FileNotFoundError, match="horse2zebra"):
        run(cfg)


def test_hparams_record_the_resolved_norm_and_data(tmp_path, data_dir):
    cfg = compose_run(
        tmp_path, data_dir, "autoencoder", "norm=group", "norm.num_groups=4", "data.batch_size=2", "trainer.max_steps=2"
    )
    run(cfg)
    hparams = yaml.safe_load((Path(cfg.paths.run_dir) / "hparams.yaml").read_text())
    assert hparams["model"] == "autoencoder"
    assert (hparams["norm/kind"], hparams["norm/affine"], hparams["norm/num_groups"]) == ("group", True, 4)
    assert hparams["norm/layer_types"] == "GroupNorm"
    assert (hparams["data/batch_size"], hparams["data/image_size"]) == (2, 32)
    assert hparams["trainer/optimizer_steps_per_batch"] == 1


def test_bf16_autocast_trains_on_cpu(tmp_path, data_dir):
    cfg = compose_run(tmp_path, data_dir, "cyclegan", "trainer.precision=bf16-mixed", "trainer.max_steps=4")
    metrics = run(cfg)
    assert all(v == v for k, v in metrics.items() if k.startswith("train/"))  # no NaN
    assert (Path(cfg.paths.run_checkpoint_dir) / "last.ckpt").is_file()


def test_a_crash_leaves_a_checkpoint(tmp_path, data_dir, monkeypatch):
    original = AutoencoderTask.training_step

    def crash_at_step_5(self, batch, batch_idx):
        if self.global_step == 5:
            raise RuntimeError("simulated crash")
        return original(self, batch, batch_idx)

    monkeypatch.setattr(AutoencoderTask, "training_step", crash_at_step_5)
    cfg = compose_run(tmp_path, data_dir, "autoencoder", "data.batch_size=2", "trainer.max_steps=20")
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(cfg)
    saved = list(Path(cfg.paths.run_checkpoint_dir).glob("*.ckpt"))
    assert saved, "no checkpoint survived the crash"
    assert max(torch.load(p, map_location="cpu", weights_only=False)["global_step"] for p in saved) == 5


def test_style_without_imagenet_weights_fails_before_training(tmp_path, data_dir, monkeypatch):
    import torch.hub

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))

    def offline(*args, **kwargs):
        raise OSError("offline")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    cfg = compose_run(tmp_path, data_dir, "style", "model.vgg_weights=imagenet")
    with pytest.raises(
        RuntimeError, match=r"(?s)empty_torch_home/hub/checkpoints/vgg16-397923af\.pth.*model\.vgg_weights=random"
    ):
        run(cfg)
    assert not (tmp_path / "checkpoints").exists()  # nothing started


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("norm.kind=instnace", "Unknown norm kind 'instnace'"),
        ("model.gan_mode=wgan", "wgan"),
        ("model.loss=huber", "huber"),
    ],
)
def test_bad_model_configs_fail_with_messages_naming_the_value(tmp_path, data_dir, override, message):
    model = {"model.gan_mode=wgan": "cyclegan", "model.loss=huber": "autoencoder"}.get(override, "autoencoder")
    cfg = compose_run(tmp_path, data_dir, model, override)
    with pytest.raises(Exception, match=message):
        run(cfg)


def test_cyclegan_trains_on_an_original_layout_folder(tmp_path, data_dir):
    """`data=unpaired data.root=DIR` with trainA/ trainB/ (no test folders) - horse2zebra's layout."""
    from PIL import Image

    root = tmp_path / "horse2zebra"
    for domain, color in (("trainA", (120, 80, 40)), ("trainB", (30, 90, 160))):
        (root / domain).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40 + 8 * i, 36), tuple(c + 20 * i for c in color)).save(root / domain / f"n{i:03d}.jpg")
    cfg = compose_run(
        tmp_path,
        data_dir,
        "cyclegan",
        "data=unpaired",
        f"data.root={root}",
        "data.image_size=32",
        "data.load_size=36",
        "data.num_workers=0",
        "trainer.max_steps=4",
    )
    run(cfg)
    assert (Path(cfg.paths.run_checkpoint_dir) / "last.ckpt").is_file()
