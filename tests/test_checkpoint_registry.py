"""The checkpoint registry: one answer to "what is this file", shared by stylize, the demo and resume."""

import pytest
import torch

from reference_networks import FastNeuralStyleNet, OriginalCycleGANGenerator
from stylenorm.config_checks import ConfigError
from stylenorm.demo.catalog import find_checkpoints
from stylenorm.inference import load_stylizer
from stylenorm.networks import build_networks
from stylenorm.networks.public_checkpoints import LIGHTNING_MODELS, PUBLIC_KINDS, identify
from stylenorm.resume import read_checkpoint

TINY = {
    "style": {"network": {"num_residual_blocks": 1}},
    "autoencoder": {"network": {"base_channels": 4, "bottleneck_depth": 1}},
    "cyclegan": {"generator": {"ngf": 4, "n_blocks": 1}, "discriminator": {"ndf": 4, "n_layers": 1}},
}


def lightning_checkpoint(name: str, norm: dict) -> dict:
    """What train.py saves, reduced to the keys readers use: weights under their role prefixes."""
    config = {"name": name, "norm": norm, **TINY[name]}
    networks = build_networks(config)
    state = {f"{role}.{key}": value for role, net in networks.items() for key, value in net.state_dict().items()}
    return {"state_dict": state, "hyper_parameters": config}


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_role_the_registry_names_is_a_network_the_model_builds(name):
    roles, _ = LIGHTNING_MODELS[name]
    built = build_networks({"name": name, "norm": {"kind": "instance"}, **TINY[name]})
    assert set(roles.values()) <= set(built)


def test_a_train_py_checkpoint_is_named_with_its_norm_and_directions():
    kind = identify(lightning_checkpoint("cyclegan", {"kind": "group", "affine": True}))
    assert (kind.format, kind.model, kind.norm_kind, kind.affine) == ("lightning", "cyclegan", "group", True)
    assert kind.directions == ("AtoB", "BtoA") and kind.pixels == "signed"
    style = identify(lightning_checkpoint("style", {"kind": "instance", "affine": None}))
    assert style.directions == () and style.pixels == "zero_to_255"
    assert style.affine is True  # null resolves to TransformerNet's default


def test_an_old_checkpoint_without_a_model_name_is_known_by_its_weights():
    checkpoint = lightning_checkpoint("autoencoder", {"kind": "batch"})
    del checkpoint["hyper_parameters"]["name"]
    assert identify(checkpoint).model == "autoencoder"
    checkpoint["state_dict"] = {"mystery.weight": torch.zeros(1)}
    with pytest.raises(ValueError, match="match none of style, cyclegan, autoencoder, adain"):
        identify(checkpoint)


def test_public_files_are_named_by_their_layout():
    fns = identify(FastNeuralStyleNet().state_dict())
    assert (fns.format, fns.model, fns.norm_kind, fns.affine, fns.runnable) == (
        "fast_neural_style", "style", "instance", True, True
    )  # fmt: skip
    generator = identify(OriginalCycleGANGenerator(ngf=4, n_blocks=1).state_dict())
    assert (generator.format, generator.pixels, generator.affine) == ("cyclegan_generator", "signed", False)
    assert not PUBLIC_KINDS["adain_encoder"].runnable and not PUBLIC_KINDS["cyclegan_discriminator"].runnable
    with pytest.raises(ValueError, match="Unrecognised checkpoint layout"):
        identify({"weight": torch.zeros(1)})


def test_stylize_and_the_demo_read_the_same_answer(tmp_path):
    path = tmp_path / "run.ckpt"
    torch.save(lightning_checkpoint("autoencoder", {"kind": "layer", "affine": False}), path)
    (entry,) = find_checkpoints([tmp_path])
    kind = identify(torch.load(path, weights_only=True))
    assert (entry.model, entry.norm_kind, entry.affine) == (kind.model, kind.norm_kind, kind.affine)
    stylizer = load_stylizer(path, device="cpu")
    assert stylizer.convention.name == kind.pixels


def test_resume_names_the_public_file_it_was_given(tmp_path):
    path = tmp_path / "candy.pth"
    torch.save(FastNeuralStyleNet().state_dict(), path)
    with pytest.raises(ConfigError, match="it is a fast-neural-style file"):
        read_checkpoint(path)
