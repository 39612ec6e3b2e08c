"""The losses measure what their papers define, at the scale the published weights assume, offline.

No test downloads anything: the ImageNet VGG16 path runs against an empty torch hub cache in a
temporary folder, with torch.hub's download function replaced by one that fails like a machine
without network access.
"""

import copy
import logging
import math
import os
import shutil

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from stylenorm.losses import (
    GANLoss,
    PerceptualLoss,
    cycle_consistency_loss,
    gram_matrix,
    identity_loss,
    reconstruction_loss,
    total_variation,
)
from stylenorm.networks.vgg import (
    VGG16Features,
    VGGWeightsUnavailableError,
    imagenet_weights_cache_path,
    load_vgg16_features,
)

VGG16_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
LAYER_INDICES = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def torchvision_vgg16() -> nn.Module:
    """A randomly initialised torchvision VGG16 (built once: the classifier makes it 138M parameters)."""
    torch.manual_seed(1234)
    return torchvision.models.vgg16().eval()


@pytest.fixture(scope="module")
def full_state_dict_file(torchvision_vgg16, tmp_path_factory):
    """Its full state dict (features.* and classifier.*), as torchvision's ImageNet file is laid out."""
    path = tmp_path_factory.mktemp("vgg") / "vgg16_full.pth"
    torch.save(torchvision_vgg16.state_dict(), path)
    yield path
    path.unlink()  # 528 MB; pytest keeps its last three temporary folders


@pytest.fixture(scope="module")
def random_vgg() -> VGG16Features:
    torch.manual_seed(0)
    return load_vgg16_features("random")


def expected_cache_path(tmp_path):
    return tmp_path / "torch_home" / "hub" / "checkpoints" / "vgg16-397923af.pth"


def reference_activations(features: nn.Sequential, images_0_1: torch.Tensor) -> dict[str, torch.Tensor]:
    """torchvision's features run by hand on ImageNet-normalised input, read at indices 3, 8, 15, 22."""
    x = (images_0_1 - MEAN) / STD
    outputs = {}
    with torch.no_grad():
        for index, layer in enumerate(features):
            x = layer(x)
            for name, wanted in LAYER_INDICES.items():
                if index == wanted:
                    outputs[name] = x.clone()  # the next in-place ReLU must not change it
            if index == max(LAYER_INDICES.values()):
                break
    return outputs


def assert_same_features(network: VGG16Features, reference: nn.Module) -> None:
    reference_state = reference.state_dict()
    for key, value in network.state_dict().items():
        assert torch.equal(value, reference_state[key]), key


# --------------------------------------------------------------------------- VGG16 features


def test_layer_cut_matches_torchvision_features(random_vgg, torchvision_vgg16):
    reference = copy.deepcopy(torchvision_vgg16.features)  # its weights get replaced by the network's own
    missing, _ = reference.load_state_dict(
        {key.removeprefix("features."): value for key, value in random_vgg.state_dict().items()}, strict=False
    )
    assert all(int(key.split(".")[0]) > 22 for key in missing)  # everything up to relu4_3 was loaded
    images = torch.rand(2, 3, 64, 64)
    expected = reference_activations(reference.eval(), images)
    with torch.no_grad():
        outputs = random_vgg(images)
    assert list(outputs) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    shapes = {"relu1_2": (2, 64, 64, 64), "relu2_2": (2, 128, 32, 32), "relu3_3": (2, 256, 16, 16)}
    shapes["relu4_3"] = (2, 512, 8, 8)
    for name, activation in outputs.items():
        assert activation.shape == shapes[name]
        torch.testing.assert_close(activation, expected[name], rtol=1e-5, atol=1e-6)
        assert activation.abs().max() > 0  # not a dead network: the comparison means something


def test_requested_layers_only(random_vgg):
    with torch.no_grad():
        outputs = random_vgg(torch.rand(1, 3, 32, 32), ["relu2_2"])
    assert list(outputs) == ["relu2_2"]
    with pytest.raises(ValueError, match="relu5_3.*relu1_2, relu2_2, relu3_3, relu4_3"):
        random_vgg(torch.rand(1, 3, 32, 32), ["relu5_3"])
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(1, 1, 32, 32\)"):
        random_vgg(torch.rand(1, 1, 32, 32))


