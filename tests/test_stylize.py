"""The stylize command and API: public files give the original code's pixels, this project's
checkpoints give their networks' pixels, any image file works, bad ones are named and skipped,
inputs are never overwritten, and tiling is exact where it can be.

"Public" files are saved from the independent reference modules (reference_networks.py) with the
original key names, as in test_public_checkpoints.py; expected pixels come from the originals'
inference code (fast-neural-style ``stylize`` + ``save_image``, CycleGAN ``tensor2im``).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import REPO_ROOT
from reference_networks import FastNeuralStyleNet, OriginalCycleGANGenerator, randomize_affine_
from stylenorm.data.images import to_rgb
from stylenorm.inference import (
    ZERO_TO_255,
    Stylizer,
    load_stylizer,
    resized_size,
    stylize,
    stylize_batch,
)
from stylenorm.inference.cli import main
from stylenorm.inference.tiling import axis_weights, tile_layout
from stylenorm.networks import TransformerNet
from stylenorm.tasks import AutoencoderTask, CycleGANTask, StyleTransferTask


def smooth_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 RGB array: smooth colour fields plus a little grain."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, height // 8), max(2, width // 8), generator=generator)
    image = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    image = image + 0.05 * torch.randn(1, 3, height, width, generator=generator)
    return (image.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)


def write(path: Path, array: np.ndarray, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **options)
    return path


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image).copy()


def spread_output_(last_conv: torch.nn.Conv2d, network, sample: torch.Tensor, target_std: float) -> None:
    """Random networks give near-constant images, which clamping hides: scale the last conv so the
    output varies over the gray levels, and a pixel mismatch cannot go unnoticed."""
    with torch.no_grad():
        spread = network(sample).std().item()
        last_conv.weight *= target_std / max(spread, 1e-6)


@pytest.fixture(scope="module")
def public_files(tmp_path_factory):
    """``{"fast_neural_style": (path, reference), "cyclegan_generator": (path, reference)}``."""
    folder = tmp_path_factory.mktemp("public")
    torch.manual_seed(1)
    fns = randomize_affine_(FastNeuralStyleNet()).eval()
    sample = torch.from_numpy(smooth_image(48, 64, seed=9)).permute(2, 0, 1)[None].float()
    spread_output_(fns.deconv3.conv2d, fns, sample, target_std=60.0)
    with torch.no_grad():
        fns.deconv3.conv2d.bias += 127.0  # centre the output in 0-255
    torch.save(fns.state_dict(), folder / "mosaic.pth")
    torch.manual_seed(2)
    generator = OriginalCycleGANGenerator(ngf=8, n_blocks=9).eval()
    spread_output_(generator.model[26], generator, sample / 127.5 - 1, target_std=0.5)
    torch.save(generator.state_dict(), folder / "latest_net_G_A.pth")
    return {
        "fast_neural_style": (folder / "mosaic.pth", fns),
        "cyclegan_generator": (folder / "latest_net_G_A.pth", generator),
    }


def original_pixels(layout: str, reference: torch.nn.Module, array: np.ndarray) -> np.ndarray:
    """What the original inference code writes for ``array`` (HxWx3 uint8)."""
    tensor = torch.from_numpy(array).permute(2, 0, 1).float().div(255)[None]  # transforms.ToTensor()
    with torch.no_grad():
        if layout == "fast_neural_style":
            output = reference(tensor.mul(255))[0]  # neural_style.py: ToTensor, then x.mul(255)
            return output.clone().clamp(0, 255).numpy().transpose(1, 2, 0).astype("uint8")  # utils.save_image
        output = reference((tensor - 0.5) / 0.5)[0]  # Normalize((0.5,) * 3, (0.5,) * 3)
        return ((np.transpose(output.numpy(), (1, 2, 0)) + 1) / 2.0 * 255.0).astype(np.uint8)  # util.tensor2im


def assert_same_pixels(ours: np.ndarray, expected: np.ndarray) -> None:
    assert ours.shape == expected.shape and ours.dtype == np.uint8
    difference = np.abs(ours.astype(int) - expected.astype(int))
    assert difference.max() <= 1, f"max difference {difference.max()} gray levels"
    assert (difference == 0).mean() > 0.99  # off by one only where float noise straddles an integer
    assert expected.std() > 10  # the comparison is not between two flat images


@pytest.mark.parametrize("layout", ["fast_neural_style", "cyclegan_generator"])
def test_public_files_give_the_original_codes_pixels_through_the_command(tmp_path, capsys, public_files, layout):
    path, reference = public_files[layout]
    array = smooth_image(48, 64, seed=3)
    write(tmp_path / "photo.png", array)
    # fp32: the original code's exact pixels (the default, auto, may pick bf16; see test_speed.py)
    assert (
        main(
            ["-c", str(path), "-i", str(tmp_path / "photo.png"), "-o", str(tmp_path / "out.png"), "--precision", "fp32"]
        )
        == 0
    )
    assert_same_pixels(read(tmp_path / "out.png"), original_pixels(layout, reference, array))
    assert "1 written, 0 failed" in capsys.readouterr().out


@pytest.mark.integration
def test_the_installed_command_runs_as_a_subprocess(tmp_path, public_files):
    path, reference = public_files["fast_neural_style"]
    array = smooth_image(32, 40, seed=4)
    write(tmp_path / "in" / "a.png", array)
    write(tmp_path / "in" / "nested" / "b.png", array)
    console_script = Path(sys.executable).parent / "stylenorm-stylize"
    command = [str(console_script)] if console_script.exists() else [sys.executable, "scripts/stylize.py"]
    done = subprocess.run(
        [
            *command,
            "--checkpoint",
            str(path),
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out"),
            "--precision",
            "fp32",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "2 written, 0 failed" in done.stdout
    expected = original_pixels("fast_neural_style", reference, array)
    assert_same_pixels(read(tmp_path / "out" / "a.png"), expected)
    assert_same_pixels(read(tmp_path / "out" / "nested" / "b.png"), expected)


@pytest.mark.integration
@pytest.mark.parametrize(("script", "option"), [("stylize.py", "--tile-overlap"), ("export.py", "--sample-size")])
def test_the_script_wrappers_show_help(script, option):
    done = subprocess.run(
        [sys.executable, f"scripts/{script}", "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "--checkpoint" in done.stdout and option in done.stdout


# ---------------------------------------------------------------- this project's checkpoints


def lightning_checkpoint(task, path: Path) -> Path:
    """What Lightning's checkpoint connector writes for a task (the keys inference reads), minus VGG."""
    import lightning

    state = {k: v for k, v in task.state_dict().items() if not k.startswith("perceptual.")}
    torch.save(
        {
            "epoch": 0,
            "global_step": 0,
            "pytorch-lightning_version": lightning.__version__,
            "state_dict": state,
            "hparams_name": "kwargs",
            "hyper_parameters": dict(task.hparams),
        },
        path,
    )
    return path


