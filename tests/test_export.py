"""Exported models (ONNX, TorchScript) compute what the stylize API computes, at any image size.

The exported module takes float RGB in [0, 1] and includes padding and the pixel convention, so it
is compared with :func:`stylenorm.inference.stylize_batch` on float input (the same computation,
unquantised) at the traced size and at a different size that is not a multiple of 4.
"""

import json
import zipfile

import pytest
import torch
from PIL import Image

from reference_networks import FastNeuralStyleNet, OriginalCycleGANGenerator
from stylenorm.inference import export_onnx, export_torchscript, load_stylizer, run_exported, stylize_batch
from stylenorm.inference.cli import export_main as main

SIZES = ((64, 64), (50, 78))  # the traced size, then one whose sides are not multiples of 4


@pytest.fixture(scope="module")
def public_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("public")
    torch.manual_seed(1)
    fns = FastNeuralStyleNet()
    with torch.no_grad():  # non-trivial affine parameters and an output spread over the gray levels
        for name, param in fns.named_parameters():
            if param.dim() == 1 and name.endswith("weight"):
                param.uniform_(0.5, 1.5)
        fns.deconv3.conv2d.weight *= 100
        fns.deconv3.conv2d.bias += 127
    torch.save(fns.state_dict(), folder / "mosaic.pth")
    torch.manual_seed(2)
    torch.save(OriginalCycleGANGenerator(ngf=8, n_blocks=3).state_dict(), folder / "latest_net_G_A.pth")
    return {"fast_neural_style": folder / "mosaic.pth", "cyclegan_generator": folder / "latest_net_G_A.pth"}


def images(size, seed=0):
    return torch.rand(2, 3, *size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.integration
@pytest.mark.parametrize("layout", ["fast_neural_style", "cyclegan_generator"])
@pytest.mark.parametrize("kind", ["onnx", "torchscript"])
def test_exported_models_match_pytorch_at_two_sizes(tmp_path, public_files, layout, kind):
    if kind == "onnx":
        pytest.importorskip("onnxruntime")
    model = load_stylizer(public_files[layout], device="cpu")
    path = tmp_path / ("model.onnx" if kind == "onnx" else "model.pt")
    (export_onnx if kind == "onnx" else export_torchscript)(model, path, sample_size=SIZES[0])
    for index, size in enumerate(SIZES):
        batch = images(size, seed=index)
        expected = stylize_batch(batch, model, auto_tile_pixels=0)
        exported = run_exported(path, batch)
        assert exported.shape == batch.shape  # dynamic batch, height and width
        assert exported.min() >= 0 and exported.max() <= 1
        assert (exported - expected).abs().max().item() <= 1e-4
        assert expected.std() > 0.02  # not a flat image


@pytest.mark.integration
def test_exported_files_say_what_they_take(tmp_path, public_files):
    onnx = pytest.importorskip("onnx")
    model = load_stylizer(public_files["cyclegan_generator"], device="cpu")
    export_onnx(model, tmp_path / "g.onnx", sample_size=(32, 32))
    loaded = onnx.load(str(tmp_path / "g.onnx"))
    properties = {entry.key: entry.value for entry in loaded.metadata_props}
    assert "[0, 1]" in properties["stylenorm.pixels"] and properties["stylenorm.convention"] == "signed"
    inputs = loaded.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in inputs] == ["batch", 3, "height", "width"]
    export_torchscript(model, tmp_path / "g.pt", sample_size=(32, 32))
    with zipfile.ZipFile(tmp_path / "g.pt") as archive:
        name = next(n for n in archive.namelist() if n.endswith("extra/stylenorm.json"))
        assert json.loads(archive.read(name))["stylenorm.rounding"] == "truncate"


