"""AdaIN inference (Huang & Belongie 2017) against an independent re-implementation of the paper's
PyTorch port (naoto0804/pytorch-AdaIN; tests/reference_networks.py): the public decoder.pth +
vgg_normalised.pth pair and this project's model=adain checkpoints, through load_stylizer, the
stylize command, tiling and export; alpha, style interpolation and colour preservation; refusals.

The reference networks are width 8 (the public files are 64) with He-initialised weights, so the
signal survives the 9 decoder layers, and the last conv is scaled per channel so the output spreads
over the gray levels: a mismatch cannot hide in a flat image.
"""

import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image
from test_stylize import lightning_checkpoint, read, smooth_image, write

from reference_networks import (
    port_adain,
    port_coral,
    port_decoder,
    port_encoder,
    port_mean_std,
    port_style_transfer,
    port_vgg,
)
from stylenorm.inference import export_onnx, export_torchscript, load_stylizer, run_exported, stylize_batch
from stylenorm.inference.cli import export_main, main
from stylenorm.inference.styles import load_style_image
from stylenorm.inference.tile_statistics import whole_image_statistics
from stylenorm.inference.tiling import Tiles
from stylenorm.networks.adain import weighted_statistics
from stylenorm.nn.adain import adain_with_statistics

WIDTH = 8
#: fp32 outputs on a 0-1 scale (std about 0.2): the same computation in another order agrees to ~1e-5.
TOLERANCE = 1e-4


def pixels(height, width, seed):
    """A photo-like image as ``(1, 3, H, W)`` float on a 0-1 scale (exactly what its PNG holds)."""
    return torch.from_numpy(smooth_image(height, width, seed)).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """The reference networks and their files in the public layout."""
    folder = tmp_path_factory.mktemp("adain")
    torch.manual_seed(11)
    vgg, decoder = port_vgg(WIDTH), port_decoder(WIDTH)
    with torch.no_grad():
        for module in [*vgg.modules(), *decoder.modules()]:
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                module.bias.uniform_(-0.05, 0.05)
        last = decoder[-1]
        raw = decoder(port_encoder(vgg)(pixels(64, 64, seed=1))) - last.bias[None, :, None, None]
        scale = 0.2 / raw.std(dim=(0, 2, 3))
        last.weight *= scale[:, None, None, None]
        last.bias.copy_(0.5 - raw.mean(dim=(0, 2, 3)) * scale)
    torch.save(vgg.state_dict(), folder / "vgg_normalised.pth")
    torch.save(decoder.state_dict(), folder / "decoder.pth")
    return {
        "encoder": port_encoder(vgg).eval(),
        "decoder": decoder.eval(),
        "vgg_file": folder / "vgg_normalised.pth",
        "decoder_file": folder / "decoder.pth",
    }


def public_stylizer(port, styles, **options):
    options.setdefault("style_size", 0)  # the reference sees the style images as given
    return load_stylizer(port["decoder_file"], encoder=port["vgg_file"], device="cpu", style_images=styles, **options)


def run(stylizer, content):
    with torch.no_grad():
        return stylizer.network(content)


def max_difference(a, b):
    return (a - b).abs().max().item()


# ------------------------------------------------------------------ the port's computation, reproduced


@pytest.mark.integration
@pytest.mark.parametrize("alpha", [1.0, 0.6])
def test_public_pair_gives_the_ports_output(port, alpha):
    content, style = pixels(64, 80, seed=2), pixels(48, 56, seed=3)
    model = public_stylizer(port, [style[0]], alpha=alpha if alpha != 1.0 else None)
    expected = port_style_transfer(port["encoder"], port["decoder"], content, style, alpha=alpha)
    assert max_difference(run(model, content), expected) <= TOLERANCE
    assert expected.std() > 0.1  # a spread image, not a flat one


def test_alpha_zero_is_the_decoded_content_exactly(port):
    content = pixels(64, 64, seed=4)
    model = public_stylizer(port, [pixels(32, 40, seed=5)[0]], alpha=0.0)
    with torch.no_grad():
        expected = port["decoder"](port["encoder"](content))
    assert torch.equal(run(model, content), expected)