@pytest.fixture(scope="module")
def project_checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(3)
    sample = torch.from_numpy(smooth_image(40, 48, seed=9)).permute(2, 0, 1)[None].float()
    style = StyleTransferTask(norm={"kind": "instance"}, network={"num_residual_blocks": 1}, vgg_weights="random")
    randomize_affine_(style.transformer)
    spread_output_(style.transformer.conv_out.conv, style.transformer, sample, target_std=60.0)
    with torch.no_grad():
        style.transformer.conv_out.conv.bias += 127.0
    cyclegan = CycleGANTask(
        norm={"kind": "instance"}, generator={"ngf": 8, "n_blocks": 2}, discriminator={"ndf": 8, "n_layers": 2}
    )
    for generator in (cyclegan.G_AB, cyclegan.G_BA):
        spread_output_(generator.model[-2], generator, sample / 127.5 - 1, target_std=0.5)
    autoencoder = AutoencoderTask(norm={"kind": "group"}, network={"base_channels": 8})
    return {
        "style": (lightning_checkpoint(style, folder / "style.ckpt"), style),
        "cyclegan": (lightning_checkpoint(cyclegan, folder / "cyclegan.ckpt"), cyclegan),
        "autoencoder": (lightning_checkpoint(autoencoder, folder / "autoencoder.ckpt"), autoencoder),
    }


