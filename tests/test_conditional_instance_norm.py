"""Conditional instance norm (Dumoulin, Shlens & Kudlur 2017) against a from-scratch reference."""

import re
from pathlib import Path

import pytest
import torch

from conftest import compose_offline_run, scalars
from stylenorm.inference.styles import bake_style
from stylenorm.networks import TransformerNet
from stylenorm.nn.conditional_instance_norm import ConditionalInstanceNorm2d, conditional_layers, set_style
from stylenorm.nn.norm import NormSpec
from tests.reference_norms import instance_norm


def reference_cin(x, gamma_table, beta_table, weights):
    """Eq. 5 of the paper, with a convex mix of style rows (Sec. 5), one sample at a time."""
    out = []
    for n in range(x.shape[0]):
        gamma = sum(w * g for w, g in zip(weights[n], gamma_table, strict=True))
        beta = sum(w * b for w, b in zip(weights[n], beta_table, strict=True))
        out.append(instance_norm(x[n : n + 1]) * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1))
    return torch.cat(out)


@pytest.fixture
def layer():
    torch.manual_seed(0)
    layer = NormSpec(kind="conditional_instance", affine=True, num_styles=3)(4, name="test")
    with torch.no_grad():
        layer.weight.normal_()
        layer.bias.normal_()
    return layer


def test_factory_builds_a_per_style_table(layer):
    assert isinstance(layer, ConditionalInstanceNorm2d)
    assert layer.weight.shape == layer.bias.shape == (3, 4)


def test_style_indices_match_the_reference(layer):
    x = torch.randn(3, 4, 8, 8)
    layer.style = torch.tensor([2, 0, 1])
    weights = torch.eye(3)[[2, 0, 1]]
    torch.testing.assert_close(layer(x), reference_cin(x, layer.weight, layer.bias, weights))


def test_one_hot_mix_equals_the_style_exactly(layer):
    x = torch.randn(2, 4, 8, 8)
    layer.style = 1
    by_index = layer(x)
    layer.style = torch.tensor([0.0, 1.0, 0.0])
    assert torch.equal(layer(x), by_index)


def test_convex_mix_matches_the_reference_mix(layer):
    x = torch.randn(2, 4, 8, 8)
    mix = torch.tensor([0.2, 0.3, 0.5])
    set_style(layer, mix)
    torch.testing.assert_close(layer(x), reference_cin(x, layer.weight, layer.bias, [mix, mix]))


@pytest.mark.parametrize(
    ("style", "message"),
    [
        (3, "out of range"),
        (torch.tensor([0.5, 0.5]), "3 entries"),
        (torch.tensor([0.5, 0.7, -0.2]), "non-negative"),
        (torch.tensor([0.5, 0.7, 0.2]), "sum to 1"),
    ],
)
def test_bad_styles_are_refused(layer, style, message):
    layer.style = style
    with pytest.raises(ValueError, match=message):
        layer(torch.randn(1, 4, 4, 4))


def test_set_style_refuses_networks_without_styles():
    with pytest.raises(ValueError, match="norm=conditional_instance"):
        set_style(torch.nn.InstanceNorm2d(4), 0)


def test_other_kinds_store_no_num_styles():
    assert "num_styles" not in NormSpec(kind="instance").to_dict()
    assert NormSpec(kind="conditional_instance", num_styles=2).to_dict()["num_styles"] == 2


# ------------------------------------------------------------------ in TransformerNet, baked for inference


@pytest.fixture
def two_style_net():
    torch.manual_seed(1)
    net = TransformerNet({"kind": "conditional_instance", "num_styles": 2}, num_residual_blocks=2).eval()
    with torch.no_grad():
        for layer in conditional_layers(net):
            layer.weight.normal_(1.0, 0.5)
            layer.bias.normal_(0.0, 0.5)
    return net


def blended_instance_net(conditional: TransformerNet, mix) -> TransformerNet:
    """The reference: a plain affine-IN TransformerNet whose gamma/beta are the mix of the two tables,
    computed here row by row from the state dict (no stylenorm style code involved)."""
    reference = TransformerNet("instance", num_residual_blocks=2).eval()
    state = {}
    for key, value in conditional.state_dict().items():
        is_table = value.dim() == 2 and value.shape[0] == 2 and key.split(".")[-2].startswith("norm")
        state[key] = mix[0] * value[0] + mix[1] * value[1] if is_table else value
    reference.load_state_dict(state)
    return reference


def test_every_norm_of_transformer_net_is_conditional_residual_blocks_included(two_style_net):
    layers = conditional_layers(two_style_net)
    assert len(layers) == 3 + 2 * 2 + 2
    for block in two_style_net.residual_blocks:
        assert {type(block.norm1), type(block.norm2)} == {ConditionalInstanceNorm2d}