def test_interpolating_statistics_equals_interpolating_adain_outputs(port):
    """The paper / port interpolate AdaIN outputs; the stylizer interpolates their statistics."""
    encoder = port["encoder"]
    content_features = encoder(pixels(64, 64, seed=6)).detach()
    styles = [pixels(40, 48, seed=7), pixels(56, 32, seed=8)]
    weights = torch.tensor([0.3, 0.7])
    with torch.no_grad():
        outputs = sum(w * port_adain(content_features, encoder(s)) for w, s in zip(weights, styles, strict=True))
        from stylenorm.networks.public_checkpoints import load_adain_encoder

        mean, std = weighted_statistics(load_adain_encoder(port["vgg_file"]), styles, weights)
    assert max_difference(adain_with_statistics(content_features, mean, std), outputs) <= 1e-5


def test_style_interpolation_gives_the_ports_output(port):
    content = pixels(64, 64, seed=9)
    styles = torch.cat([pixels(48, 48, seed=10), pixels(48, 48, seed=11)])  # the port stacks equal sizes
    weights = [0.25, 0.75]
    model = public_stylizer(port, styles, style_weights=weights, alpha=0.8)
    expected = port_style_transfer(port["encoder"], port["decoder"], content, styles, alpha=0.8, weights=weights)
    assert max_difference(run(model, content), expected) <= TOLERANCE


def test_a_one_hot_weight_is_that_style_alone(port):
    content, first, second = pixels(64, 64, seed=12), pixels(40, 40, seed=13), pixels(48, 56, seed=14)
    alone = public_stylizer(port, [second[0]])
    mixed = public_stylizer(port, [first[0], second[0]], style_weights=[0, 1])
    assert torch.equal(run(mixed, content), run(alone, content))
    assert max_difference(run(public_stylizer(port, [first[0]]), content), run(alone, content)) > 0.01


def test_preserve_color_gives_the_ports_coral_output(port):
    contents, style = torch.cat([pixels(64, 64, seed=15), pixels(64, 64, seed=16)]), pixels(48, 40, seed=17)
    model = public_stylizer(port, [style[0]], preserve_color=True)
    ours = run(model, contents)
    for index, content in enumerate(contents):  # a batch: the style is recoloured to each content image
        recoloured = port_coral(style[0], content)[None]
        expected = port_style_transfer(port["encoder"], port["decoder"], content[None], recoloured)
        assert max_difference(ours[index : index + 1], expected) <= TOLERANCE
    plain = run(public_stylizer(port, [style[0]]), contents)
    assert max_difference(ours, plain) > 0.01


def test_style_images_are_resized_by_their_shorter_side_like_the_port():
    # torchvision's Resize(512): the longer side truncated; PIL images and tensors alike
    assert load_style_image(Image.new("RGB", (1024, 768)), 512).shape == (1, 3, 512, 682)
    assert load_style_image(torch.zeros(3, 470, 391), 512).shape == (1, 3, 615, 512)


# ------------------------------------------------------------------ the stylize command


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    return {
        "content": write(folder / "photo.png", smooth_image(64, 80, seed=20)),
        "style": write(folder / "painting.png", smooth_image(48, 56, seed=21)),
        "style2": write(folder / "sketch.png", smooth_image(40, 64, seed=22)),
    }


