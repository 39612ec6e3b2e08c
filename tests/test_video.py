"""Video stylization: statistics shared across frames (unit tier) and real video files through the command
(integration)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from stylenorm.inference import Stylizer
from stylenorm.inference.stylizer import ZERO_TO_255
from stylenorm.inference.tile_statistics import parse_frame_statistics, window_indices
from stylenorm.inference.video import stylize_clip
from stylenorm.nn.norm import NormSpec


def one_norm_network(kind="instance", channels=4, seed=0):
    """conv -> norm -> conv: the norm's statistics are those of the first conv's output, computable by hand."""
    torch.manual_seed(seed)
    network = torch.nn.Sequential(
        torch.nn.Conv2d(3, channels, 3, padding=1),
        NormSpec(kind=kind, affine=True)(channels, name="n"),
        torch.nn.Conv2d(channels, 3, 1),
    )
    with torch.no_grad():
        network[2].weight.mul_(40)
        network[2].bias.fill_(128)
    return network.eval()


def stylizer(network):
    return Stylizer(network, ZERO_TO_255, "test network")


def smooth_frames(count=5, size=(12, 16), seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(30, 220, (3, *size)).astype(np.float64)
    frames = [np.clip(base * (0.6 + 0.1 * t) + 10 * t, 0, 255) for t in range(count)]
    return torch.from_numpy(np.round(np.stack(frames))).to(torch.uint8)


def test_window_names_and_indices():
    assert parse_frame_statistics("per-frame") == 1 and parse_frame_statistics("clip") is None
    assert parse_frame_statistics("window:9") == 9
    for bad in ("window:0", "window:x", "shot"):
        with pytest.raises(ValueError, match="per-frame, clip or window:N"):
            parse_frame_statistics(bad)
    assert window_indices(0, 10, 3) == slice(0, 3) and window_indices(5, 10, 3) == slice(4, 7)
    assert window_indices(9, 10, 4) == slice(6, 10) and window_indices(2, 3, 7) == slice(0, 3)


def by_hand(network, frames, group):
    """The network with the norm's statistics taken over the frames ``group`` (indices) side by side."""
    with torch.no_grad():
        features = network[0](frames.float())
        joined = torch.cat(list(features[group]), dim=-1)[None]  # frames side by side: one image
        mean = joined.mean(dim=(2, 3), keepdim=True)[0]
        var = joined.var(dim=(2, 3), keepdim=True, correction=0)[0]
        return network[2]((features - mean) / torch.sqrt(var + network[1].eps))


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_clip_statistics_are_the_statistics_of_all_frames_together(batch_size):
    network, frames = one_norm_network(), smooth_frames()
    outputs = torch.stack(
        list(stylize_clip(lambda: iter(frames), stylizer(network), frame_stats="clip", batch_size=batch_size))
    )
    expected = by_hand(network, frames, list(range(len(frames))))
    assert (outputs.float() - expected.round().clamp(0, 255)).abs().max() <= 1


def test_a_window_pools_the_frames_around_each_frame():
    network, frames = one_norm_network(), smooth_frames(count=6)
    outputs = torch.stack(list(stylize_clip(lambda: iter(frames), stylizer(network), frame_stats="window:3")))
    for index in range(len(frames)):
        window = window_indices(index, len(frames), 3)
        expected = by_hand(network, frames, list(range(window.start, window.stop)))[index]
        assert (outputs[index].float() - expected.round().clamp(0, 255)).abs().max() <= 1


def test_per_frame_and_a_window_of_one_are_the_plain_network():
    network, frames = one_norm_network(), smooth_frames()
    model = stylizer(network)
    plain = torch.stack(list(stylize_clip(lambda: iter(frames), model)))
    one = torch.stack(list(stylize_clip(lambda: iter(frames), model, frame_stats="window:1")))
    with torch.no_grad():
        expected = network(frames.float()).round().clamp(0, 255)
    assert torch.equal(plain, one) and (plain.float() - expected).abs().max() <= 1


def test_group_norm_and_identical_frames():
    network = one_norm_network("group", channels=8)
    frame = smooth_frames(count=1)[0]
    frames = frame.expand(4, -1, -1, -1).contiguous()  # a still clip: shared statistics are each frame's own
    shared = torch.stack(list(stylize_clip(lambda: iter(frames), stylizer(network), frame_stats="clip")))
    plain = torch.stack(list(stylize_clip(lambda: iter(frames), stylizer(network))))
    assert (shared.int() - plain.int()).abs().max() <= 1


