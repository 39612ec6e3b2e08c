"""A full disk says "disk full", where, and which checkpoint is the last good one, with the step read
from it (issue 26, case 3).

torch's zip writer turns the file's ``OSError(ENOSPC)`` into ``RuntimeError: ... unexpected pos`` when
it closes the archive, so these tests save for real: into a file object whose writes fail with ENOSPC
after N bytes, and into a size-limited tmpfs (where this machine lets the test mount one; root only).
"""

import errno
import io
import logging
import subprocess
import uuid

import pytest
import torch

from conftest import compose_offline_run
from stylenorm.checkpoint_io import CheckpointWriteError, atomic_torch_save, checkpoint_step, torch_save_to


class FillingFile(io.RawIOBase):
    """A disk with ``room`` bytes left: writes beyond it fail with ENOSPC, as a full disk's do."""

    def __init__(self, room: int):
        self.room = room
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.written + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.written += len(data)
        return len(data)


def test_torchs_zip_writer_error_is_recognised_as_the_full_disk_it_is():
    handle = io.BufferedWriter(FillingFile(room=5000))
    with pytest.raises(RuntimeError, match="unexpected pos"):  # what torch.save itself says
        torch.save({"weights": torch.zeros(100_000)}, io.BufferedWriter(FillingFile(room=5000)))
    with pytest.raises(OSError) as raised:
        torch_save_to({"weights": torch.zeros(100_000)}, handle)
    assert raised.value.errno == errno.ENOSPC


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs at ``tmp_path / "disk"``; skipped where mounting is not permitted."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", f"stylenorm-test-{uuid.uuid4().hex[:8]}", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_full_tmpfs_keeps_the_last_good_checkpoint_and_names_it_with_its_step(small_disk):
    target = small_disk / "last.ckpt"
    atomic_torch_save({"global_step": 4, "weights": torch.zeros(50_000)}, target)  # 200 kB
    before = target.read_bytes()
    with pytest.raises(CheckpointWriteError) as raised:
        atomic_torch_save({"global_step": 5, "weights": torch.zeros(250_000)}, target)  # 1 MB: no room
    message = str(raised.value)
    assert raised.value.errno == errno.ENOSPC
    assert f"Could not write checkpoint {target}: disk full (the disk holding {small_disk} is full" in message
    assert f"The last good checkpoint is {target} (step 4), intact." in message
    assert target.read_bytes() == before and sorted(p.name for p in small_disk.iterdir()) == ["last.ckpt"]
    # a step checkpoint that does not fit names last.ckpt as the one to resume from
    with pytest.raises(CheckpointWriteError, match=rf"The last good checkpoint is {target} \(step 4\)"):
        atomic_torch_save({"global_step": 6, "weights": torch.zeros(250_000)}, small_disk / "step0000006.ckpt")


@pytest.mark.integration
def test_a_run_stopped_by_a_full_disk_names_the_real_step_of_its_last_checkpoint(tmp_path, small_disk, caplog):
    from stylenorm.train import run

    cfg = compose_offline_run(
        tmp_path,
        "model=autoencoder",
        "data.image_size=32",
        "model.network.base_channels=16",  # checkpoints of about 300 kB: the second pair no longer fits
        "data.batch_size=2",
        "trainer.precision=32-true",
        "trainer.max_steps=8",
        "trainer.limit_val_batches=0",
        "callbacks.model_checkpoint.every_n_train_steps=2",
        f"paths.checkpoint_dir={small_disk}",
    )
    with caplog.at_level(logging.ERROR), pytest.raises(CheckpointWriteError, match="disk full"):
        run(cfg)
    last = next(small_disk.rglob("last.ckpt"))
    step = checkpoint_step(last)
    assert step is not None and step < 8
    stopped = [r.getMessage() for r in caplog.records if "Stopped at step" in r.getMessage()]
    assert stopped and f"{last}, holds step {step}" in stopped[0]
    assert not list(small_disk.rglob("*.tmp"))