def expected_pixels(port, files, alpha=1.0):
    """The port's test.py output for the files (ToTensor in, save_image's rounding out)."""
    content, style = (
        torch.from_numpy(read(files[k])).permute(2, 0, 1)[None].float() / 255 for k in ("content", "style")
    )
    output = port_style_transfer(port["encoder"], port["decoder"], content, style, alpha=alpha)
    return (output[0].clamp(0, 1) * 255 + 0.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def assert_within_one_gray_level(ours, expected):
    difference = np.abs(ours.astype(int) - expected.astype(int))
    assert difference.max() <= 1 and difference.mean() < 0.01


def test_public_pair_through_the_command(tmp_path, capsys, port, files):
    out = tmp_path / "out.png"
    args = ["-c", str(port["decoder_file"]), "--adain-encoder", str(port["vgg_file"]), "-i", str(files["content"])]
    args += ["--style-image", str(files["style"]), "--style-size", "0", "--alpha", "0.7", "-o", str(out)]
    assert main([*args, "--precision", "fp32"]) == 0
    assert "style painting.png, alpha 0.7" in capsys.readouterr().out
    assert_within_one_gray_level(read(out), expected_pixels(port, files, alpha=0.7))


@pytest.fixture(scope="module")
def adain_checkpoint(tmp_path_factory, port):
    """A model=adain checkpoint as train.py writes it, holding the reference weights."""
    from stylenorm.tasks.adain import AdaINTask

    task = AdaINTask(norm={"kind": "none"}, network={"width": WIDTH}, encoder_weights="random")
    task.adain.encoder.load_state_dict(port["encoder"].state_dict())
    task.adain.decoder.load_state_dict(port["decoder"].state_dict())
    return lightning_checkpoint(task, tmp_path_factory.mktemp("ckpt") / "adain.ckpt")


def test_lightning_checkpoint_through_the_command(tmp_path, capsys, port, files, adain_checkpoint):
    out = tmp_path / "out.png"
    args = ["-c", str(adain_checkpoint), "-i", str(files["content"]), "--style-image", str(files["style"])]
    assert main([*args, "--style-size", "0", "--precision", "fp32", "-o", str(out)]) == 0
    assert "AdaIN" in capsys.readouterr().out
    assert_within_one_gray_level(read(out), expected_pixels(port, files))


def test_several_styles_through_the_command(tmp_path, capsys, adain_checkpoint, files):
    out = tmp_path / "out.png"
    args = ["-c", str(adain_checkpoint), "-i", str(files["content"]), "-o", str(out), "--precision", "fp32"]
    args += ["--style-image", str(files["style"]), str(files["style2"]), "--style-weights", "0.5,0.5"]
    assert main([*args, "--preserve-color", "--batch-size", "2"]) == 0
    assert "weights 0.5,0.5" in capsys.readouterr().out and read(out).shape == (64, 80, 3)


def failing(capsys, args, code=2):
    assert main(args) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return captured.err


def test_refusals_name_the_fix(tmp_path, capsys, port, files, adain_checkpoint):
    io = ["-i", str(files["content"]), "-o", str(tmp_path / "o.png")]
    decoder, vgg, style = str(port["decoder_file"]), str(port["vgg_file"]), str(files["style"])
    assert "--adain-encoder vgg_normalised.pth" in failing(capsys, ["-c", decoder, *io, "--style-image", style])
    assert "--checkpoint decoder.pth --adain-encoder" in failing(capsys, ["-c", vgg, *io, "--style-image", style])
    assert "--style-image" in failing(capsys, ["-c", str(adain_checkpoint), *io])
    assert "--style-image" in failing(capsys, ["-c", str(adain_checkpoint), *io, "--style", "0"])
    error = failing(capsys, ["-c", str(adain_checkpoint), *io, "--adain-encoder", vgg, "--style-image", style])
    assert "holds its own weights" in error
    two = ["--style-image", style, str(files["style2"])]
    assert "--style-weights w1,...,w2" in failing(capsys, ["-c", str(adain_checkpoint), *io, *two])
    error = failing(capsys, ["-c", str(adain_checkpoint), *io, *two, "--style-weights", "0.5,0.6"])
    assert "sum to 1" in error and "--style-weights 0.455,0.545" in error
    assert "one weight per" in failing(capsys, ["-c", str(adain_checkpoint), *io, *two, "--style-weights", "1"])
    assert "non-negative" in failing(capsys, ["-c", str(adain_checkpoint), *io, *two, "--style-weights", "1.5,-0.5"])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    error = failing(capsys, ["-c", str(adain_checkpoint), *io, "--style-image", str(broken)])
    assert f"Could not read the style image {broken}" in error
    with pytest.raises(SystemExit):
        main(["-c", str(adain_checkpoint), *io, "--style-image", style, "--alpha", "1.5"])
    assert "--alpha: expected a number in [0, 1], got 1.5" in capsys.readouterr().err


def test_style_images_are_refused_for_networks_without_adain(tmp_path, capsys, files):
    from reference_networks import FastNeuralStyleNet

    torch.save(FastNeuralStyleNet().state_dict(), tmp_path / "mosaic.pth")
    io = ["-c", str(tmp_path / "mosaic.pth"), "-i", str(files["content"]), "-o", str(tmp_path / "o.png")]
    error = failing(capsys, [*io, "--style-image", str(files["style"]), "--alpha", "0.5"])
    assert "--style-image (style_images=), --alpha apply to AdaIN networks" in error and "Leave them out" in error


# ------------------------------------------------------------------ tiling


def test_tiles_share_the_whole_images_content_statistics(port):
    """exact: AdaIN's content normalisation gets the untiled statistics, unbiased variance included (with
    an overlap that covers the encoder's receptive field, as the tiles' own features must be right too)."""
    model = public_stylizer(port, [pixels(40, 40, seed=23)[0]])
    image = pixels(48, 400, seed=24) * 255
    statistics = whole_image_statistics("exact", model, model.network, image, Tiles(200, 96, multiple=8))
    mean, var = statistics[model.network.content_norm]
    expected_mean, expected_std = port_mean_std(port["encoder"](image / 255))
    assert max_difference(mean.float(), expected_mean.flatten(1)) <= 1e-5
    assert max_difference((var + 1e-5).sqrt().float(), expected_std.flatten(1)) <= 1e-5


@pytest.mark.integration
@pytest.mark.parametrize("preserve_color", [False, True])
def test_tiled_output_matches_the_untiled_one(port, preserve_color):
    """Within a gray level: the default overlap covers AdaIN's receptive field (62 px radius; 4 x 64 = 256 px)."""
    model = public_stylizer(port, [pixels(40, 48, seed=25)[0]], preserve_color=preserve_color)
    image = torch.from_numpy(smooth_image(48, 520, seed=26)).permute(2, 0, 1)[None]
    untiled = stylize_batch(image, model, auto_tile_pixels=0).int()
    tiled = stylize_batch(image, model, tile=512, tile_stats="exact").int()
    per_tile = stylize_batch(image, model, tile=512, tile_stats="per-tile").int()
    assert (tiled - untiled).abs().max() <= 1
    assert (per_tile - untiled).abs().max() > 1  # what the shared statistics are for


# ------------------------------------------------------------------ export


SIZES = ((64, 64), (50, 78))  # the traced size, then one whose sides are not multiples of 8


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["torchscript", "onnx"])
def test_export_bakes_the_style_in(tmp_path, port, kind):
    if kind == "onnx":
        pytest.importorskip("onnxruntime")
    model = public_stylizer(port, torch.cat([pixels(40, 40, seed=27), pixels(40, 40, seed=28)]),
                            style_weights=[0.4, 0.6], alpha=0.9)  # fmt: skip
    path = tmp_path / ("m.onnx" if kind == "onnx" else "m.pt")
    (export_onnx if kind == "onnx" else export_torchscript)(model, path, sample_size=SIZES[0])
    for index, size in enumerate(SIZES):
        batch = torch.cat([pixels(*size, seed=30 + index), pixels(*size, seed=40 + index)])
        exported = run_exported(path, batch)
        assert exported.shape == batch.shape
        assert max_difference(exported, stylize_batch(batch, model, auto_tile_pixels=0)) <= TOLERANCE


