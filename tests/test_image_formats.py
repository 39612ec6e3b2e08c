"""GIFs, animations, colour profiles and unwritable outputs, as users' files have them.

Issue: a GIF in an input folder was skipped without being named, an animated GIF silently became its
first frame, ``-o x.gif`` made a folder, colour profiles were ignored (Display-P3 and CMYK photos
lost their colours), and a read-only output was discovered only after every image was stylized.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from icc_profiles import linear_rgb_profile
from PIL import Image, ImageSequence
from test_stylize import spread_output_

from reference_networks import FastNeuralStyleNet, randomize_affine_
from stylenorm.data.images import ColourProfileWarning, list_images, load_rgb
from stylenorm.inference import load_stylizer, stylize
from stylenorm.inference.cli import main


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1: linear light in [0, 1] -> sRGB-encoded [0, 1] (written out, not taken from a library)."""
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.power(linear, 1 / 2.4) - 0.055)


def photo(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nets") / "mosaic.pth"
    torch.manual_seed(3)
    network = randomize_affine_(FastNeuralStyleNet()).eval()
    sample = torch.from_numpy(photo()).permute(2, 0, 1)[None].float()
    spread_output_(network.deconv3.conv2d, network, sample, target_std=60.0)
    with torch.no_grad():
        network.deconv3.conv2d.bias += 127.0  # outputs spread around mid-gray, not clamped flat
    torch.save(network.state_dict(), path)
    return path


def test_an_icc_profile_is_converted_to_srgb(tmp_path):
    array = photo()
    path = tmp_path / "linear.png"
    Image.fromarray(array).save(path, icc_profile=linear_rgb_profile())
    expected = np.rint(srgb_encode(array / 255.0) * 255)
    ours = np.asarray(load_rgb(path)).astype(float)
    assert np.abs(ours - expected).max() <= 2  # littleCMS's 8-bit transform against the formula
    assert np.abs(ours - array).mean() > 20  # ignoring the profile would be far off
    with Image.open(path) as opened:  # the Python API's in-memory path sees the same pixels
        api = np.asarray(stylize(opened, load_stylizer_identity()))
    assert np.abs(api.astype(float) - expected).max() <= 2


def load_stylizer_identity():
    """A stylizer whose network returns its input (0-255 in and out): shows the pixels it was given."""
    from stylenorm.inference.stylizer import ZERO_TO_255, Stylizer

    return Stylizer(torch.nn.Identity(), ZERO_TO_255, "identity")


def test_srgb_tagged_and_untagged_images_are_unchanged(tmp_path):
    from PIL import ImageCms

    array = photo(seed=1)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(array).save(tmp_path / "srgb.png", icc_profile=srgb)
    Image.fromarray(array).save(tmp_path / "plain.png")
    assert np.array_equal(np.asarray(load_rgb(tmp_path / "srgb.png")), array)
    assert np.array_equal(np.asarray(load_rgb(tmp_path / "plain.png")), array)


def test_a_broken_profile_is_named_and_the_pixels_kept(tmp_path):
    array = photo(seed=2)
    path = tmp_path / "broken_profile.png"
    Image.fromarray(array).save(path, icc_profile=b"not an icc profile at all" * 8)
    with pytest.warns(ColourProfileWarning, match=r"broken_profile\.png: its embedded colour profile"):
        rgb = load_rgb(path)
    assert np.array_equal(np.asarray(rgb), array)


def test_still_gifs_are_images(tmp_path):
    palette_image = Image.fromarray(photo(seed=3)).quantize(16)
    palette_image.save(tmp_path / "still.gif")
    assert list_images(tmp_path) == [tmp_path / "still.gif"]
    assert np.array_equal(np.asarray(load_rgb(tmp_path / "still.gif")), np.asarray(palette_image.convert("RGB")))


def frame_image(index: int) -> Image.Image:
    """Frame ``index``: a different picture each time (flat colours would all look alike to instance norm)."""
    array = photo(seed=10 + index) // 2
    array[..., index % 3] += 120  # and a colour of its own
    return Image.fromarray(array)


def write_animation(path: Path, colours, durations) -> None:
    frames = [frame_image(i) for i in range(len(colours))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)


COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
DURATIONS = [50, 120, 200]


def test_an_animated_gif_is_stylized_frame_by_frame_into_an_animated_gif(tmp_path, checkpoint):
    write_animation(tmp_path / "clip.gif", COLOURS, DURATIONS)
    assert main(["-c", str(checkpoint), "-i", str(tmp_path / "clip.gif"), "-o", str(tmp_path / "out.gif"), "-q"]) == 0
    assert (tmp_path / "out.gif").is_file()  # a file, not a folder named out.gif
    with Image.open(tmp_path / "out.gif") as result:
        assert result.n_frames == 3 and result.size == (32, 24) and result.info["loop"] == 0
        durations = [frame.info["duration"] for frame in ImageSequence.Iterator(result)]
    assert durations == DURATIONS


@pytest.mark.integration
def test_animation_frames_equal_the_stills_and_jpeg_outputs_are_numbered_frames(tmp_path, checkpoint):
    write_animation(tmp_path / "clip.gif", COLOURS, DURATIONS)
    fp32 = ["--precision", "fp32", "-q"]
    assert main(["-c", str(checkpoint), "-i", str(tmp_path / "clip.gif"), "-o", str(tmp_path / "out.png"), *fp32]) == 0
    model = load_stylizer(checkpoint)
    with Image.open(tmp_path / "out.png") as apng:  # PNG output: one animated file (APNG)
        frames = [np.asarray(frame.convert("RGB")).copy() for frame in ImageSequence.Iterator(apng)]
    with Image.open(tmp_path / "clip.gif") as clip:  # each decoded frame, stylized as a still image
        stills = [
            np.asarray(stylize(frame.convert("RGB"), model, precision="fp32")) for frame in ImageSequence.Iterator(clip)
        ]
    assert len(frames) == 3
    for frame, still in zip(frames, stills, strict=True):
        assert np.abs(frame.astype(int) - still.astype(int)).max() <= 1
    assert np.abs(stills[0].astype(int) - stills[1].astype(int)).mean() > 1  # the frames really differ
    assert stills[0].std() > 10  # and are not flat
    assert main(["-c", str(checkpoint), "-i", str(tmp_path / "clip.gif"), "-o", str(tmp_path / "out.jpg"), *fp32]) == 0
    assert sorted(p.name for p in tmp_path.glob("out.*.jpg")) == ["out.0000.jpg", "out.0001.jpg", "out.0002.jpg"]


def test_an_output_under_a_regular_file_is_refused_before_any_work(tmp_path, checkpoint, capsys):
    Image.fromarray(photo()).save(tmp_path / "a.png")
    (tmp_path / "notes.txt").write_text("a file")
    status = main(["-c", str(checkpoint), "-i", str(tmp_path / "a.png"), "-o", str(tmp_path / "notes.txt" / "out.png")])
    assert status == 2
    assert "notes.txt is a file, so no folder can be made under it" in capsys.readouterr().err


def test_load_rgb_of_an_animation_is_its_first_frame(tmp_path):
    write_animation(tmp_path / "clip.gif", COLOURS, DURATIONS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = np.asarray(load_rgb(tmp_path / "clip.gif"))
    assert np.abs(first.astype(int) - np.asarray(frame_image(0)).astype(int)).max() <= 40  # GIF: 256 colours
    assert np.abs(first.astype(int) - np.asarray(frame_image(1)).astype(int)).mean() > 20


@pytest.mark.parametrize("norm", ["instance", "group", "layer"])
@pytest.mark.parametrize("size", [(1, 1), (3, 3), (2, 7)])
def test_the_autoencoder_stylizes_tiny_images_with_per_sample_norms(norm, size):
    from stylenorm.inference.stylizer import UNIT, Stylizer
    from stylenorm.networks import build_networks

    network = build_networks({"name": "autoencoder", "norm": {"kind": norm}, "network": {"base_channels": 8}})
    stylizer = Stylizer(network["autoencoder"], UNIT, "autoencoder")
    result = stylize(Image.fromarray(photo(*size)), stylizer)  # 3x3 failed: a 1x1 bottleneck for IN/GN
    assert result.size == (size[1], size[0])