def test_a_real_lightning_checkpoint_has_the_keys_inference_reads(project_checkpoints):
    # The layout checked once against a last.ckpt written by `python train.py model=style ...`:
    # plain containers (configs/model/*.yaml use _convert_: all), so weights_only loading works.
    path, _ = project_checkpoints["style"]
    checkpoint = torch.load(path, weights_only=True)
    assert {"state_dict", "hyper_parameters"} <= set(checkpoint)
    assert checkpoint["hyper_parameters"]["name"] == "style"
    assert not any(key.startswith("perceptual.") for key in checkpoint["state_dict"])


@pytest.mark.parametrize(
    ("kind", "direction", "role"),
    [("style", None, "transformer"), ("cyclegan", "AtoB", "G_AB"), ("cyclegan", "BtoA", "G_BA"),
     ("cyclegan", None, "G_AB"), ("autoencoder", None, "autoencoder")],
)  # fmt: skip
def test_project_checkpoints_give_their_networks_pixels(tmp_path, project_checkpoints, kind, direction, role):
    path, task = project_checkpoints[kind]
    array = smooth_image(40, 48, seed=5)
    write(tmp_path / "photo.png", array)
    extra = ["--direction", direction] if direction else []
    out = str(tmp_path / "out.png")
    assert main(["-c", str(path), "-i", str(tmp_path / "photo.png"), "-o", out, "--precision", "fp32", *extra]) == 0
    network = getattr(task, role).eval()
    pixels = torch.from_numpy(array).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        if kind == "style":  # StyleTransferTask.forward, on the 0-255 scale, truncated like fast-neural-style
            expected = network(pixels).clamp(0, 255)
        elif kind == "cyclegan":  # CycleGANTask.forward: [-1, 1] in, (y + 1) / 2 out; tensor2im truncation
            expected = (network(pixels / 127.5 - 1) + 1) / 2 * 255
        else:  # [0, 1] in and out, rounded like torchvision's save_image
            expected = (network(pixels / 255) * 255 + 0.5).clamp(0, 255)
    expected = expected[0].permute(1, 2, 0).numpy().astype(np.uint8)
    assert_same_pixels(read(tmp_path / "out.png"), expected)


def test_the_two_cyclegan_directions_differ(tmp_path, project_checkpoints):
    path, _ = project_checkpoints["cyclegan"]
    image = Image.fromarray(smooth_image(32, 32, seed=6))
    forward = np.asarray(stylize(image, load_stylizer(path, direction="AtoB", device="cpu")))
    backward = np.asarray(stylize(image, load_stylizer(path, direction="BtoA", device="cpu")))
    assert np.abs(forward.astype(int) - backward.astype(int)).max() > 10


def test_checkpoints_that_need_unpickling_are_refused_unless_trusted(tmp_path, capsys, project_checkpoints):
    from omegaconf import OmegaConf

    path, _ = project_checkpoints["style"]
    checkpoint = torch.load(path, weights_only=True)
    checkpoint["hyper_parameters"] = OmegaConf.create(checkpoint["hyper_parameters"])
    torch.save(checkpoint, tmp_path / "omegaconf.ckpt")
    write(tmp_path / "photo.png", smooth_image(16, 16))
    args = ["-c", str(tmp_path / "omegaconf.ckpt"), "-i", str(tmp_path / "photo.png"), "-o", str(tmp_path / "o.png")]
    assert main(args) == 2
    assert "--trust-checkpoint" in capsys.readouterr().err
    assert main([*args, "--trust-checkpoint"]) == 0
    assert (tmp_path / "o.png").is_file()