def test_random_weights_are_one_fixed_function_whatever_the_run_seed_and_announced(caplog):
    """Every run of an ablation must be scored by the same loss network: the random VGG16 is drawn
    from a fixed seed of its own, not from the run's seed."""
    with caplog.at_level(logging.WARNING, logger="stylenorm.networks.vgg"):
        torch.manual_seed(7)
        first = load_vgg16_features("random")
    assert first.weights_source == "random"
    assert "RANDOM VGG16 WEIGHTS" in caplog.text and "NOT a real style-transfer run" in caplog.text
    torch.manual_seed(8)
    other = load_vgg16_features("random")
    for a, b in zip(first.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b)
    # independently: He-normal with fan_out = 64 x 3 x 3 from a generator seeded 0
    expected = torch.empty(64, 3, 3, 3).normal_(0, math.sqrt(2 / (64 * 9)), generator=torch.Generator().manual_seed(0))
    assert torch.equal(first.features[0].weight, expected)


def test_vgg_is_frozen_and_stays_in_eval_mode(random_vgg):
    parent = nn.Module()
    parent.vgg = random_vgg
    parent.train()  # what a LightningModule's train() does to its children
    random_vgg.train()
    assert not random_vgg.training
    assert not any(module.training for module in random_vgg.modules())
    assert not any(parameter.requires_grad for parameter in random_vgg.parameters())
    assert len(list(random_vgg.parameters())) == 20  # 10 convs, weight + bias


# --------------------------------------------------------------------------- VGG16 weights from files


def test_loads_a_full_torchvision_state_dict(full_state_dict_file, torchvision_vgg16):
    network = load_vgg16_features(str(full_state_dict_file))
    assert network.weights_source == f"file:{full_state_dict_file}"
    assert_same_features(network, torchvision_vgg16)
    assert not network.training and not any(p.requires_grad for p in network.parameters())


def test_loads_a_features_only_state_dict(torchvision_vgg16, tmp_path):
    path = tmp_path / "vgg16_features.pth"
    torch.save(torchvision_vgg16.features.state_dict(), path)  # keys 0.weight, 0.bias, ..., 28.bias
    network = load_vgg16_features(path)
    assert_same_features(network, torchvision_vgg16)
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(
            network(images)["relu4_3"], reference_activations(torchvision_vgg16.features, images)["relu4_3"]
        )


def test_wrong_files_are_named_with_what_was_expected(tmp_path):
    not_vgg = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, not_vgg)
    with pytest.raises(ValueError, match=r"resnet\.pth.*features\.0\.weight.*found conv1\.weight") as error:
        load_vgg16_features(str(not_vgg))
    assert str(not_vgg) in str(error.value)

    wrong_shapes = tmp_path / "wrong_shapes.pth"
    state = VGG16Features().state_dict()
    state["features.0.weight"] = torch.zeros(64, 1, 3, 3)
    torch.save(state, wrong_shapes)
    with pytest.raises(ValueError, match=r"wrong_shapes\.pth.*features\.0\.weight \(64, 1, 3, 3\)"):
        load_vgg16_features(wrong_shapes)

    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match=r"garbage\.pth.*state dict"):
        load_vgg16_features(garbage)


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "vgg16.pth"
    with pytest.raises(FileNotFoundError, match=r"nowhere.*'imagenet', 'random'") as error:
        load_vgg16_features(str(missing))
    assert str(missing) in str(error.value)


# --------------------------------------------------------------------------- ImageNet weights, offline


def test_imagenet_offline_says_where_to_put_the_file(offline_hub, tmp_path):
    cache_path = expected_cache_path(tmp_path)
    assert imagenet_weights_cache_path() == cache_path
    with pytest.raises(VGGWeightsUnavailableError) as error:
        load_vgg16_features("imagenet")
    assert isinstance(error.value, RuntimeError)
    message = str(error.value)
    assert offline_hub == [VGG16_URL]  # it did try torchvision's download
    assert str(cache_path) in message
    assert VGG16_URL in message
    assert "model.vgg_weights=random" in message
    assert "model.vgg_weights=/path/to/vgg16.pth" in message
    assert not cache_path.exists()  # no half-written file left to be mistaken for the weights


def test_imagenet_loads_from_the_hub_cache_without_downloading(
    offline_hub, tmp_path, full_state_dict_file, torchvision_vgg16, request
):
    cache_path = expected_cache_path(tmp_path)
    cache_path.parent.mkdir(parents=True)
    try:
        os.link(full_state_dict_file, cache_path)  # 528 MB: share it rather than copy when possible
    except OSError:
        shutil.copyfile(full_state_dict_file, cache_path)
    request.addfinalizer(cache_path.unlink)
    # torch.hub checks the "397923af" SHA256 prefix only when it downloads, so a random
    # state dict under the expected name loads like the real file.
    network = load_vgg16_features("imagenet")
    assert offline_hub == []
    assert network.weights_source == "imagenet"
    assert_same_features(network, torchvision_vgg16)


