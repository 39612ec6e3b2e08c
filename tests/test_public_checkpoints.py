"""Public pretrained-file layouts load into our networks and give the original code's pixels.

The "public" files are saved from independently written reference modules (reference_networks.py)
with the original module names, so their keys are the ones of the downloadable files.
"""

import pytest
import torch

from reference_networks import FastNeuralStyleNet, OriginalCycleGANGenerator, randomize_affine_
from stylenorm.networks import PatchDiscriminator, ResnetGenerator, TransformerNet, detect_checkpoint_format
from stylenorm.networks.public_checkpoints import (
    fast_neural_style_to_transformer_net,
    infer_cyclegan_generator_options,
    load_cyclegan_generator,
    load_fast_neural_style,
    read_state_dict,
    transformer_net_to_fast_neural_style,
)


def with_old_running_stats(state: dict) -> dict:
    """What PyTorch < 0.4 wrote for every instance-norm layer: running stats (here garbage)."""
    old = dict(state)
    for key, value in state.items():
        if key.endswith(".weight") and value.dim() == 1 and "conv" not in key.split(".")[-2]:
            prefix = key.removesuffix("weight")
            old[prefix + "running_mean"] = torch.randn_like(value) * 100
            old[prefix + "running_var"] = torch.rand_like(value) * 100
    return old


@pytest.fixture(scope="module")
def fns_reference():
    torch.manual_seed(1)
    return randomize_affine_(FastNeuralStyleNet()).eval()


@pytest.fixture(scope="module")
def cyclegan_reference():
    torch.manual_seed(2)
    return OriginalCycleGANGenerator(ngf=16, n_blocks=9).eval()


def test_fast_neural_style_keys_are_the_public_ones(fns_reference):
    keys = set(fns_reference.state_dict())
    assert {
        "conv1.conv2d.weight",
        "in1.weight",
        "in1.bias",
        "res1.conv1.conv2d.weight",
        "res5.in2.bias",
        "deconv1.conv2d.weight",
        "in4.weight",
        "in5.bias",
        "deconv3.conv2d.weight",
    } <= keys
    assert len(keys) == len(TransformerNet().state_dict())


@pytest.mark.parametrize("old_pytorch", [False, True])
def test_fast_neural_style_file_gives_identical_pixels(tmp_path, fns_reference, old_pytorch):
    state = fns_reference.state_dict()
    if old_pytorch:
        state = with_old_running_stats(state)
        assert "res3.in1.running_mean" in state
    path = tmp_path / ("mosaic.pth" if not old_pytorch else "old_udnie.model")
    torch.save(state, path)

    net = load_fast_neural_style(path)
    content = torch.rand(1, 3, 40, 64) * 255
    expected = fns_reference.stylize(content)
    with torch.no_grad():
        ours = net(content).clamp(0, 255)
    torch.testing.assert_close(ours, expected, atol=1e-3, rtol=0)
    assert (ours.round() - expected.round()).abs().max() <= 1  # within one gray level after quantising


def test_transformer_net_saves_back_to_the_public_layout(fns_reference):
    ours = load_fast_neural_style(fns_reference.state_dict())
    exported = transformer_net_to_fast_neural_style(ours.state_dict())
    assert set(exported) == set(fns_reference.state_dict())
    fresh = FastNeuralStyleNet()
    fresh.load_state_dict(exported)  # strict: every key and shape matches the example's network
    content = torch.rand(1, 3, 32, 32) * 255
    torch.testing.assert_close(fresh.stylize(content), fns_reference.stylize(content))
    assert fast_neural_style_to_transformer_net(exported).keys() == ours.state_dict().keys()


@pytest.mark.parametrize("old_pytorch", [False, True])
def test_cyclegan_generator_file_gives_identical_pixels(tmp_path, cyclegan_reference, old_pytorch):
    state = cyclegan_reference.state_dict()
    assert {
        "model.1.weight",
        "model.4.weight",
        "model.7.weight",
        "model.10.conv_block.1.weight",
        "model.18.conv_block.5.weight",
        "model.19.weight",
        "model.22.weight",
        "model.26.weight",
    } <= set(state)
    if old_pytorch:  # instance norm without affine: old files hold only running stats for it
        for index in (2, 5, 8, 20, 23):
            state[f"model.{index}.running_mean"] = torch.randn(
                state[f"model.{index - 1}.weight"].shape[0 if index < 19 else 1]
            )
            state[f"model.{index}.running_var"] = torch.rand_like(state[f"model.{index}.running_mean"]) * 50
    path = tmp_path / "latest_net_G_A.pth"
    torch.save({f"module.{k}": v for k, v in state.items()} if old_pytorch else state, path)

    net = load_cyclegan_generator(path)
    image = torch.rand(2, 3, 48, 32) * 255
    expected = cyclegan_reference.translate(image)
    with torch.no_grad():
        ours = (net(image / 127.5 - 1) + 1) * 127.5
    torch.testing.assert_close(ours, expected, atol=1e-3, rtol=0)


def test_our_generator_state_dict_is_the_public_layout(cyclegan_reference):
    ours = ResnetGenerator("instance", ngf=16, n_blocks=9)
    reference = cyclegan_reference.state_dict()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.items()}
    assert ours.load_state_dict(reference, strict=True)


def test_generator_options_are_read_from_the_file():
    reference = OriginalCycleGANGenerator(ngf=8, n_blocks=6, norm="batch", use_dropout=True)
    options = infer_cyclegan_generator_options(reference.state_dict())
    assert options["ngf"] == 8 and options["n_blocks"] == 6 and options["dropout"] == 0.5
    assert options["norm"].kind == "batch" and options["norm"].affine is True and options["conv_bias"] is False
    net = load_cyclegan_generator(reference.state_dict())
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(net(x), reference.eval()(x))


def test_discriminator_state_dict_is_the_public_layout():
    ours = PatchDiscriminator("instance")
    keys = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    assert keys == {
        "model.0.weight": (64, 3, 4, 4),
        "model.0.bias": (64,),
        "model.2.weight": (128, 64, 4, 4),
        "model.2.bias": (128,),
        "model.5.weight": (256, 128, 4, 4),
        "model.5.bias": (256,),
        "model.8.weight": (512, 256, 4, 4),
        "model.8.bias": (512,),
        "model.11.weight": (1, 512, 4, 4),
        "model.11.bias": (1,),
    }


def test_format_detection_and_clear_errors(tmp_path, fns_reference, cyclegan_reference):
    assert detect_checkpoint_format(fns_reference.state_dict()) == "fast_neural_style"
    assert detect_checkpoint_format(cyclegan_reference.state_dict()) == "cyclegan_generator"
    assert detect_checkpoint_format(PatchDiscriminator().state_dict()) == "cyclegan_discriminator"
    assert detect_checkpoint_format({"state_dict": {}, "hyper_parameters": {}}) == "lightning"
    with pytest.raises(ValueError, match="Unrecognised checkpoint layout.*found foo.weight"):
        detect_checkpoint_format({"foo.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="Not a fast-neural-style state dict"):
        load_fast_neural_style(cyclegan_reference.state_dict())
    with pytest.raises(FileNotFoundError, match="Checkpoint not found"):
        read_state_dict(tmp_path / "missing.pth")
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Could not read .*truncated.pth"):
        read_state_dict(bad)
    broken = fns_reference.state_dict()
    broken.pop("in3.bias")
    with pytest.raises(ValueError, match="missing.*norm3.bias"):
        load_fast_neural_style(broken)