# ---------------------------------------------------------------- bad checkpoints and options


@pytest.fixture
def photo(tmp_path) -> Path:
    return write(tmp_path / "photo.png", smooth_image(16, 20))


def run_failing(capsys, args: list[str], code: int = 2) -> str:
    assert main(args) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return captured.err


def test_bad_checkpoint_files_are_clear_errors(tmp_path, capsys, photo, public_files):
    output = str(tmp_path / "out.png")
    cases = {
        "missing.pth": (None, "Checkpoint not found"),
        "empty.pth": (b"", "is empty"),
        "text.pth": (b"<html>404 not found</html>", "Could not read"),
        "truncated.pth": (public_files["fast_neural_style"][0].read_bytes()[:5000], "Could not read"),
        "other.pth": (None, "Unrecognised checkpoint layout"),
    }
    torch.save({"encoder.weight": torch.zeros(1)}, tmp_path / "other.pth")
    for name, (content, message) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        error = run_failing(capsys, ["-c", str(tmp_path / name), "-i", str(photo), "-o", output])
        assert message in error and "error:" in error, (name, error)
    assert not (tmp_path / "out.png").exists()


def test_format_and_direction_mismatches_are_explained(tmp_path, capsys, photo, public_files):
    fns, _ = public_files["fast_neural_style"]
    cyclegan, _ = public_files["cyclegan_generator"]
    out = ["-i", str(photo), "-o", str(tmp_path / "o.png")]
    assert "Not a fast-neural-style" in run_failing(
        capsys, ["-c", str(cyclegan), "--format", "fast_neural_style", *out]
    )
    assert "not a Lightning checkpoint" in run_failing(capsys, ["-c", str(fns), "--format", "lightning", *out])
    assert "single CycleGAN generator" in run_failing(capsys, ["-c", str(cyclegan), "--direction", "BtoA", *out])
    assert "applies to CycleGAN" in run_failing(capsys, ["-c", str(fns), "--direction", "AtoB", *out])
    assert "fp16 autocast needs a CUDA device" in run_failing(
        capsys, ["-c", str(fns), "--device", "cpu", "--precision", "fp16", *out]
    )
    from stylenorm.networks import PatchDiscriminator

    torch.save(PatchDiscriminator(ndf=8).state_dict(), tmp_path / "latest_net_D_A.pth")
    assert "discriminator" in run_failing(capsys, ["-c", str(tmp_path / "latest_net_D_A.pth"), *out])
    assert "at most half" in run_failing(capsys, ["-c", str(fns), "--tile", "64", "--tile-overlap", "40", *out])
    assert main(["-c", str(cyclegan), "--direction", "AtoB", *out]) == 0  # the file's own direction is fine


# ---------------------------------------------------------------- any image file


@pytest.fixture(scope="module")
def small_model():
    """A quick TransformerNet (one residual block) with the fast-neural-style convention."""
    torch.manual_seed(4)
    network = randomize_affine_(TransformerNet("instance", num_residual_blocks=1))
    spread_output_(network.conv_out.conv, network, torch.rand(1, 3, 32, 32) * 255, target_std=50.0)
    with torch.no_grad():
        network.conv_out.conv.bias += 127.0
    return Stylizer(network, ZERO_TO_255, "small TransformerNet")


@pytest.mark.parametrize("size", [(37, 53), (5, 7), (1, 1), (2, 9), (8, 8), (64, 3)])
def test_any_size_comes_back_at_its_own_size(small_model, size):
    height, width = size
    output = stylize(Image.fromarray(smooth_image(height, width)), small_model)
    assert output.size == (width, height) and output.mode == "RGB"


