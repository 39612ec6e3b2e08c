"""Data-parallel training on CPU: two gloo processes, batch norm synchronised across them."""

import subprocess
import sys

import pytest
import yaml

from conftest import REPO_ROOT, run_folders


def ddp_run(tmp_path, *overrides: str, accelerator: str = "cpu", devices: int = 2) -> subprocess.CompletedProcess:
    """``python train.py trainer=ddp`` in 2 CPU processes (or as asked), tiny, in tmp_path."""
    return subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "train.py"),
            *overrides,
            "trainer=ddp",
            f"trainer.accelerator={accelerator}",
            f"trainer.devices={devices}",
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


@pytest.mark.integration
def test_two_process_ddp_on_cpu_trains_one_run(tmp_path):
    result = ddp_run(tmp_path, "model=autoencoder", "norm=batch", "model.network.base_channels=8")
    assert result.returncode == 0, result.stderr[-4000:]
    runs = run_folders(tmp_path / "logs")
    assert len(runs) == 1, runs  # both processes wrote into one run folder
    hparams = yaml.safe_load((runs[0] / "hparams.yaml").read_text())
    # torch's DDP refuses SyncBatchNorm on CPU: the run says so and keeps per-process batch norm
    assert "sync_batchnorm=true is ignored on CPU" in result.stderr + result.stdout
    assert hparams["norm/layer_types"] == "BatchNorm2d"
    assert hparams["trainer/world_size"] == 2
    checkpoints = list((tmp_path / "checkpoints").rglob("last.ckpt"))
    assert len(checkpoints) == 1


@pytest.mark.integration
def test_cyclegan_trains_under_ddp_although_each_step_leaves_networks_without_grads(tmp_path):
    # The G step freezes D_A/D_B and the D step leaves G_AB/G_BA out: plain DDP fails after one step.
    small = ["model.generator.ngf=8", "model.generator.n_blocks=1", "model.discriminator.ndf=8"]
    result = ddp_run(tmp_path, "model=cyclegan", *small)
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(list((tmp_path / "checkpoints").rglob("last.ckpt"))) == 1


def test_ddp_on_gpu_converts_batch_norm_and_cpu_refuses_sync_batch(tmp_path):
    from hydra import compose, initialize_config_dir

    from stylenorm.config_checks import check_distributed_norm

    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        gpu = compose("train", overrides=["trainer=ddp", "trainer.accelerator=gpu", "norm=batch"])
        cpu_sync = compose("train", overrides=["trainer=ddp", "trainer.accelerator=cpu", "norm=sync_batch"])
    check_distributed_norm(gpu)
    assert gpu.trainer.sync_batchnorm is True  # Lightning converts BatchNorm2d -> SyncBatchNorm
    with pytest.raises(ValueError, match="norm=sync_batch needs GPUs"):
        check_distributed_norm(cpu_sync)


def test_sync_batch_norm_runs_are_recorded_as_such(tmp_path):
    from hydra import compose, initialize_config_dir

    from stylenorm.config_checks import check_distributed_norm
    from stylenorm.run_record import run_record

    paths = [f"paths.log_dir={tmp_path / 'logs'}", f"paths.checkpoint_dir={tmp_path / 'checkpoints'}"]
    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        gpu = compose(
            "train", overrides=["model=autoencoder", "trainer=ddp", "trainer.accelerator=gpu", "norm=batch", *paths]
        )
        cpu = compose(
            "train", overrides=["model=autoencoder", "trainer=ddp", "trainer.accelerator=cpu", "norm=batch", *paths]
        )
    for cfg in (gpu, cpu):
        check_distributed_norm(cfg)
    assert run_record(gpu, "cpu")["trainer/sync_batchnorm"] is True  # Lightning will convert it
    assert run_record(cpu, "cpu")["trainer/sync_batchnorm"] is False  # gloo keeps per-process batch norm


@pytest.mark.parametrize("model", ["cyclegan", "style", "autoencoder"])
def test_lightning_sync_conversion_reaches_every_batch_norm_the_factory_built(model):
    import torch
    from lightning.pytorch.plugins.layer_sync import TorchSyncBatchNorm

    from stylenorm.networks import build_networks

    networks = torch.nn.ModuleDict(build_networks({"name": model, "norm": {"kind": "batch"}}))
    before = [name for name, m in networks.named_modules() if isinstance(m, torch.nn.BatchNorm2d)]
    weights = {k: v.clone() for k, v in networks.state_dict().items()}
    converted = TorchSyncBatchNorm().apply(networks)  # what Trainer(sync_batchnorm=True) does before DDP
    after = [name for name, m in converted.named_modules() if isinstance(m, torch.nn.SyncBatchNorm)]
    assert before and after == before
    assert not any(type(m) is torch.nn.BatchNorm2d for m in converted.modules())
    for key, value in converted.state_dict().items():
        torch.testing.assert_close(value, weights[key], rtol=0, atol=0)


@pytest.mark.integration
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="SyncBatchNorm runs on CUDA only")
def test_sync_batch_norm_trains_in_one_cuda_process(tmp_path):
    args = ("model=autoencoder", "norm=batch", "model.network.base_channels=8")
    result = ddp_run(tmp_path, *args, accelerator="gpu", devices=1)
    assert result.returncode == 0, result.stderr[-4000:]
    (run,) = run_folders(tmp_path / "logs")
    hparams = yaml.safe_load((run / "hparams.yaml").read_text())
    assert hparams["norm/layer_types"] == "SyncBatchNorm" and hparams["trainer/sync_batchnorm"] is True