def test_batch_norm_in_eval_mode_is_unaffected():
    network, frames = one_norm_network("batch"), smooth_frames()
    shared = torch.stack(list(stylize_clip(lambda: iter(frames), stylizer(network), frame_stats="clip")))
    plain = torch.stack(list(stylize_clip(lambda: iter(frames), stylizer(network))))
    assert torch.equal(shared, plain)


def test_tiled_frames_share_statistics_like_untiled_ones():
    torch.manual_seed(2)
    norm = NormSpec(kind="instance", affine=True)
    network = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), norm(4, name="a"), torch.nn.ReLU(),
        torch.nn.Conv2d(4, 4, 3, padding=1), norm(4, name="b"), torch.nn.Conv2d(4, 3, 1),
    ).eval()  # fmt: skip
    with torch.no_grad():
        network[5].weight.mul_(40)
        network[5].bias.fill_(128)
    frames = smooth_frames(count=3, size=(32, 40))
    model = stylizer(network)
    options = {"frame_stats": "clip", "batch_size": 3}
    untiled = torch.stack(list(stylize_clip(lambda: iter(frames), model, **options)))
    tiled = torch.stack(list(stylize_clip(lambda: iter(frames), model, tile=16, overlap=8, **options)))
    per_frame = torch.stack(list(stylize_clip(lambda: iter(frames), model)))
    assert (tiled.int() - untiled.int()).abs().max() <= 1  # exact statistics, overlap covering the 2 px radius
    assert (per_frame.float() - untiled.float()).abs().mean() > 2


def test_per_tile_statistics_cannot_be_shared():
    frames = smooth_frames(count=2, size=(40, 48))
    with pytest.raises(ValueError, match="--tile-stats exact or thumbnail"):
        list(stylize_clip(lambda: iter(frames), stylizer(one_norm_network()), frame_stats="clip", tile=16, overlap=4,
                          tile_stats="per-tile"))  # fmt: skip


def test_shared_statistics_give_back_what_per_frame_ones_take_away_under_a_fade():
    """Instance norm right after a linear layer is blind to a global fade per frame; shared statistics
    are not (the trade: per-frame adaptation vs stability), measured with the known-motion metric."""
    from stylenorm.data.clips import motion_clips
    from stylenorm.inference.flicker import flicker

    clip = motion_clips(("brightness",), size=32, count=5)[0]
    network = one_norm_network()
    with torch.no_grad():
        network[0].bias.zero_()  # conv(g x) = g conv(x): instance norm removes g exactly
    model = stylizer(network)
    per_frame = torch.stack(list(stylize_clip(lambda: iter(clip.frames), model)))
    shared = torch.stack(list(stylize_clip(lambda: iter(clip.frames), model, frame_stats="clip")))
    assert flicker(per_frame, clip).warp_error < 0.6 < 1.2 < flicker(shared, clip).warp_error


# ------------------------------------------------------------------- files through the command