@pytest.fixture(scope="module")
def plain_model():
    """The same without per-image statistics (norm none): outputs depend on local context only."""
    torch.manual_seed(4)
    network = randomize_affine_(TransformerNet("none", num_residual_blocks=1))
    spread_output_(network.conv_out.conv, network, torch.rand(1, 3, 32, 32) * 255, target_std=50.0)
    with torch.no_grad():
        network.conv_out.conv.bias += 127.0
    return Stylizer(network, ZERO_TO_255, "plain TransformerNet")


def test_padding_is_cropped_back_from_the_right_place(plain_model):
    # 84x100 needs no padding; its 81x97 top-left crop is reflection-padded at the bottom and right
    # and cropped back. Farther than the receptive field (23 px) from the padded border, the crop's
    # output is the whole image's output exactly, and a one-pixel misalignment would show.
    array = smooth_image(84, 100, seed=7)
    whole = np.asarray(stylize(Image.fromarray(array), plain_model)).astype(int)
    cropped = np.asarray(stylize(Image.fromarray(array[:81, :97]), plain_model)).astype(int)
    assert cropped.shape == (81, 97, 3)
    assert np.abs(whole[:55, :70] - cropped[:55, :70]).max() <= 1
    assert np.abs(whole[1:56, 1:71] - cropped[:55, :70]).mean() > 5


def test_exif_rotation_is_honoured(tmp_path, small_model):
    stored = smooth_image(24, 40, seed=8)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    write(tmp_path / "phone.jpg", stored, exif=exif, quality=95)
    output = stylize(tmp_path / "phone.jpg", small_model)
    assert output.size == (24, 40)  # width x height of the upright photo
    upright = np.asarray(Image.open(tmp_path / "phone.jpg").transpose(Image.Transpose.ROTATE_270))
    assert np.array_equal(np.asarray(output), np.asarray(stylize(Image.fromarray(upright), small_model)))


def test_modes_grayscale_16_bit_palette_cmyk(tmp_path, small_model):
    gray = smooth_image(20, 24)[..., 0]
    write(tmp_path / "gray.png", gray)
    write(tmp_path / "scan16.png", gray.astype(np.uint16) * 257)  # 16-bit: scaled to 8 bits, not clipped
    Image.fromarray(smooth_image(20, 24)).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "p.png")
    Image.fromarray(smooth_image(20, 24)).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "scan16.png").mode.startswith("I")
    outputs = {path.name: stylize(path, small_model) for path in sorted(tmp_path.iterdir())}
    assert all(image.size == (24, 20) and image.mode == "RGB" for image in outputs.values())
    assert np.array_equal(np.asarray(outputs["gray.png"]), np.asarray(outputs["scan16.png"]))
    # The API on an opened image sees the same pixels as the command on the file.
    for name, image in outputs.items():
        assert np.array_equal(np.asarray(stylize(Image.open(tmp_path / name), small_model)), np.asarray(image))


def test_alpha_is_carried_to_png_and_dropped_for_jpeg(tmp_path, capsys, public_files):
    path, _ = public_files["fast_neural_style"]
    rgba = np.dstack([smooth_image(24, 32), np.linspace(0, 255, 24 * 32).reshape(24, 32).astype(np.uint8)])
    write(tmp_path / "in" / "logo.png", rgba)
    palette = Image.fromarray(smooth_image(24, 32)).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.info["transparency"] = 0
    palette.save(tmp_path / "in" / "palette.png", transparency=0)
    assert main(["-c", str(path), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "png")]) == 0
    assert main(["-c", str(path), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "jpg"), "--ext", "jpg"]) == 0
    with Image.open(tmp_path / "png" / "logo.png") as carried:
        assert carried.mode == "RGBA"
        assert np.array_equal(np.asarray(carried)[..., 3], rgba[..., 3])
    with Image.open(tmp_path / "png" / "palette.png") as carried, Image.open(tmp_path / "in" / "palette.png") as src:
        assert carried.mode == "RGBA"
        assert np.array_equal(np.asarray(carried)[..., 3], np.asarray(src.convert("RGBA"))[..., 3])
    with Image.open(tmp_path / "jpg" / "logo.jpg") as dropped:
        assert dropped.mode == "RGB" and dropped.size == (32, 24)
    # The network saw the image composited over white (transparent pixels' colour is undefined).
    flat = np.asarray(to_rgb(Image.fromarray(rgba)))
    assert np.array_equal(flat[0, 0], [255, 255, 255])


