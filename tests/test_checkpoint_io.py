"""Checkpoints reach the disk whole or not at all, load safely, and come every N minutes too.

Issue: a full disk left a truncated ``last.ckpt`` (594 KB of 1.5 MB) behind a raw ENOSPC traceback,
and step-based checkpoints were the only ones.
"""

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from conftest import compose_offline_run
from stylenorm import checkpoint_io
from stylenorm.checkpoint_io import AtomicCheckpointIO, CheckpointWriteError, atomic_torch_save
from stylenorm.train import run

TINY_AUTOENCODER = ["model=autoencoder", "data.image_size=32", "model.network.base_channels=8", "data.batch_size=2"]
TINY_CYCLEGAN = [
    "model=cyclegan",
    "data.image_size=32",
    "data.batch_size=1",
    "model.generator.ngf=8",
    "model.generator.n_blocks=2",
    "model.discriminator.ndf=8",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


_REAL_SAVE = torch.save


def _disk_full_after(limit: int):
    """A torch.save that writes ``limit`` bytes, then fails as a full disk does."""

    def save(obj, handle, *args, **kwargs):
        buffer = io.BytesIO()
        _REAL_SAVE(obj, buffer, *args, **kwargs)
        handle.write(buffer.getvalue()[:limit])
        raise OSError(errno.ENOSPC, "No space left on device")

    return save


def test_a_full_disk_keeps_the_previous_checkpoint_whole_and_says_so(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    atomic_torch_save({"global_step": 1, "weights": torch.arange(100_000.0)}, target)
    before = target.read_bytes()
    monkeypatch.setattr(checkpoint_io.torch, "save", _disk_full_after(len(before) // 3))
    with pytest.raises(CheckpointWriteError, match=r"disk full .*The last good checkpoint is .*last.ckpt \(step 1\)"):
        atomic_torch_save({"global_step": 2, "weights": torch.zeros(100_000)}, target)
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]  # no temporary file left
    assert torch.load(target, weights_only=True)["global_step"] == 1


@pytest.mark.integration
def test_sigkill_during_saves_never_leaves_a_partial_file(tmp_path):
    target = tmp_path / "last.ckpt"
    writer = textwrap.dedent(
        f"""
        import torch
        from stylenorm.checkpoint_io import atomic_torch_save
        step = 0
        while True:
            step += 1
            atomic_torch_save({{"step": step, "weights": torch.full((2_000_000,), float(step))}}, {str(target)!r})
        """
    )
    child = subprocess.Popen([sys.executable, "-c", writer])
    try:
        deadline = time.monotonic() + 60
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # several 8 MB saves in, so the kill lands in the middle of one
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    state = torch.load(target, weights_only=True)
    assert state["step"] >= 1
    assert torch.equal(state["weights"], torch.full((2_000_000,), float(state["step"])))


def test_loading_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Path("x")}, path)  # any non-allow-listed class
    with pytest.raises(ValueError, match=r"evil\.ckpt holds Python objects .*pathlib.*refuses"):
        AtomicCheckpointIO().load_checkpoint(path)


def test_every_trainer_config_writes_checkpoints_atomically(tmp_path):
    for trainer in ("default", "cpu", "ddp"):
        cfg = compose_offline_run(tmp_path, f"trainer={trainer}", "trainer.accelerator=cpu", "trainer.devices=1")
        plugins = instantiate(cfg.trainer.plugins)
        assert [type(p) for p in plugins] == [AtomicCheckpointIO], trainer


@pytest.mark.integration
def test_a_full_disk_during_training_keeps_last_ckpt_loadable(tmp_path, data_dir, monkeypatch):
    cfg = compose_offline_run(
        tmp_path,
        *TINY_AUTOENCODER,
        "trainer.max_steps=4",
        "callbacks.model_checkpoint.every_n_train_steps=2",
        "callbacks.model_checkpoint.save_on_exception=false",
        data_dir=data_dir,
    )

    def save_then_fill_the_disk(obj, handle, *args, **kwargs):
        if obj.get("global_step", 0) >= 4:
            return _disk_full_after(1000)(obj, handle, *args, **kwargs)
        return _REAL_SAVE(obj, handle, *args, **kwargs)

    monkeypatch.setattr(checkpoint_io.torch, "save", save_then_fill_the_disk)
    with pytest.raises(CheckpointWriteError, match="disk full"):
        run(cfg)
    monkeypatch.undo()
    last = Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 2
    assert not [p for p in Path(cfg.paths.run_checkpoint_dir).iterdir() if p.name.endswith(".tmp")]
    result = (Path(cfg.paths.run_dir) / "result.json").read_text()
    assert '"crashed"' in result and "disk full" in result


@pytest.mark.integration
@pytest.mark.parametrize("model", ["autoencoder", "cyclegan"])  # automatic and manual optimization
def test_timed_checkpoints_come_without_any_step_checkpoint(tmp_path, data_dir, model):
    tiny = TINY_AUTOENCODER if model == "autoencoder" else TINY_CYCLEGAN
    cfg = compose_offline_run(
        tmp_path,
        *tiny,
        "trainer.max_steps=4",
        "trainer.limit_val_batches=0",
        "~callbacks.model_checkpoint",
        "callbacks.timed_checkpoint.every_minutes=0.000001",
        data_dir=data_dir,
    )
    run(cfg)
    last = Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 4


@pytest.mark.integration
def test_timed_checkpoints_off_write_nothing(tmp_path, data_dir):
    cfg = compose_offline_run(
        tmp_path,
        *TINY_AUTOENCODER,
        "trainer.max_steps=2",
        "trainer.limit_val_batches=0",
        "~callbacks.model_checkpoint",
        "callbacks.timed_checkpoint.every_minutes=0",
        data_dir=data_dir,
    )
    run(cfg)
    assert not (Path(cfg.paths.run_checkpoint_dir) / "last.ckpt").exists()
