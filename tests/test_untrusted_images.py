"""Image files from users: a decompression bomb is named and skipped while the rest of the folder is
written, and a huge image that is tiled shows its tile passes on a terminal (issue 26, case 1).

The bomb is real: a tiny PNG whose IHDR claims 20000 x 20000 pixels (400 megapixels, over Pillow's
guard of 2 x MAX_IMAGE_PIXELS), so Pillow raises DecompressionBombError - not an OSError - on opening.
"""

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO_ROOT
from reference_networks import FastNeuralStyleNet
from stylenorm.data import load_rgb
from stylenorm.inference import load_stylizer
from stylenorm.inference.cli import main
from stylenorm.inference.image_io import header_size
from stylenorm.inference.pipeline import stylize_batch
from stylenorm.inference.video import is_animated


def bomb_png(path: Path, width: int = 20000, height: int = 20000) -> Path:
    """A 1x1 PNG whose header (IHDR, CRC fixed) claims ``width x height``: a few bytes on disk."""
    Image.new("RGB", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"  # 8-byte signature, 4-byte length, then the chunk type
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def photo(path: Path, size=(40, 32), seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "mosaic.pth"
    torch.save(FastNeuralStyleNet().state_dict(), path)
    return path


@pytest.fixture
def folder_with_bomb(tmp_path) -> Path:
    folder = tmp_path / "in"
    photo(folder / "a.png", seed=1)
    bomb_png(folder / "b_bomb.png")
    photo(folder / "c.png", seed=2)
    return folder


def test_the_bomb_header_is_real(tmp_path):
    with pytest.raises(Image.DecompressionBombError):
        Image.open(bomb_png(tmp_path / "bomb.png"))
    assert (tmp_path / "bomb.png").stat().st_size < 100


def test_every_reader_turns_a_bomb_into_an_oserror_naming_the_limit(tmp_path):
    bomb = bomb_png(tmp_path / "bomb.png")
    assert header_size(bomb) is None  # --compile auto's planner leaves it to the command to name
    assert is_animated(bomb) is False  # the still-image path names it
    with pytest.raises(OSError, match=r"too large to decode safely .*178956970 pixels"):
        load_rgb(bomb)


@pytest.mark.parametrize("compile_mode", ["auto", "never"])
def test_a_bomb_in_a_folder_is_named_and_skipped_while_the_rest_is_written(
    tmp_path, capsys, checkpoint, folder_with_bomb, compile_mode
):
    out = tmp_path / "out"
    argv = ["-c", str(checkpoint), "-i", str(folder_with_bomb), "-o", str(out), "--compile", compile_mode]
    assert main(argv) == 1  # some images failed
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]
    assert f"skipped {folder_with_bomb / 'b_bomb.png'}: ImageTooLargeError: too large to decode safely" in captured.err
    assert "2 written, 1 failed" in captured.out and "Traceback" not in captured.err


@pytest.mark.integration
def test_the_installed_command_skips_a_bomb(tmp_path, checkpoint, folder_with_bomb):
    console_script = Path(sys.executable).parent / "stylenorm-stylize"
    command = [str(console_script)] if console_script.exists() else [sys.executable, "scripts/stylize.py"]
    done = subprocess.run(
        [*command, "-c", str(checkpoint), "-i", str(folder_with_bomb), "-o", str(tmp_path / "out")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert "b_bomb.png: ImageTooLargeError" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]


@pytest.mark.integration
def test_tile_progress_counts_every_network_call(tmp_path, checkpoint):
    model = load_stylizer(checkpoint, device="cpu")
    image = torch.from_numpy(np.array(load_rgb(photo(tmp_path / "p.png", size=(48, 48))))).permute(2, 0, 1)[None]
    calls, reported = [], []
    hook = model.network.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape))
    try:
        stylize_batch(image, model, tile=32, progress=lambda done, total: reported.append((done, total)))
    finally:
        hook.remove()
    total = reported[-1][1]
    assert reported == [(done, total) for done in range(1, total + 1)]  # one report per call, to the end
    assert total == len(calls) > 4  # exact statistics: a partial pass over the 4 tiles per norm layer


@pytest.mark.integration
def test_a_tiled_image_shows_its_tile_passes_on_a_terminal(tmp_path, checkpoint):
    source = photo(tmp_path / "big.png", size=(48, 48))
    controller, terminal = pty.openpty()  # a real terminal for the command's stderr: tqdm draws only there
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # 160 columns: room for the bar
    argv = ["-c", str(checkpoint), "-i", str(source), "-o", str(tmp_path / "out.png"), "--tile", "32"]
    shown = b""
    try:
        child = subprocess.Popen(
            [sys.executable, "scripts/stylize.py", *argv, "--tile-stats", "thumbnail", "--precision", "fp32"],
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=terminal,
        )
        # Read while our end of the terminal stays open: Linux drops what is unread once both ends close.
        while select.select([controller], [], [], 1.0)[0] or child.poll() is None:
            if select.select([controller], [], [], 0)[0]:
                shown += os.read(controller, 65536)
        returncode = child.wait(timeout=300)
    finally:
        os.close(terminal)
        os.close(controller)
    assert returncode == 0
    text = shown.decode(errors="replace")
    assert "big.png (48x48, thumbnail tile statistics)" in text
    assert "5/5 " in text  # the bar ran to its total: the thumbnail pass, then the 4 tiles


@pytest.mark.integration
def test_a_tiled_image_logs_its_tile_passes_without_a_terminal(tmp_path, checkpoint):
    """Output to a file (CI, SLURM, `> log`): progress lines instead of a bar, ending at the total."""
    source = photo(tmp_path / "big.png", size=(48, 48))
    argv = ["-c", str(checkpoint), "-i", str(source), "-o", str(tmp_path / "out.png"), "--tile", "32"]
    done = subprocess.run(
        [sys.executable, "scripts/stylize.py", *argv, "--tile-stats", "thumbnail", "--precision", "fp32"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "big.png (48x48, thumbnail tile statistics): 5/5 tile passes" in done.stderr