# ---------------------------------------------------------------- folders, broken files, outputs


def test_broken_files_are_named_skipped_and_fail_the_exit_status(tmp_path, capsys, public_files):
    path, _ = public_files["fast_neural_style"]
    folder = tmp_path / "photos"
    write(folder / "good.png", smooth_image(16, 16))
    write(folder / "sub" / "good.jpg", smooth_image(20, 16), quality=95)
    good = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "not_an_image.jpg").write_text("<html>404</html>")
    assert main(["-c", str(path), "-i", str(folder), "-o", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    for name in ("truncated.png", "empty.jpg", "not_an_image.jpg"):
        assert f"skipped {folder / name}:" in captured.err
    assert "Traceback" not in captured.err
    assert "2 written, 3 failed" in captured.out
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*")) == [
        "good.png",
        "sub/good.jpg",
    ]


def test_batches_give_the_same_pixels_as_single_images(tmp_path, public_files):
    path, _ = public_files["fast_neural_style"]
    for index in range(5):
        write(tmp_path / "in" / f"{index}.png", smooth_image(16 if index != 2 else 20, 24, seed=index))
    assert main(["-c", str(path), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "one"), "-q"]) == 0
    assert main(["-c", str(path), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "three"), "--batch-size", "3"]) == 0
    for index in range(5):  # batched convolutions may round differently: within one gray level
        assert_same_pixels(read(tmp_path / "three" / f"{index}.png"), read(tmp_path / "one" / f"{index}.png"))


def test_inputs_are_never_overwritten(tmp_path, capsys, public_files):
    path, _ = public_files["fast_neural_style"]
    photo = write(tmp_path / "photos" / "a.png", smooth_image(16, 16))
    write(tmp_path / "photos" / "b.jpg", smooth_image(16, 16))
    before = photo.read_bytes()
    for args in (
        ["-i", str(photo), "-o", str(photo)],
        ["-i", str(photo), "-o", str(tmp_path / "photos")],  # into its own folder, same name
        ["-i", str(tmp_path / "photos"), "-o", str(tmp_path / "photos")],
        ["-i", str(tmp_path / "photos"), "-o", str(tmp_path / "photos"), "--ext", "png"],  # b.jpg -> b.png ok, a.png
    ):
        assert "Refusing to overwrite the input" in run_failing(capsys, ["-c", str(path), *args])
    assert photo.read_bytes() == before
    # A different extension next to the inputs is fine when nothing is overwritten.
    assert main(["-c", str(path), "-i", str(tmp_path / "photos" / "b.jpg"), "-o", str(tmp_path / "photos/b.png")]) == 0


