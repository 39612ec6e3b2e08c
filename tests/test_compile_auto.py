"""``stylenorm-stylize --compile auto``: the rule, the plan it is applied to, and what the command runs.

The plan (:func:`stylenorm.inference.jobs.planned_shapes`) predicts from file headers which padded input shapes
the command will feed the network, and how often, forming batches by the rule the command's runner uses
(:func:`stylenorm.inference.jobs.batches`); it is checked against the shapes a forward hook
records while the real command runs the same folder, so batching, padding, EXIF rotation, broken
files, animations and tiling are all compared with what actually happens. The rule
(:func:`stylenorm.speed.stylize_compile_pays`) is checked at its boundary, and the command is checked
to send exactly the chosen shapes through the compiled forward (the compile itself is replaced by a
recorder here; ``tests/test_speed.py`` compiles for real and compares pixels).
"""

import collections
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_stylize import smooth_image, write

from reference_networks import FastNeuralStyleNet, randomize_affine_
from stylenorm import speed
from stylenorm.inference import ZERO_TO_255, InferenceOptions, cli, stylizer
from stylenorm.inference.image_io import header_size
from stylenorm.inference.jobs import batches, frame_batches, plan_compile, plan_jobs, planned_shapes
from stylenorm.speed import STYLIZE_COMPILE_MIN_MEGAPIXELS, stylize_compile_pays


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A fast-neural-style .pth (size multiple 4): any weights do, the subject is shapes."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("compile_auto") / "mosaic.pth"
    torch.save(randomize_affine_(FastNeuralStyleNet()).state_dict(), path)
    return path


