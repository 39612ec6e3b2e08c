"""Files the project writes reach their path whole and checked, or not at all (issue 26, case 2).

Exports through a hard link to the checkpoint are refused (``os.path.samefile``); a failed export
check keeps an earlier file at the path; ``--tolerance`` is a finite number >= 0; files follow the
umask; and temporary files of a process killed mid-write are removed at the next start.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from reference_networks import FastNeuralStyleNet
from stylenorm.checkpoint_io import AtomicCheckpointIO, atomic_torch_save
from stylenorm.inference.cli import export_main
from stylenorm.run_record import write_result


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("model") / "ae.ckpt"
    torch.save(FastNeuralStyleNet().state_dict(), path)
    return path


def export(checkpoint: Path, output: Path, *options: str) -> int:
    return export_main(["-c", str(checkpoint), "--checkpoint-format", "fast_neural_style", "-o", str(output),
                        "--sample-size", "32", *options])  # fmt: skip


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_export_through_a_hard_link_to_the_checkpoint_is_refused(tmp_path, checkpoint, capsys):
    original = tmp_path / "ae.ckpt"
    original.write_bytes(checkpoint.read_bytes())
    before = original.read_bytes()
    os.link(original, tmp_path / "hard.onnx")  # one file, two names
    assert export(original, tmp_path / "hard.onnx") == 2
    assert "is the checkpoint being exported" in capsys.readouterr().err
    assert original.read_bytes() == before


@pytest.mark.integration
def test_a_failed_export_check_keeps_the_earlier_file(tmp_path, checkpoint, capsys):
    pytest.importorskip("onnxruntime")
    good = tmp_path / "good.onnx"
    assert export(checkpoint, good) == 0
    before = good.read_bytes()
    # onnxruntime and PyTorch differ by about 1e-8 here: a tolerance of 0 is a real failing check
    assert export(checkpoint, good, "--tolerance", "0") == 1
    error = capsys.readouterr().err
    assert "above the tolerance 0" in error and "the earlier file there is unchanged" in error
    assert good.read_bytes() == before and temporaries(tmp_path) == []
    assert export(checkpoint, tmp_path / "new.onnx", "--tolerance", "0") == 1
    assert "nothing was written" in capsys.readouterr().err and not (tmp_path / "new.onnx").exists()


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "abc"])
def test_the_tolerance_is_a_finite_number_at_least_zero(tmp_path, checkpoint, capsys, value):
    with pytest.raises(SystemExit) as stopped:
        export(checkpoint, tmp_path / "m.onnx", "--tolerance", value)
    assert stopped.value.code == 2
    assert "argument --tolerance: expected a" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


@pytest.mark.integration
def test_written_files_follow_the_umask(tmp_path, checkpoint, umask_027):
    atomic_torch_save({"global_step": 1}, tmp_path / "last.ckpt")
    assert export(checkpoint, tmp_path / "m.pt") == 0
    write_result(tmp_path, "finished", 1, {})
    for name in ("last.ckpt", "m.pt", "result.json"):
        assert oct((tmp_path / name).stat().st_mode & 0o777) == oct(0o640), name  # 0666 minus the umask


def kill_mid_write(folder: Path, code: str) -> None:
    """Run ``code`` in a child and SIGKILL it once a temporary file shows up in ``folder``."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)])
    try:
        deadline = time.monotonic() + 120
        while not [p for p in folder.glob(".*.tmp")] and time.monotonic() < deadline:
            assert child.poll() is None, "the writer ended before writing"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)


@pytest.mark.integration
def test_a_killed_checkpoint_writes_temporary_file_is_removed_when_training_resumes(tmp_path):
    target = tmp_path / "last.ckpt"
    atomic_torch_save({"global_step": 1}, target)
    kill_mid_write(
        tmp_path,
        f"""
        import torch
        from stylenorm.checkpoint_io import atomic_torch_save
        while True:
            atomic_torch_save({{"global_step": 2, "weights": torch.ones(4_000_000)}}, {str(target)!r})
        """,
    )
    assert [name for name in temporaries(tmp_path) if name.startswith(".last.ckpt.")]  # what SIGKILL leaves
    state = AtomicCheckpointIO().load_checkpoint(target)  # what a resume does first
    assert state["global_step"] in (1, 2) and temporaries(tmp_path) == []


@pytest.mark.integration
def test_a_killed_exports_temporary_file_is_removed_by_the_next_export(tmp_path, checkpoint):
    output = tmp_path / "m.pt"
    kill_mid_write(
        tmp_path,
        f"""
        import time
        from stylenorm.atomic_files import atomic_path
        with atomic_path({str(output)!r}):
            time.sleep(600)  # killed in here, as by the OOM killer during a long export
        """,
    )
    assert temporaries(tmp_path)
    assert export(checkpoint, output) == 0
    assert temporaries(tmp_path) == [] and output.is_file()


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    from stylenorm.atomic_files import remove_stale_temporaries, temporary_name

    live = temporary_name(tmp_path / "last.ckpt")  # this process: alive
    live.write_bytes(b"partial")
    assert remove_stale_temporaries(tmp_path) == []
    atomic_torch_save({"global_step": 3}, tmp_path / "last.ckpt")
    assert live.exists()


def test_temporary_files_of_the_earlier_naming_are_removed_and_other_dotfiles_kept(tmp_path):
    from stylenorm.atomic_files import remove_stale_temporaries

    # tempfile.mkstemp(prefix=".last.ckpt.", suffix=".tmp"), as versions before the host-pid names wrote them
    legacy = tmp_path / ".last.ckpt.k2j_9xq1.tmp"
    other_target = tmp_path / ".export.onnx.a1b2c3d4.tmp"
    kept = [tmp_path / ".notes.tmp", tmp_path / ".last.ckpt.tmp", tmp_path / "last.ckpt"]
    for path in [legacy, other_target, *kept]:
        path.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path, name="last.ckpt") == [legacy]  # only the named target's
    assert remove_stale_temporaries(tmp_path) == [other_target]
    assert all(path.exists() for path in kept)