def test_output_file_and_folder_rules(tmp_path, capsys, public_files):
    path, _ = public_files["fast_neural_style"]
    photo = write(tmp_path / "in" / "a.png", smooth_image(16, 16))
    write(tmp_path / "in" / "deeper" / "b.png", smooth_image(16, 16))
    checkpoint = ["-c", str(path), "-q"]
    # One file -> a file name with an image extension is the file; anything else is a folder.
    assert main([*checkpoint, "-i", str(photo), "-o", str(tmp_path / "single.jpg")]) == 0
    assert Image.open(tmp_path / "single.jpg").format == "JPEG"
    assert main([*checkpoint, "-i", str(photo), "-o", str(tmp_path / "folder")]) == 0
    assert (tmp_path / "folder" / "a.png").is_file()
    # A folder or pattern -> a folder mirroring relative paths; --ext forces the format.
    assert main([*checkpoint, "-i", str(tmp_path / "in"), "-o", str(tmp_path / "mirror"), "--ext", "webp"]) == 0
    assert sorted(p.relative_to(tmp_path / "mirror").as_posix() for p in (tmp_path / "mirror").rglob("*.*")) == [
        "a.webp",
        "deeper/b.webp",
    ]
    assert main([*checkpoint, "-i", str(tmp_path / "in" / "**" / "*.png"), "-o", str(tmp_path / "globbed")]) == 0
    assert sorted(p.relative_to(tmp_path / "globbed").as_posix() for p in (tmp_path / "globbed").rglob("*.*")) == [
        "a.png",
        "deeper/b.png",
    ]
    # Several files (an unquoted pattern the shell expanded) -> relative to their common folder.
    assert main([*checkpoint, "-i", str(photo), str(tmp_path / "in/deeper/b.png"), "-o", str(tmp_path / "many")]) == 0
    assert (tmp_path / "many" / "deeper" / "b.png").is_file()
    assert "looks like a file name" in run_failing(capsys, [*checkpoint, "-i", str(tmp_path / "in"), "-o", "x.png"])
    assert "Input not found" in run_failing(capsys, [*checkpoint, "-i", str(tmp_path / "nope.png"), "-o", "x.png"])
    assert "No image files match" in run_failing(capsys, [*checkpoint, "-i", str(tmp_path / "*.psd"), "-o", "x"])
    assert "Unknown output extension" in run_failing(capsys, [*checkpoint, "-i", str(photo), "-o", "o", "--ext", "psd"])


def test_a_second_run_into_a_subfolder_does_not_stylize_the_first_runs_results(tmp_path, capsys, public_files):
    path, _ = public_files["fast_neural_style"]
    write(tmp_path / "photos" / "a.png", smooth_image(16, 16))
    args = ["-c", str(path), "-i", str(tmp_path / "photos"), "-o", str(tmp_path / "photos" / "styled")]
    assert main(args) == 0 and main(args) == 0
    assert "1 written" in capsys.readouterr().out.splitlines()[-1]
    assert [p.name for p in (tmp_path / "photos" / "styled").iterdir()] == ["a.png"]


@pytest.mark.parametrize(
    ("size", "scale", "max_size", "expected"),
    [((60, 40), None, 30, (30, 20)), ((40, 60), None, 30, (20, 30)), ((60, 40), 0.5, None, (30, 20)),
     ((60, 40), 2.0, 100, (100, 67)), ((60, 40), None, 100, (60, 40)), ((3, 1), 0.1, None, (1, 1))],
)  # fmt: skip
def test_scale_and_max_size(tmp_path, public_files, size, scale, max_size, expected):
    assert resized_size(*size, scale=scale, max_size=max_size) == expected
    path, _ = public_files["fast_neural_style"]
    write(tmp_path / "a.png", smooth_image(size[1], size[0]))
    extra = (["--scale", str(scale)] if scale else []) + (["--max-size", str(max_size)] if max_size else [])
    assert main(["-c", str(path), "-i", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), *extra]) == 0
    assert Image.open(tmp_path / "b.png").size == expected


def test_bf16_runs_on_the_cpu_close_to_fp32(small_model):
    image = Image.fromarray(smooth_image(32, 32))
    fp32 = np.asarray(stylize(image, small_model)).astype(int)
    bf16 = np.asarray(stylize(image, small_model, precision="bf16")).astype(int)
    assert bf16.shape == fp32.shape
    assert np.abs(bf16 - fp32).mean() < 8  # bf16 keeps 8 mantissa bits: a few gray levels


# ---------------------------------------------------------------- tiling


