"""The known-motion clips and the flicker metric, against computations made here by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylenorm.data.clips import CLIP_NAMES, Clip, motion_clips, translation_motion
from stylenorm.inference.flicker import compared_pixels, flicker, motion_from_flow


def hand_built_pan(count=6, size=(20, 24), step=(3, 2), seed=0, low=40, high=216):
    """Crops of one random picture at offsets t * step (the content moves by -step), built by slicing."""
    rng = np.random.default_rng(seed)
    height, width = size
    picture = rng.integers(low, high, (height + count * step[1], width + count * step[0], 3), dtype=np.uint8)
    frames = [picture[t * step[1] : t * step[1] + height, t * step[0] : t * step[0] + width] for t in range(count)]
    frames = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()
    source, valid = translation_motion([(-step[0], -step[1])] * (count - 1), height, width)
    return Clip("hand-built pan", frames, source, valid)


def test_the_identity_on_a_hand_built_pan_gives_zero():
    clip = hand_built_pan()
    score = flicker(clip.frames, clip)
    assert score.warp_error == pytest.approx(0, abs=1e-9) and score.global_flicker == pytest.approx(0, abs=1e-9)
    # The mask is what makes it zero: the entering column/row differs.
    unmasked = Clip(clip.name, clip.frames, clip.source, torch.ones_like(clip.valid))
    assert flicker(clip.frames, unmasked).warp_error > 1
    # Pixels compared: (20 - 2) x (24 - 3) of 20 x 24 per pair.
    assert flicker(clip.frames, clip).compared_fraction == pytest.approx(18 * 21 / (20 * 24))


def test_a_per_frame_colour_shift_gives_its_known_size():
    clip = hand_built_pan()
    rng = np.random.default_rng(5)
    shifts = rng.integers(-20, 21, (len(clip.frames), 3))  # within the picture's margin: nothing clips
    outputs = clip.frames.int() + torch.from_numpy(shifts)[:, :, None, None].int()
    assert int(outputs.min()) >= 0 and int(outputs.max()) <= 255
    expected = np.abs(np.diff(shifts, axis=0)).mean()  # each pair's |c_t+1 - c_t|, over channels and pairs
    score = flicker(outputs.to(torch.uint8), clip)
    assert score.warp_error == pytest.approx(expected, abs=1e-9)
    assert score.global_flicker == pytest.approx(expected, abs=1e-9)


def test_a_translation_equivariant_stylizer_has_no_flicker_inside_the_margin():
    torch.manual_seed(0)
    clip = hand_built_pan(count=5, size=(24, 28))
    network = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 3, 3, padding=1)
    ).double()
    with torch.no_grad():
        outputs = network(clip.frames.double()) * 3
    radius = 2  # two 3x3 convolutions
    assert flicker(outputs, clip, margin=radius).warp_error == pytest.approx(0, abs=1e-9)
    assert flicker(outputs, clip).warp_error > 0.1  # zero padding at the edges does move with the content


def test_the_margin_removes_edge_pixels_in_both_frames():
    source, valid = translation_motion([(-3, 0)], 10, 10)
    compared = compared_pixels(source, valid, margin=1)[0]
    # Frame t+1's columns 1..8 whose source column (x + 3) is in 1..8: x in 1..5; rows 1..8.
    expected = torch.zeros(10, 10, dtype=torch.bool)
    expected[1:9, 1:6] = True
    assert torch.equal(compared, expected)


def test_motion_from_a_backward_flow():
    flow = torch.zeros(1, 4, 5, 2)
    flow[..., 0] = 1.0  # every pixel came from one to its right
    source, valid = motion_from_flow(flow)
    assert source[0, 2, 3].tolist() == [4.0, 2.0] and not bool(valid[0, :, 4].any()) and bool(valid[0, :, :4].all())


@pytest.fixture(scope="module")
def clips():
    return {clip.name: clip for clip in motion_clips(size=48, count=6)}


def test_the_embedded_clips_are_their_own_known_answer(clips):
    assert tuple(clips) == CLIP_NAMES
    for name in ("pan", "entering"):  # whole-pixel motion: the input warps onto itself exactly
        assert flicker(clips[name].frames, clips[name]).warp_error == pytest.approx(0, abs=1e-9)
    # Zooming resamples the photo: a small floor. The fade changes every pixel by the gain step.
    assert 0 < flicker(clips["zoom"].frames, clips["zoom"]).warp_error < 4
    brightness = clips["brightness"]
    step = (brightness.frames[1:].double() - brightness.frames[:-1].double()).abs().mean()
    assert flicker(brightness.frames, brightness).warp_error == pytest.approx(float(step))


def test_the_entering_square_masks_what_it_uncovers_and_brings_in(clips):
    clip = clips["entering"]
    unmasked = Clip(clip.name, clip.frames, clip.source, torch.ones_like(clip.valid))
    assert flicker(clip.frames, unmasked).warp_error > 1
    assert 0.9 < float(clip.valid.float().mean()) < 1


def test_clips_are_the_same_on_every_run():
    first, second = motion_clips(("zoom",), size=32, count=3), motion_clips(("zoom",), size=32, count=3)
    assert torch.equal(first[0].frames, second[0].frames)


def test_mismatched_outputs_and_unknown_clips_are_named(clips):
    with pytest.raises(ValueError, match="stylize every frame at the clip's size"):
        flicker(clips["pan"].frames[:, :, :10], clips["pan"])
    with pytest.raises(ValueError, match="Unknown clip 'spin'"):
        motion_clips(("spin",))


def load_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "scripts" / "flicker.py"
    spec = importlib.util.spec_from_file_location("flicker_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_flicker_script_writes_one_row_per_checkpoint_clip_and_option(tmp_path, capsys):
    import pandas as pd
    from test_stylize import lightning_checkpoint

    from stylenorm.tasks.autoencoder import AutoencoderTask

    torch.manual_seed(0)
    paths = [
        lightning_checkpoint(
            AutoencoderTask(norm={"kind": kind}, network={"base_channels": 4}), tmp_path / f"{kind}.ckpt"
        )
        for kind in ("instance", "batch")
    ]
    script = load_script()
    args = ["--checkpoints", *map(str, paths), "--clips", "pan", "brightness", "--size", "24", "--frames", "4"]
    assert (
        script.main(
            [*args, "--frame-stats", "per-frame", "clip", "--truth", "colour_grade", "--csv", str(tmp_path / "f.csv")]
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "f.csv")
    assert len(table) == 2 * 2 + 2 * 2 * 2  # input and truth per clip, then checkpoint x clip x option
    assert set(table["norm"]) == {"input", "truth", "instance", "batch"}
    inputs = table[table["norm"] == "input"].set_index("clip")
    assert inputs.loc["pan", "warp_error"] == pytest.approx(0, abs=1e-9)
    # Batch norm in eval mode has no per-sample statistics: sharing them changes nothing.
    batch = table[table["norm"] == "batch"]
    assert (batch.groupby("clip")["warp_error"].nunique() == 1).all() and (batch["departure"] == 0).all()
    assert "instance" in capsys.readouterr().out


def test_the_flicker_preset_sweeps_every_norm_on_the_known_answer():
    from hydra import compose, initialize_config_dir

    from conftest import REPO_ROOT

    with initialize_config_dir(config_dir=str(REPO_ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=["experiment=flicker_autoencoder"], return_hydra_config=True)
    params = {key: str(value).split(",") for key, value in cfg.hydra.sweeper.params.items()}
    assert set(params["norm"]) == {"none", "batch", "instance", "group", "layer"} and len(params["seed"]) == 5
    assert cfg.data.known_answer == "colour_grade" and cfg.trainer.precision == "32-true"
    assert cfg.norm.channels_per_group == 4  # GN at widths 8 and 16: 2 and 4 groups, neither IN nor LN


def smooth_pan(count=6, size=64, step=(2, 1)):
    """A pan over a smooth random picture (Farnebäck fits quadratic polynomials: it needs texture, not noise)."""
    rng = np.random.default_rng(3)
    coarse = torch.from_numpy(rng.uniform(30, 225, (1, 3, 12, 12))).float()
    picture = torch.nn.functional.interpolate(coarse, size=(size + count * step[1], size + count * step[0]),
                                              mode="bicubic", align_corners=False)[0].clamp(0, 255)  # fmt: skip
    frames = [picture[:, t * step[1] : t * step[1] + size, t * step[0] : t * step[0] + size] for t in range(count)]
    return torch.stack(frames).round().to(torch.uint8)


def test_farneback_recovers_a_known_pan():
    pytest.importorskip("cv2", reason="the optional extra stylenorm[flow] (in .[dev])")
    from stylenorm.inference.flicker import farneback_flow

    flow = farneback_flow(smooth_pan())
    inner = flow[:, 8:-8, 8:-8]  # the window sliding 2 right, 1 down: each pixel came from (x + 2, y + 1)
    assert inner[..., 0].mean() == pytest.approx(2, abs=0.1) and inner[..., 1].mean() == pytest.approx(1, abs=0.1)


def test_a_video_file_is_measured_under_its_estimated_motion(tmp_path):
    pytest.importorskip("cv2", reason="the optional extra stylenorm[flow] (in .[dev])")
    from stylenorm.inference.flicker import video_clip
    from stylenorm.inference.video_io import save_video

    frames = smooth_pan(count=8, size=96)
    path = save_video(frames, tmp_path / "pan.mp4", 12)
    clip = video_clip(path, max_side=64, max_frames=6)
    assert tuple(clip.frames.shape) == (6, 3, 64, 64) and clip.fps == 12 and clip.name == "pan"
    # The identity under the estimated motion: about the codec's and the resampling's error, far below
    # the same frames compared as if nothing moved.
    estimated = flicker(clip.frames, clip).warp_error
    still = Clip("still", clip.frames, *translation_motion([(0, 0)] * 5, 64, 64))
    assert estimated < 3 and 4 * estimated < flicker(clip.frames, still).warp_error


def test_without_opencv_a_video_clip_says_which_extra_to_install(tmp_path, monkeypatch):
    import sys

    from stylenorm.inference.flicker import video_clip

    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'stylenorm\[flow\]'"):
        video_clip(tmp_path / "clip.mp4")


def test_the_flicker_script_measures_a_video_file_beside_an_embedded_clip(tmp_path):
    pytest.importorskip("cv2", reason="the optional extra stylenorm[flow] (in .[dev])")
    import pandas as pd
    from test_stylize import lightning_checkpoint

    from stylenorm.inference.video_io import save_video
    from stylenorm.tasks.autoencoder import AutoencoderTask

    torch.manual_seed(0)
    checkpoint = lightning_checkpoint(AutoencoderTask(norm={"kind": "instance"}, network={"base_channels": 4}),
                                      tmp_path / "in.ckpt")  # fmt: skip
    video = save_video(smooth_pan(count=5, size=48), tmp_path / "walk.mp4", 10)
    args = ["--checkpoints", str(checkpoint), "--clips", "pan", str(video), "--size", "24", "--frames", "4"]
    assert load_script().main([*args, "--frame-stats", "per-frame", "--csv", str(tmp_path / "f.csv")]) == 0
    table = pd.read_csv(tmp_path / "f.csv")
    assert set(table["clip"]) == {"pan", "walk"} and table["warp_error"].notna().all()