def make_video(path: Path, count=8, size=(32, 32), rate=12, audio=True, seed=0) -> np.ndarray:
    """An H.264 clip of ``count`` smooth random frames (and a 440 Hz tone); returns the frames written."""
    import av

    rng = np.random.default_rng(seed)
    height, width = size
    coarse = rng.integers(20, 235, (count, height // 4 + 1, width // 4 + 1, 3)).astype(np.uint8)
    frames = np.stack([np.kron(c, np.ones((4, 4, 1), np.uint8))[:height, :width] for c in coarse])
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv444p" if width % 2 or height % 2 else "yuv420p"
        sound = container.add_stream("aac", rate=44100) if audio else None
        for index, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = index
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        if sound is not None:
            samples = np.sin(2 * np.pi * 440 * np.arange(44100 * count // rate) / 44100).astype(np.float32)
            chunk = av.AudioFrame.from_ndarray(0.3 * samples[None], format="flt", layout="mono")
            chunk.sample_rate = 44100
            container.mux(sound.encode(chunk))
            container.mux(sound.encode(None))
    return frames


def test_a_video_is_written_whole_or_not_at_all(tmp_path):
    from stylenorm.inference.video_io import read_video, video_writer

    frame = np.full((16, 16, 3), 128, dtype=np.uint8)
    with pytest.raises(RuntimeError, match="stopped"), video_writer(tmp_path / "a.mp4", Fraction(12)) as write:
        write(frame)
        raise RuntimeError("stopped")
    with pytest.raises(ValueError, match="No frames to write to"), video_writer(tmp_path / "b.mp4", Fraction(12)):
        pass
    assert not list(tmp_path.iterdir())  # neither a result nor a temporary file
    with video_writer(tmp_path / "c.mp4", Fraction(12)) as write:
        write(frame)
        write(frame)
    assert [path.name for path in tmp_path.iterdir()] == ["c.mp4"] and len(list(read_video(tmp_path / "c.mp4"))) == 2


@pytest.fixture(scope="module")
def style_checkpoint(tmp_path_factory):
    from test_stylize import lightning_checkpoint, smooth_image, spread_output_

    from reference_networks import randomize_affine_
    from stylenorm.tasks.style import StyleTransferTask

    torch.manual_seed(4)
    task = StyleTransferTask(norm={"kind": "instance"}, network={"num_residual_blocks": 1}, vgg_weights="random")
    # Spread over the gray levels (an untrained network's output is nearly flat, which would hide differences).
    randomize_affine_(task.transformer)
    sample = torch.from_numpy(smooth_image(32, 32, seed=9)).permute(2, 0, 1)[None].float()
    spread_output_(task.transformer.conv_out.conv, task.transformer, sample, target_std=60.0)
    with torch.no_grad():
        task.transformer.conv_out.conv.bias += 127.0
    return lightning_checkpoint(task, tmp_path_factory.mktemp("ckpt") / "style.ckpt")


@pytest.mark.integration
def test_a_video_round_trips_through_the_command(tmp_path, capsys, style_checkpoint):
    from stylenorm.inference import load_stylizer, stylize_batch
    from stylenorm.inference.cli import main
    from stylenorm.inference.video_io import probe_video, read_video

    clip = tmp_path / "clip.mp4"
    make_video(clip)
    base = ["-c", str(style_checkpoint), "-i", str(clip), "--precision", "fp32", "--batch-size", "3"]
    assert main([*base, "-o", str(tmp_path / "out.mp4")]) == 0
    info = probe_video(tmp_path / "out.mp4")
    assert (info.width, info.height, info.rate, info.has_audio) == (32, 32, Fraction(12), True)
    assert len(list(read_video(tmp_path / "out.mp4"))) == 8
    # Frames as PNG are the decoded input frames through the image pipeline: equal but for a float sum that
    # lands on the other side of a rounding boundary (another batch size or memory layout sums in another order).
    assert main([*base, "-o", str(tmp_path / "frames")]) == 0
    written = sorted((tmp_path / "frames").iterdir())
    assert [p.name for p in written] == [f"{i:06d}.png" for i in range(8)]
    decoded = torch.from_numpy(np.stack([f.pixels for f in read_video(clip)])).permute(0, 3, 1, 2)
    expected = stylize_batch(decoded, load_stylizer(style_checkpoint, device="cpu"), precision="fp32")
    from PIL import Image

    got = torch.from_numpy(np.stack([np.asarray(Image.open(p)) for p in written])).permute(0, 3, 1, 2)
    off_by = (got.int() - expected.int()).abs()
    assert off_by.max() <= 1 and (off_by > 0).float().mean() < 1e-3, (off_by.max(), (off_by > 0).sum())
    # An animated GIF with the frame period; shared statistics through the command.
    assert main([*base, "-o", str(tmp_path / "out.gif"), "--frame-stats", "window:3"]) == 0
    with Image.open(tmp_path / "out.gif") as gif:
        assert gif.n_frames == 8 and gif.info["duration"] == pytest.approx(83, abs=5)  # GIF counts in 10 ms
    assert not [*tmp_path.rglob(".frames.*"), *tmp_path.rglob(".*.tmp")]  # no temporary file or folder left


@pytest.mark.integration
def test_odd_sizes_and_other_containers_keep_their_size(tmp_path, style_checkpoint):
    from stylenorm.inference.cli import main
    from stylenorm.inference.video_io import probe_video, read_video

    clip = tmp_path / "odd.mp4"
    make_video(clip, count=4, size=(31, 33), audio=False)
    for name in ("out.mp4", "out.webm", "out.mkv"):
        assert main(["-c", str(style_checkpoint), "-i", str(clip), "-o", str(tmp_path / name), "-q"]) == 0
        info = probe_video(tmp_path / name)
        assert (info.width, info.height, info.has_audio) == (33, 31, False)
        assert len(list(read_video(tmp_path / name))) == 4


@pytest.mark.integration
def test_a_broken_video_is_named_and_nothing_is_left_behind(tmp_path, capsys, style_checkpoint):
    from stylenorm.inference.cli import main

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    output = tmp_path / "out"
    output.mkdir()
    assert main(["-c", str(style_checkpoint), "-i", str(broken), "-o", str(output / "styled.mp4")]) == 1
    assert "broken.mp4" in capsys.readouterr().err
    assert list(output.iterdir()) == []
    assert main(["-c", str(style_checkpoint), "-i", str(tmp_path / "missing.mp4"), "-o", str(output / "x.mp4")]) == 2
    assert "missing.mp4" in capsys.readouterr().err


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory, style_checkpoint):
    """A checkpoint of each kind the command stylizes with (untrained weights, real files)."""
    from test_stylize import lightning_checkpoint

    from stylenorm.tasks.adain import AdaINTask
    from stylenorm.tasks.autoencoder import AutoencoderTask
    from stylenorm.tasks.cyclegan import CycleGANTask
    from stylenorm.tasks.style import StyleTransferTask

    folder = tmp_path_factory.mktemp("kinds")
    torch.manual_seed(5)
    conditional = StyleTransferTask(
        norm={"kind": "conditional_instance", "num_styles": 2}, network={"num_residual_blocks": 1},
        vgg_weights="random",
    )  # fmt: skip
    cyclegan = CycleGANTask(
        norm={"kind": "instance"}, generator={"ngf": 8, "n_blocks": 1}, discriminator={"ndf": 8, "n_layers": 1}
    )
    autoencoder = AutoencoderTask(norm={"kind": "group"}, network={"base_channels": 8})
    adain = AdaINTask(norm={"kind": "none"}, network={"width": 8}, encoder_weights="random")
    style_image = folder / "painting.png"
    from PIL import Image

    Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(style_image)
    return {
        "transformer": (style_checkpoint, []),
        "cyclegan AtoB": (lightning_checkpoint(cyclegan, folder / "cyclegan.ckpt"), []),
        "cyclegan BtoA": (folder / "cyclegan.ckpt", ["--direction", "BtoA"]),
        "autoencoder": (lightning_checkpoint(autoencoder, folder / "autoencoder.ckpt"), []),
        "conditional IN": (lightning_checkpoint(conditional, folder / "cin.ckpt"), ["--style-mix", "0.3,0.7"]),
        "AdaIN": (
            lightning_checkpoint(adain, folder / "adain.ckpt"), ["--style-image", str(style_image), "--alpha", "0.8"]
        ),
    }  # fmt: skip


@pytest.mark.integration
@pytest.mark.parametrize("frame_stats", ["per-frame", "window:3"])
def test_an_embedded_clip_stylizes_with_every_checkpoint_kind(tmp_path, capsys, every_kind, frame_stats):
    from stylenorm.data.clips import motion_clips
    from stylenorm.inference.cli import main
    from stylenorm.inference.video_io import probe_video, read_video, save_video

    clip = motion_clips(("pan",), size=32, count=6)[0]
    source = save_video(clip.frames, tmp_path / "pan.mp4", clip.fps)
    for kind, (checkpoint, options) in every_kind.items():
        target = tmp_path / f"{kind.replace(' ', '_')}.mp4"
        code = main(["-c", str(checkpoint), "-i", str(source), "-o", str(target), "--frame-stats", frame_stats, "-q",
                     "--batch-size", "4", *options])  # fmt: skip
        assert code == 0, (kind, capsys.readouterr().err)
        info = probe_video(target)
        assert (info.width, info.height, info.rate) == (32, 32, Fraction(clip.fps)), kind
        assert len(list(read_video(target))) == 6, kind


@pytest.mark.integration
def test_an_animated_gif_shares_statistics_when_asked(tmp_path, style_checkpoint):
    from PIL import Image, ImageSequence

    from stylenorm.inference import load_stylizer
    from stylenorm.inference.cli import main

    frames = smooth_frames(count=3, size=(24, 32))
    pictures = [Image.fromarray(frame.permute(1, 2, 0).numpy()) for frame in frames]
    pictures[0].save(tmp_path / "clip.png", save_all=True, append_images=pictures[1:], duration=100, loop=0)  # APNG
    base = ["-c", str(style_checkpoint), "-i", str(tmp_path / "clip.png"), "--precision", "fp32", "-q"]
    assert main([*base, "-o", str(tmp_path / "shared.png"), "--frame-stats", "clip"]) == 0
    with Image.open(tmp_path / "clip.png") as clip:  # what the animation reader decodes
        decoded = torch.stack(
            [
                torch.from_numpy(np.asarray(f.convert("RGB")).copy()).permute(2, 0, 1)
                for f in ImageSequence.Iterator(clip)
            ]
        )
    model = load_stylizer(style_checkpoint)
    expected = list(stylize_clip(lambda: iter(decoded), model, frame_stats="clip"))
    per_frame = list(stylize_clip(lambda: iter(decoded), model))
    assert max((a.int() - b.int()).abs().max() for a, b in zip(expected, per_frame, strict=True)) > 5
    with Image.open(tmp_path / "shared.png") as result:
        written = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(result)]
    for frame, output in zip(written, expected, strict=True):
        assert np.abs(frame.astype(int) - output.permute(1, 2, 0).numpy().astype(int)).max() <= 1
