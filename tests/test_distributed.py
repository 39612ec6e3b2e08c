"""Data-parallel training on CPU: two gloo processes, batch norm synchronised across them."""

import subprocess
import sys

import pytest
import yaml

from conftest import REPO_ROOT


def ddp_run(tmp_path, *overrides: str) -> subprocess.CompletedProcess:
    """``python train.py trainer=ddp`` in 2 CPU processes, tiny, in tmp_path."""
    return subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "train.py"),
            *overrides,
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.max_steps=3",
            "trainer.enable_progress_bar=false",
            "data.image_size=32",
            "data.batch_size=2",
            f"paths.data_dir={tmp_path / 'data'}",
            f"paths.log_dir={tmp_path / 'logs'}",
            f"paths.checkpoint_dir={tmp_path / 'checkpoints'}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_two_process_ddp_on_cpu_trains_one_run(tmp_path):
    result = ddp_run(tmp_path, "model=autoencoder", "norm=batch", "model.network.base_channels=8")
    assert result.returncode == 0, result.stderr[-4000:]
    runs = list((tmp_path / "logs" / "autoencoder").glob("*/version_*"))
    assert len(runs) == 1, runs  # both processes wrote into one run, not two versions
    hparams = yaml.safe_load((runs[0] / "hparams.yaml").read_text())
    # torch's DDP refuses SyncBatchNorm on CPU: the run says so and keeps per-process batch norm
    assert "sync_batchnorm=true is ignored on CPU" in result.stderr + result.stdout
    assert hparams["norm/layer_types"] == "BatchNorm2d"
    assert hparams["trainer/world_size"] == 2
    checkpoints = list((tmp_path / "checkpoints").rglob("last.ckpt"))
    assert len(checkpoints) == 1


def test_cyclegan_trains_under_ddp_although_each_step_leaves_networks_without_grads(tmp_path):
    # The G step freezes D_A/D_B and the D step leaves G_AB/G_BA out: plain DDP fails after one step.
    small = ["model.generator.ngf=8", "model.generator.n_blocks=1", "model.discriminator.ndf=8"]
    result = ddp_run(tmp_path, "model=cyclegan", *small)
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(list((tmp_path / "checkpoints").rglob("last.ckpt"))) == 1


def test_ddp_on_gpu_converts_batch_norm_and_cpu_refuses_sync_batch(tmp_path):
    from hydra import compose, initialize_config_dir

    from stylenorm.train import check_distributed_norm

    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        gpu = compose("train", overrides=["trainer=ddp", "trainer.accelerator=gpu", "norm=batch"])
        cpu_sync = compose("train", overrides=["trainer=ddp", "trainer.accelerator=cpu", "norm=sync_batch"])
    check_distributed_norm(gpu)
    assert gpu.trainer.sync_batchnorm is True  # Lightning converts BatchNorm2d -> SyncBatchNorm
    with pytest.raises(ValueError, match="norm=sync_batch needs GPUs"):
        check_distributed_norm(cpu_sync)