@pytest.mark.integration
def test_export_command(tmp_path, capsys, public_files):
    checkpoint = str(public_files["fast_neural_style"])
    assert main(["-c", checkpoint, "--output", str(tmp_path / "m.pt"), "--sample-size", "32"]) == 0  # from extension
    out = capsys.readouterr().out
    assert "(torchscript)" in out and "max abs difference to PyTorch" in out
    assert main(["-c", checkpoint, "-f", "torchscript", "-o", str(tmp_path / "noext"), "--sample-size", "32"]) == 0
    assert (tmp_path / "noext.pt").is_file()
    capsys.readouterr()
    assert main(["-c", checkpoint, "--output", str(tmp_path / "m.bin")]) == 2
    assert "pass --format onnx" in capsys.readouterr().err
    assert main(["-c", str(tmp_path / "m.pt"), "--output", str(tmp_path / "again.onnx")]) == 2  # not a checkpoint
    error = capsys.readouterr().err
    assert "is a TorchScript model" in error and "Traceback" not in error
    assert main(["-c", checkpoint, "--direction", "BtoA", "--output", str(tmp_path / "x.onnx")]) == 2
    assert not (tmp_path / "x.onnx").exists()


def test_export_refuses_to_overwrite_its_own_checkpoint(tmp_path, capsys, public_files):
    checkpoint = tmp_path / "run.pt"  # a checkpoint whose name looks like a TorchScript output
    checkpoint.write_bytes(public_files["fast_neural_style"].read_bytes())
    before = checkpoint.read_bytes()
    for output in (str(checkpoint), str(tmp_path / "." / "run.pt")):
        assert main(["-c", str(checkpoint), "-f", "torchscript", "-o", output, "--sample-size", "32"]) == 2
        error = capsys.readouterr().err
        assert "is the checkpoint being exported" in error and "run.export.pt" in error
    assert checkpoint.read_bytes() == before


def nan_checkpoint(folder, public_files):
    state = torch.load(public_files["fast_neural_style"], weights_only=True)
    state["conv1.conv2d.weight"] = state["conv1.conv2d.weight"].clone()
    state["conv1.conv2d.weight"][0, 0, 0, 0] = float("nan")
    path = folder / "diverged.pth"
    torch.save(state, path)
    return path


def test_non_finite_weights_are_refused_by_export_and_stylize(tmp_path, capsys, public_files):
    from stylenorm.inference.cli import main as stylize_main

    path = nan_checkpoint(tmp_path, public_files)
    with pytest.raises(ValueError, match=r"non-finite weights: 1 of \d+ tensors hold NaN or inf \(first: conv1"):
        load_stylizer(path)
    assert main(["-c", str(path), "-o", str(tmp_path / "m.onnx"), "--sample-size", "32"]) == 2
    assert "diverged" in capsys.readouterr().err and not (tmp_path / "m.onnx").exists()
    photo = tmp_path / "photo.png"
    Image.fromarray((images((16, 16))[0].permute(1, 2, 0) * 255).to(torch.uint8).numpy()).save(photo)
    assert stylize_main(["-c", str(path), "-i", str(photo), "-o", str(tmp_path / "out.png")]) == 2
    assert "non-finite weights" in capsys.readouterr().err and not (tmp_path / "out.png").exists()


@pytest.mark.integration
def test_the_export_check_is_nan_aware_and_fails_above_its_tolerance(tmp_path, capsys, public_files, monkeypatch):
    from stylenorm.inference import Stylizer
    from stylenorm.inference.export import verify_export

    good = load_stylizer(public_files["fast_neural_style"])
    path = tmp_path / "m.pt"
    export_torchscript(good, path, sample_size=(32, 32))
    assert verify_export(path, good, ((32, 32),)) < 1e-4
    broken = load_stylizer(public_files["fast_neural_style"])
    with torch.no_grad():
        next(broken.network.parameters())[0, 0, 0, 0] = float("nan")  # past the loader's check, on purpose
    assert isinstance(broken, Stylizer) and verify_export(path, broken, ((32, 32),)) == float("inf")
    # the command exits 1 and says why when the measured difference is above --tolerance
    args = ["-c", str(public_files["fast_neural_style"]), "-o", str(tmp_path / "x.pt"), "--sample-size", "32"]
    assert main(args) == 0 and "within the tolerance 0.001" in capsys.readouterr().out
    for measured, said in ((0.5, "max abs difference 5.00e-01"), (float("nan"), "a non-finite output")):
        monkeypatch.setattr("stylenorm.inference.cli.verify_export", lambda *a, m=measured, **k: m)
        assert main(args) == 1
        error = capsys.readouterr().err
        assert said in error and "above the tolerance 0.001" in error