@pytest.mark.integration
def test_export_command_and_its_refusals(tmp_path, capsys, adain_checkpoint, files):
    common = ["-c", str(adain_checkpoint), "--sample-size", "32", "-o", str(tmp_path / "m.pt")]
    assert export_main([*common, "--style-image", str(files["style"])]) == 0
    out = capsys.readouterr().out
    assert "style painting.png" in out and ">= 16 px" in out and "max abs difference to PyTorch" in out
    with zipfile.ZipFile(tmp_path / "m.pt") as archive:
        name = next(n for n in archive.namelist() if n.endswith("extra/stylenorm.json"))
        assert "H and W >= 16" in json.loads(archive.read(name))["stylenorm.pixels"]
    assert export_main(common) == 2
    assert "--style-image" in capsys.readouterr().err
    assert export_main([*common, "--style-image", str(files["style"]), "--preserve-color"]) == 2
    error = capsys.readouterr().err
    assert "--preserve-color cannot be exported" in error and "recomputes their statistics" in error


def test_export_refuses_colour_preservation_through_the_api_too(tmp_path, port):
    model = public_stylizer(port, [pixels(40, 40, seed=29)[0]], preserve_color=True)
    with pytest.raises(ValueError, match="cannot be exported: colour preservation recomputes the style statistics"):
        export_torchscript(model, tmp_path / "m.pt", sample_size=(32, 32))
    assert not (tmp_path / "m.pt").exists()