@pytest.mark.integration
def test_baked_styles_equal_the_reference_networks(two_style_net):
    import copy

    x = torch.rand(2, 3, 32, 32) * 255
    for mix in ([1.0, 0.0], [0.0, 1.0], [0.3, 0.7]):
        baked = bake_style(copy.deepcopy(two_style_net), torch.tensor(mix))
        assert conditional_layers(baked) == []
        torch.testing.assert_close(baked(x), blended_instance_net(two_style_net, mix)(x), rtol=1e-4, atol=1e-3)
    by_index = bake_style(copy.deepcopy(two_style_net), 1)(x)
    assert torch.equal(bake_style(copy.deepcopy(two_style_net), torch.tensor([0.0, 1.0]))(x), by_index)
    set_style(two_style_net, 1)  # unbaked, with the style set: the same network
    torch.testing.assert_close(two_style_net(x), by_index, rtol=1e-4, atol=1e-3)
    style_0 = bake_style(copy.deepcopy(two_style_net), 0)(x)
    assert (by_index - style_0).abs().mean() > 0.2 * by_index.abs().mean()  # the styles differ


def test_per_sample_styles_score_each_sample_against_its_own_grams():
    from stylenorm.losses import PerceptualLoss
    from stylenorm.networks.vgg import load_vgg16_features

    torch.manual_seed(2)
    vgg = load_vgg16_features("random")
    styles = [torch.rand(1, 3, 40, 40), torch.rand(1, 3, 24, 32)]
    stylized, content = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    both = PerceptualLoss(vgg)
    both.set_styles(styles)
    mixed = both(stylized, content, torch.tensor([1, 0]))["style"]
    single = []
    for sample, style in ((0, 1), (1, 0)):
        one = PerceptualLoss(vgg)
        one.set_style(styles[style])
        single.append(one(stylized[sample : sample + 1], content[sample : sample + 1])["style"])
    torch.testing.assert_close(mixed, sum(single) / 2)
    with pytest.raises(ValueError, match="pass style_index"):
        both(stylized, content)


# ------------------------------------------------------------------ training N styles through train.py


TINY_STYLE = (
    "model=style", "model.vgg_weights=random", "model.network.num_residual_blocks=1",
    "data.batch_size=2", "data.image_size=32",
)  # fmt: skip


@pytest.fixture(scope="module")
def two_style_run(tmp_path_factory):
    """30 steps on the embedded data's first two paintings, validated every 2 (about 10 s on 2 CPUs).

    lr 1e-2: at the default 1e-3 the per-style gammas/betas move so little in 30 steps that the two
    styles' outputs differed by 0.4 gray levels (measured); at 1e-2 by about 11."""
    from stylenorm.train import run

    root = tmp_path_factory.mktemp("two_styles")
    cfg = compose_offline_run(
        root, *TINY_STYLE, "norm=conditional_instance", "data.num_styles=2", "trainer.max_steps=30",
        "trainer.val_check_interval=2", "model.lr=1e-2",
    )  # fmt: skip
    metrics = run(cfg)
    return cfg, metrics, Path(cfg.paths.run_checkpoint_dir) / "last.ckpt"


@pytest.mark.integration
def test_two_styles_train_in_one_network_and_their_style_losses_fall(two_style_run):
    cfg, metrics, checkpoint = two_style_run
    assert cfg.norm.num_styles == 2  # filled from data.num_styles
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert saved["hyper_parameters"]["norm"]["num_styles"] == 2
    assert saved["state_dict"]["transformer.residual_blocks.0.norm2.weight"].shape == (2, 128)
    for index in (0, 1):
        curve = scalars(cfg.paths.run_dir, f"val/style_{index}")
        # Measured at lr 1e-2: style 1 about 5700 -> 490 over steps 2..30; style 0 alike.
        assert len(curve) >= 6 and curve[-1] < 0.5 * curve[0], (index, curve)
    assert metrics["val/style"] == pytest.approx((metrics["val/style_0"] + metrics["val/style_1"]) / 2, rel=1e-5)


def run_command(main, args, capsys):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.integration
def test_the_stylize_command_picks_and_mixes_the_styles(two_style_run, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from stylenorm.inference.cli import main

    _, _, checkpoint = two_style_run
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (36, 44, 3), dtype=np.uint8)).save(photo)
    outputs = {}
    for name, option in (("0", ["--style", 0]), ("1", ["--style", 1]), ("onehot", ["--style-mix", "0,1"]),
                         ("mix", ["--style-mix", "0.5,0.5"])):  # fmt: skip
        target = tmp_path / f"{name}.png"
        code, text = run_command(
            main, ["-c", checkpoint, "-i", photo, "-o", target, "--precision", "fp32", *option], capsys
        )
        assert code == 0, text
        outputs[name] = np.asarray(Image.open(target)).astype(np.int16)
    assert np.array_equal(outputs["onehot"], outputs["1"])  # a one-hot mix is that style, exactly
    assert np.abs(outputs["0"] - outputs["1"]).mean() > 3.0  # the two styles are different networks (11 measured)
    for failing, message in (
        ([], "holds 2 styles.*--style K"),
        (["--style", 2], "out of range.*--style 0..1"),
        (["--style-mix", "0.2,0.3,0.5"], "3 weight.*holds 2 styles"),
        (["--style-mix", "1.5,-0.5"], "non-negative"),
        (["--style-mix", "0.3,0.6"], "sums to 0.9.*0.333,0.667"),
    ):
        code, text = run_command(main, ["-c", checkpoint, "-i", photo, "-o", tmp_path / "x.png", *failing], capsys)
        assert code == 2 and re.search(message, text), text