def test_imagenet_with_an_unreadable_cached_file_says_to_delete_it(offline_hub, tmp_path):
    cache_path = expected_cache_path(tmp_path)
    cache_path.parent.mkdir(parents=True)
    cache_path.write_bytes(b"truncated download")
    with pytest.raises(VGGWeightsUnavailableError, match="delete it") as error:
        load_vgg16_features("imagenet")
    assert str(cache_path) in str(error.value)
    assert offline_hub == []


# --------------------------------------------------------------------------- Gram matrices and total variation


def test_gram_matrix_against_einsum():
    features = torch.randn(2, 3, 4, 5)
    gram = gram_matrix(features)
    expected = torch.einsum("nchw,ndhw->ncd", features, features) / (3 * 4 * 5)
    assert gram.shape == (2, 3, 3)
    torch.testing.assert_close(gram, expected)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    # all ones: every entry is H*W / (C*H*W) = 1/C
    torch.testing.assert_close(gram_matrix(torch.ones(1, 4, 3, 3)), torch.full((1, 4, 4), 0.25))


def test_gram_matrix_is_float32_under_autocast():
    features = torch.randn(1, 8, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gram = gram_matrix(features.bfloat16())
    assert gram.dtype == torch.float32
    torch.testing.assert_close(gram, gram_matrix(features.bfloat16().float()))


def test_total_variation_by_hand():
    assert total_variation(torch.full((2, 3, 5, 7), 0.3)).item() == 0
    image = torch.tensor([[[[0.0, 1.0], [3.0, 6.0]]]])
    # vertical |3-0|, |6-1| -> mean 4; horizontal |1-0|, |6-3| -> mean 2
    assert total_variation(image).item() == pytest.approx(6.0)


# --------------------------------------------------------------------------- perceptual loss


def example_loss(vgg, stylized_255, content_255, style_255, content_weight=1e5, style_weight=1e10):
    """The PyTorch fast_neural_style example's loss, written out on 0-255 images as it does it."""

    def normalize_batch(batch):
        return (batch / 255.0 - MEAN) / STD

    def features(batch):
        x, outputs = batch, []
        for index, layer in enumerate(vgg.features):
            x = layer(x)
            if index in LAYER_INDICES.values():
                outputs.append(x.clone())
        return outputs

    def gram(y):
        b, ch, h, w = y.size()
        flat = y.view(b, ch, w * h)
        return flat.bmm(flat.transpose(1, 2)) / (ch * h * w)

    n_batch = stylized_255.shape[0]
    gram_style = [gram(f) for f in features(normalize_batch(style_255.repeat(4, 1, 1, 1)))]
    features_y, features_x = features(normalize_batch(stylized_255)), features(normalize_batch(content_255))
    content = content_weight * F.mse_loss(features_y[1], features_x[1])
    style = style_weight * sum(F.mse_loss(gram(y), g[:n_batch]) for y, g in zip(features_y, gram_style, strict=True))
    return content, style


def test_matches_the_pytorch_example_on_0_255_images(random_vgg):
    style_255, content_255 = torch.rand(1, 3, 32, 32) * 255, torch.rand(3, 3, 32, 32) * 255
    stylized_255 = content_255 + 20 * torch.randn_like(content_255)  # unclamped, like a network output
    loss = PerceptualLoss(random_vgg)
    loss.set_style(style_255 / 255)
    with torch.no_grad():
        terms = loss(stylized_255 / 255, content_255 / 255)
        content, style = example_loss(random_vgg, stylized_255, content_255, style_255)
    torch.testing.assert_close(terms["content"], content, rtol=1e-4, atol=0)
    torch.testing.assert_close(terms["style"], style, rtol=1e-4, atol=0)
    assert terms["tv"].item() == 0
    torch.testing.assert_close(terms["total"], terms["content"] + terms["style"])
    assert set(terms) == {"content", "style", "tv", "total"}


def test_content_loss_vanishes_for_the_content_and_style_loss_for_the_style(random_vgg):
    style, content = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32)
    loss = PerceptualLoss(random_vgg)
    loss.set_style(style[0])  # (3, H, W) works too
    with torch.no_grad():
        same = loss(content, content)
        styled = loss(style.expand(3, -1, -1, -1), content[:1].expand(3, -1, -1, -1))
        other = loss(content.flip(0), content)
    assert same["content"].item() < 1e-6 < other["content"].item()
    assert styled["style"].item() < 1e-3 * other["style"].item()
    assert other["style"].item() > 1e-3