def rotated_jpeg(path: Path, height: int, width: int) -> Path:
    """A JPEG stored ``height x width`` whose EXIF says to turn it by 90 degrees (upright: ``width x height``)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return write(path, smooth_image(height, width, seed=5), exif=exif, quality=95)


def animation(path: Path, frames: int, size: int) -> Path:
    images = [Image.fromarray(smooth_image(size, size, seed=seed)) for seed in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0)
    return path


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    """Images in sorted order: two 30x40, a rotated phone photo that is 30x40 upright, a broken file,
    a 50x50 (tiled at --tile 48), two more 30x40, and a three-frame 20x20 animation."""
    folder = tmp_path / "photos"
    write(folder / "a1.png", smooth_image(30, 40, seed=1))
    write(folder / "a2.png", smooth_image(30, 40, seed=2))
    rotated_jpeg(folder / "a3.jpg", 40, 30)
    (folder / "b_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    write(folder / "c1.png", smooth_image(50, 50, seed=3))
    write(folder / "d1.png", smooth_image(30, 40, seed=4))
    write(folder / "d2.png", smooth_image(30, 40, seed=6))
    animation(folder / "e.gif", frames=3, size=20)
    return folder


class ShapeRecorder:
    """A forward pre-hook counting the ``(N, H, W)`` of every network call."""

    def __init__(self):
        self.calls = collections.Counter()

    def __call__(self, module, inputs):
        batch, _, height, width = inputs[0].shape
        self.calls[(batch, height, width)] += 1


def test_the_runner_and_the_plan_share_one_batching_rule():
    # Same-size images up to --batch-size; a tiled image (over --tile 48) or a clip (None) alone, ending the batch.
    small, wide, large = (30, 40), (20, 40), (50, 50)
    items = [small, small, small, None, small, large, small, wide, wide, wide]
    assert list(batches(items, lambda item: item, InferenceOptions(batch_size=2, tile=48))) == [
        [small, small], [small], [None], [small], [large], [small], [wide, wide], [wide]
    ]  # fmt: skip
    assert list(frame_batches(range(5), 2)) == [[0, 1], [2, 3], [4]]  # a clip's frames


def test_the_header_gives_the_upright_size_and_frames(mixed_folder):
    # (width, height, frames): stored 30 wide and 40 high, upright 40 wide and 30 high like the PNGs
    assert header_size(mixed_folder / "a3.jpg") == (40, 30, 1)
    assert header_size(mixed_folder / "e.gif") == (20, 20, 3)
    assert header_size(mixed_folder / "b_broken.png") is None


@pytest.mark.integration
@pytest.mark.parametrize(
    "options",
    [["--batch-size", "2", "--tile", "48", "--tile-stats", "per-tile"], ["--batch-size", "3", "--max-size", "36"]],
    ids=["batch2-tiled", "batch3-resized"],
)
def test_the_plan_predicts_the_shapes_the_command_runs(monkeypatch, tmp_path, mixed_folder, checkpoint, options):
    recorder, loaded = ShapeRecorder(), {}
    real_load = cli.load_stylizer

    def load_and_watch(*args, **kwargs):
        model = real_load(*args, **kwargs)
        model.network.register_forward_pre_hook(recorder)
        loaded["model"] = model
        return model

    monkeypatch.setattr(cli, "load_stylizer", load_and_watch)
    output = tmp_path / "out"
    argv = ["-c", str(checkpoint), "-i", str(mixed_folder), "-o", str(output), "--device", "cpu", "-q"]
    assert cli.main([*argv, "--precision", "fp32", "--compile", "never", *options]) == 1  # the broken file
    assert len(list(output.rglob("*.*"))) == 7

    flags = dict(zip(options[::2], options[1::2], strict=True))
    tile = int(flags["--tile"]) if "--tile" in flags else None
    max_size = int(flags["--max-size"]) if "--max-size" in flags else None
    flagged = InferenceOptions(batch_size=int(flags["--batch-size"]), max_size=max_size, tile=tile)
    planned = planned_shapes(plan_jobs([str(mixed_folder)], output), loaded["model"], flagged)
    assert len(planned) >= 4  # batches of several sizes, partial batches, the animation's frames
    if tile is None:
        assert planned == recorder.calls
    else:  # tiled images are not planned: what the plan leaves out is exactly the tiled image's calls
        tiled_alone = tmp_path / "tiled_alone"
        (tiled_alone / "c1.png").parent.mkdir()
        (tiled_alone / "c1.png").write_bytes((mixed_folder / "c1.png").read_bytes())
        everything = recorder.calls.copy()
        recorder.calls.clear()
        assert cli.main([*argv[:3], str(tiled_alone), "-o", str(tmp_path / "out2"), *argv[6:], *options]) == 0
        assert sum(recorder.calls.values()) >= 2  # it was cut into tiles
        assert everything - planned == recorder.calls and planned - everything == collections.Counter()


def test_the_rule_compiles_the_shapes_that_reach_the_threshold():
    at, under = (1, 1000, 800), (2, 512, 768)  # (N, H, W)
    just_under = 0.999 * STYLIZE_COMPILE_MIN_MEGAPIXELS
    chosen, reason = stylize_compile_pays({at: STYLIZE_COMPILE_MIN_MEGAPIXELS, under: just_under})
    assert chosen == {at}
    assert "compiling for 800x1000 px" in reason and "1 other shape(s) run eager" in reason
    chosen, reason = stylize_compile_pays({under: just_under})
    assert chosen == frozenset() and "too little to repay compiling" in reason
    chosen, reason = stylize_compile_pays({})
    assert chosen == frozenset() and "no untiled image" in reason


def test_plan_compile_modes_and_errors(mixed_folder, tmp_path):
    model = stylizer.Stylizer(torch.nn.Identity(), ZERO_TO_255, "identity")
    jobs = plan_jobs([str(mixed_folder)], tmp_path / "out")
    assert plan_compile("never", jobs, model)[:2] == (False, None)
    assert plan_compile("always", jobs, model)[:2] == (True, None)
    compiling, shapes, reason = plan_compile("auto", jobs, model)  # a few small images: far too little
    assert (compiling, shapes) == (False, frozenset()) and "too little" in reason
    with pytest.raises(ValueError, match="Unknown --compile 'sometimes'; expected one of auto, always, never"):
        plan_compile("sometimes", jobs, model)


def test_a_clip_sharing_statistics_over_frames_is_planned_eager(mixed_folder, tmp_path):
    model = stylizer.Stylizer(torch.nn.Identity(), ZERO_TO_255, "identity")
    jobs = plan_jobs([str(mixed_folder)], tmp_path / "out")
    per_frame = planned_shapes(jobs, model, InferenceOptions(batch_size=2))
    for frame_stats in ("clip", "window:2"):  # the statistics pass and the stylize pass run the hooked module
        shared = planned_shapes(jobs, model, InferenceOptions(batch_size=2, frame_stats=frame_stats))
        assert per_frame - shared == collections.Counter({(2, 20, 20): 1, (1, 20, 20): 1})  # the 3-frame clip
        assert shared - per_frame == collections.Counter()


class CompileRecorder:
    """Stands in for the compiled forward: records the shapes sent to it and runs the eager network."""

    def __init__(self):
        self.calls = collections.Counter()
        self.compiled = 0

    def compile(self, network):
        self.compiled += 1

        def forward(pixels):
            self.calls[(pixels.shape[0], pixels.shape[2], pixels.shape[3])] += 1
            return network(pixels)

        return forward


@pytest.fixture
def compile_recorder(monkeypatch) -> CompileRecorder:
    recorder = CompileRecorder()
    monkeypatch.setattr(stylizer, "compile_for_inference", recorder.compile)
    return recorder


def test_a_short_job_runs_eager_and_says_why(tmp_path, capsys, checkpoint, compile_recorder):
    photo = write(tmp_path / "photo.png", smooth_image(32, 40))
    assert cli.main(["-c", str(checkpoint), "-i", str(photo), "-o", str(tmp_path / "out.png"), "--device", "cpu",
                     "--precision", "fp32"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "(fp32, eager)" in out
    assert "--compile auto: 0.0 megapixels in 1 shape(s)" in out and "too little to repay compiling" in out
    assert compile_recorder.compiled == 0 and not compile_recorder.calls


@pytest.mark.integration
def test_auto_compiles_only_the_shape_the_job_repeats(monkeypatch, tmp_path, capsys, checkpoint, compile_recorder):
    folder = tmp_path / "photos"
    for index in range(3):
        write(folder / f"same{index}.png", smooth_image(32, 40, seed=index))
    write(folder / "odd.png", smooth_image(24, 24, seed=9))
    # Three 32x40 images reach the threshold, the one 24x24 does not.
    monkeypatch.setattr(speed, "STYLIZE_COMPILE_MIN_MEGAPIXELS", 3 * 32 * 40 / 1e6)
    argv = ["-c", str(checkpoint), "-i", str(folder), "-o", str(tmp_path / "out"), "--device", "cpu"]
    assert cli.main([*argv, "--precision", "fp32"]) == 0
    out = capsys.readouterr().out
    assert "(fp32, compiled)" in out and "compiling for 40x32 px; 1 other shape(s) run eager" in out
    assert compile_recorder.compiled == 1 and compile_recorder.calls == {(1, 32, 40): 3}
    compiled = {path.name: np.asarray(Image.open(path)) for path in (tmp_path / "out").iterdir()}
    assert cli.main([*argv[:5], str(tmp_path / "eager"), *argv[6:], "--precision", "fp32", "--compile", "never"]) == 0
    for path in (tmp_path / "eager").iterdir():  # the routing changes nothing else
        np.testing.assert_array_equal(np.asarray(Image.open(path)), compiled[path.name])


def test_bare_compile_means_always(tmp_path, capsys, checkpoint, compile_recorder):
    photo = write(tmp_path / "photo.png", smooth_image(32, 40))
    argv = ["-c", str(checkpoint), "-i", str(photo), "-o", str(tmp_path / "out.png"), "--device", "cpu"]
    assert cli.main([*argv, "--compile"]) == 0
    assert ", compiled)" in capsys.readouterr().out and compile_recorder.calls == {(1, 32, 40): 1}
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--compile", "sometimes"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--compile: invalid choice: 'sometimes'" in error and "always" in error