@pytest.mark.parametrize(("length", "tile", "overlap"), [(1024, 512, 32), (1024, 512, 64), (96, 64, 16), (600, 256, 0)])
def test_tile_weights_are_a_partition_of_unity_with_unused_margins(length, tile, overlap):
    size, starts, weights = axis_weights(length, tile, overlap)
    assert (size, starts) == tile_layout(length, tile, overlap)
    assert size <= tile and starts[0] == 0 and starts[-1] + size == length
    total = torch.zeros(length)
    for start, weight in zip(starts, weights, strict=True):
        total[start : start + size] += weight
    torch.testing.assert_close(total, torch.ones(length))
    for index, (start, weight) in enumerate(zip(starts, weights, strict=True)):
        used = (weight > 0).nonzero().flatten()
        if index > 0:
            assert starts[index - 1] + size - start >= overlap  # neighbours overlap by at least `overlap`
            assert used.min() >= overlap / 4  # the quarter of the overlap nearest a tile edge is not used
        if index < len(starts) - 1:
            assert size - 1 - used.max() >= overlap / 4


@pytest.mark.integration
@pytest.mark.parametrize("norm", ["none", "batch"])
def test_tiling_is_exact_without_per_image_statistics(norm):
    # One residual block: receptive-field radius 23 px, so overlap / 4 = 24 px of unused margin
    # leaves no pixel that saw a tile border.
    torch.manual_seed(5)
    network = randomize_affine_(TransformerNet(norm, num_residual_blocks=1))
    if norm == "batch":  # eval mode: running statistics, nothing per image
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
    model = Stylizer(network, ZERO_TO_255, norm)
    images = torch.from_numpy(smooth_image(200, 264, seed=6)).permute(2, 0, 1)[None] / 255.0
    whole = stylize_batch(images, model, auto_tile_pixels=0)
    tiled = stylize_batch(images, model, tile=192, overlap=96)
    assert (tiled - whole).abs().max().item() * 255 < 1e-3  # gray levels: float rounding only


@pytest.mark.integration
def test_tiling_with_instance_norm_changes_pixels_but_not_the_picture(small_model, record_property, capsys):
    # Instance norm takes statistics per tile, so tiled output differs; how much depends on the
    # weights (this random network is far more sensitive than a smooth trained one). Recorded,
    # printed, and bounded against the difference between two different photos' stylizations.
    images = torch.from_numpy(smooth_image(192, 256, seed=7)).permute(2, 0, 1)[None]
    whole = stylize_batch(images, small_model, auto_tile_pixels=0).float()
    other_photo = torch.from_numpy(smooth_image(192, 256, seed=8)).permute(2, 0, 1)[None]
    unrelated = (stylize_batch(other_photo, small_model, auto_tile_pixels=0).float() - whole).abs().mean()
    small_tiles = (stylize_batch(images, small_model, tile=128, overlap=32).float() - whole).abs()
    large_tiles = (stylize_batch(images, small_model, tile=192, overlap=48).float() - whole).abs()
    automatic = stylize_batch(images, small_model, auto_tile_pixels=128 * 128).float()  # 128 px tiles, overlap 16
    record_property("instance_norm_tiling_128_max_gray_levels", small_tiles.max().item())
    record_property("instance_norm_tiling_128_mean_gray_levels", small_tiles.mean().item())
    with capsys.disabled():
        print(
            f"\n[tiling, instance norm, 192x256] 128 px tiles: max {small_tiles.max():.0f} / mean "
            f"{small_tiles.mean():.1f} gray levels; 192 px tiles: mean {large_tiles.mean():.1f}; "
            f"another photo: mean {unrelated:.1f}"
        )
    assert not torch.equal(automatic, whole)
    assert small_tiles.mean() < 0.25 * unrelated  # the same picture ...
    assert large_tiles.mean() < small_tiles.mean()  # ... and closer with larger tiles


def test_checkpoint_files_can_be_copied_anywhere(tmp_path, public_files):
    # The format is detected from the keys, not the file name.
    path, reference = public_files["cyclegan_generator"]
    renamed = shutil.copy(path, tmp_path / "weights.bin")
    array = smooth_image(24, 24, seed=2)
    output = np.asarray(stylize(Image.fromarray(array), load_stylizer(renamed, device="cpu")))
    assert_same_pixels(output, original_pixels("cyclegan_generator", reference, array))