@pytest.mark.integration
def test_the_api_mix_is_the_blend_of_the_styles(two_style_run):
    from stylenorm.inference import load_stylizer

    _, _, checkpoint = two_style_run
    pixels = torch.rand(1, 3, 32, 32) * 255
    mixed = load_stylizer(checkpoint, device="cpu", style=[0.25, 0.75])
    conditional = load_stylizer(checkpoint, device="cpu", style=0).network  # baked: to read the two tables ...
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    reference = TransformerNet("instance", num_residual_blocks=1).eval()
    blend = {}
    for key, value in state.items():
        key = key.removeprefix("transformer.")
        blend[key] = 0.25 * value[0] + 0.75 * value[1] if value.dim() == 2 and value.shape[0] == 2 else value
    reference.load_state_dict(blend)  # ... and the reference blends them itself
    assert set(conditional.state_dict()) == set(reference.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(mixed.network(pixels), reference(pixels), rtol=1e-4, atol=1e-3)


@pytest.mark.integration
def test_export_bakes_the_chosen_style_or_refuses(two_style_run, tmp_path, capsys):
    from stylenorm.inference.cli import export_main as main

    _, _, checkpoint = two_style_run
    code, text = run_command(main, ["-c", checkpoint, "-o", tmp_path / "m.pt", "--sample-size", 32], capsys)
    assert code == 2 and "holds 2 styles" in text and not (tmp_path / "m.pt").exists()
    args = ["-c", checkpoint, "-o", tmp_path / "m.pt", "--sample-size", 32, "--style-mix", "0.5,0.5"]
    code, text = run_command(main, args, capsys)
    assert code == 0 and "style mix 0.5,0.5" in text, text


def test_style_options_on_a_one_style_checkpoint_are_refused(tmp_path, capsys):
    import lightning

    from stylenorm.inference.cli import main
    from stylenorm.tasks import StyleTransferTask

    task = StyleTransferTask(norm={"kind": "instance"}, network={"num_residual_blocks": 1}, vgg_weights="random")
    state = {k: v for k, v in task.state_dict().items() if not k.startswith("perceptual.")}
    checkpoint = tmp_path / "one.ckpt"
    torch.save({"pytorch-lightning_version": lightning.__version__, "state_dict": state,
                "hyper_parameters": dict(task.hparams)}, checkpoint)  # fmt: skip
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.new("RGB", (16, 16), (90, 120, 150)).save(photo)
    code, text = run_command(main, ["-c", checkpoint, "-i", photo, "-o", tmp_path / "o.png", "--style", 0], capsys)
    assert code == 2 and "norm=conditional_instance" in text and "Leave --style/--style-mix out" in text


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (["model=cyclegan", "norm=conditional_instance"], ValueError, "only model=style"),
        (["model=autoencoder", "norm=conditional_instance"], ValueError, "only model=style"),
        ([*TINY_STYLE, "data.num_styles=2"], ValueError, "Add norm=conditional_instance"),
        ([*TINY_STYLE, "norm=conditional_instance", "data.num_styles=2", "norm.num_styles=3"], ValueError,
         "Drop norm.num_styles"),
        ([*TINY_STYLE, "norm=conditional_instance", "data.num_styles=4"], ValueError, r"use 1\.\.3"),
    ],
)  # fmt: skip
@pytest.mark.integration
def test_bad_combinations_name_the_fix(tmp_path, overrides, error, message):
    from stylenorm.train import run

    cfg = compose_offline_run(tmp_path, *overrides, "trainer.max_steps=1")
    with pytest.raises(error, match=message):
        run(cfg)


def test_style_images_lists_the_paintings_and_style_image_still_works(tmp_path):
    from PIL import Image

    from stylenorm.data import StyleDataModule

    for i in range(4):
        Image.new("RGB", (20, 20), (i * 40, 10, 10)).save(tmp_path / f"p{i}.png")
    Image.new("RGB", (30, 20), (200, 10, 10)).save(tmp_path / "a.png")
    Image.new("RGB", (20, 40), (10, 10, 200)).save(tmp_path / "b.png")
    several = StyleDataModule(tmp_path, style_images=[tmp_path / "a.png", tmp_path / "b.png"], image_size=16)
    tensors = several.style_image_tensors()
    assert [t.shape for t in tensors] == [(1, 3, 20, 30), (1, 3, 40, 20)]
    assert tensors[1][0, 2].mean() > 0.7 and tensors[0][0, 0].mean() > 0.7  # in the listed order
    one = StyleDataModule(tmp_path, style_image=tmp_path / "b.png", image_size=16)
    assert len(one.style_image_tensors()) == 1 and torch.equal(one.style_image_tensor(), tensors[1])
    with pytest.raises(FileNotFoundError, match="Set data.style_images"):
        StyleDataModule(tmp_path, style_images=[tmp_path / "a.png", tmp_path / "missing.png"])
    with pytest.raises(ValueError, match="data.style_image=FILE"):
        StyleDataModule(tmp_path)