def test_weights_scale_their_terms_linearly(random_vgg):
    style, content = torch.rand(1, 3, 32, 32), torch.rand(2, 3, 32, 32)
    stylized = torch.rand(2, 3, 32, 32)
    base = PerceptualLoss(random_vgg, tv_weight=1.0)
    scaled = PerceptualLoss(random_vgg, content_weight=3e5, style_weight=2e10, tv_weight=0.5)
    for loss in (base, scaled):
        loss.set_style(style)
    with torch.no_grad():
        a, b = base(stylized, content), scaled(stylized, content)
    torch.testing.assert_close(b["content"], 3 * a["content"])
    torch.testing.assert_close(b["style"], 2 * a["style"])
    torch.testing.assert_close(b["tv"], 0.5 * a["tv"])
    torch.testing.assert_close(a["tv"], total_variation(stylized))
    torch.testing.assert_close(b["total"], b["content"] + b["style"] + b["tv"])


def test_gradients_reach_the_image_but_not_vgg(random_vgg):
    loss = PerceptualLoss(random_vgg, tv_weight=1.0)
    loss.set_style(torch.rand(1, 3, 48, 48))  # any style size
    stylized = torch.rand(2, 3, 32, 32, requires_grad=True)
    loss(stylized, torch.rand(2, 3, 32, 32))["total"].backward()
    assert stylized.grad is not None and stylized.grad.abs().sum() > 0 and torch.isfinite(stylized.grad).all()
    assert all(parameter.grad is None for parameter in random_vgg.parameters())


def test_loss_terms_are_float32_under_autocast(random_vgg):
    loss = PerceptualLoss(random_vgg)
    loss.set_style(torch.rand(1, 3, 32, 32))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        terms = loss(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    assert all(term.dtype == torch.float32 for term in terms.values())
    assert all(torch.isfinite(term) for term in terms.values())


def test_style_is_required_kept_out_of_checkpoints_and_layers_checked(random_vgg):
    loss = PerceptualLoss(random_vgg)
    with pytest.raises(RuntimeError, match="set_style"):
        loss(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32))
    loss.set_style(torch.rand(1, 3, 32, 32))
    assert set(loss.style_grams) == {"relu1_2", "relu2_2", "relu3_3", "relu4_3"}
    assert loss.style_grams["relu4_3"].shape == (1, 512, 512)
    assert not any(key.startswith("style_gram") for key in loss.state_dict())
    with pytest.raises(ValueError, match="one RGB style image"):
        loss.set_style(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match="same shape"):
        loss(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 28, 28))
    with pytest.raises(ValueError, match="content_layer.*relu3_2"):
        PerceptualLoss(random_vgg, content_layer="relu3_2")
    with pytest.raises(ValueError, match="style_layers.*conv1_1"):
        PerceptualLoss(random_vgg, style_layers=["relu1_2", "conv1_1"])


# --------------------------------------------------------------------------- adversarial and reconstruction


def test_lsgan_by_hand():
    prediction = torch.randn(2, 1, 30, 30)
    loss = GANLoss("lsgan")
    torch.testing.assert_close(loss(prediction, True), ((prediction - 1) ** 2).mean())
    torch.testing.assert_close(loss(prediction, False), (prediction**2).mean())
    assert GANLoss().mode == "lsgan"  # the CycleGAN default


def test_vanilla_is_bce_with_logits():
    prediction = torch.randn(3, 1, 4, 4)
    loss = GANLoss("vanilla")
    expected_real = F.binary_cross_entropy_with_logits(prediction, torch.ones_like(prediction))
    expected_fake = F.binary_cross_entropy_with_logits(prediction, torch.zeros_like(prediction))
    torch.testing.assert_close(loss(prediction, True), expected_real)
    torch.testing.assert_close(loss(prediction, False), expected_fake)
    # by hand: -log(sigmoid(p)) for real
    torch.testing.assert_close(loss(prediction, True), -torch.log(torch.sigmoid(prediction)).mean())


def test_gan_loss_errors():
    with pytest.raises(ValueError, match="wgan.*lsgan, vanilla"):
        GANLoss("wgan")
    with pytest.raises(TypeError, match="target_is_real must be True or False"):
        GANLoss()(torch.randn(1, 1, 4, 4), torch.ones(1, 1, 4, 4))


def test_cycle_and_identity_are_l1():
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(cycle_consistency_loss(a, b), (a - b).abs().mean())
    torch.testing.assert_close(identity_loss(a, b), (a - b).abs().mean())
    with pytest.raises(ValueError, match="same shape"):
        cycle_consistency_loss(a, b[:1])


def test_reconstruction_loss_factory():
    a, b = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(reconstruction_loss("l1")(a, b), (a - b).abs().mean())
    torch.testing.assert_close(reconstruction_loss("mse")(a, b), ((a - b) ** 2).mean())
    with pytest.raises(ValueError, match="huber.*l1, mse"):
        reconstruction_loss("huber")
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_loss("mse")(a, b[:, :1])
