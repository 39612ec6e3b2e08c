"""Where the AdaIN encoder's weights come from (the ``model.encoder_weights`` config key).

Huang & Belongie 2017 (Sec. 6.1) use a fixed ImageNet VGG19 up to relu4_1. Sources, as for the style
model's VGG16 (:mod:`stylenorm.networks.vgg`): ``imagenet`` (torchvision's VGG19, its convs mapped
onto the encoder's and its input normalisation done by the encoder's 1x1 conv), a file (the port's
``vgg_normalised.pth`` or a torchvision VGG19 state dict) or ``random`` (a fixed seed of its own, for
offline runs). Details: docs/public_checkpoints.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import torch
from torch import nn
from torchvision.models import VGG19_Weights

from stylenorm.networks.adain import AdaINEncoder
from stylenorm.networks.public_checkpoints import detect_checkpoint_format, load_adain_encoder
from stylenorm.networks.vgg import IMAGENET_MEAN, IMAGENET_STD, fetch_imagenet_state_dict, read_weights_file

log = logging.getLogger(__name__)

IMAGENET_VGG19_WEIGHTS = VGG19_Weights.IMAGENET1K_V1
#: torchvision ``vgg19().features`` conv index -> :class:`AdaINEncoder` conv index, up to relu4_1.
TORCHVISION_TO_ENCODER = {0: 2, 2: 5, 5: 9, 7: 12, 10: 16, 12: 19, 14: 22, 16: 25, 19: 29}
#: Seed of the random encoder (``model.encoder_weights=random``): fixed, not the run's seed.
RANDOM_WEIGHTS_SEED = 0
ENCODER_WEIGHTS_HELP = (
    "model.encoder_weights takes 'imagenet' (torchvision's VGG19), 'random' (offline smoke runs) or the path of "
    "the AdaIN port's vgg_normalised.pth or of a torchvision VGG19 state dict"
)


def load_adain_encoder_weights(encoder: AdaINEncoder, weights: str | PathLike) -> AdaINEncoder:
    """Give ``encoder`` (width 64 unless ``random``) the weights ``weights`` names, in place; returns it.

    Raises:
        VGGWeightsUnavailableError: ``imagenet`` not cached and not downloadable.
        FileNotFoundError / ValueError: a path that is missing or not one of the two layouts.
    """
    if weights == "random":
        log.warning(
            "THE AdaIN ENCODER HAS RANDOM VGG19 WEIGHTS (model.encoder_weights=random). Its content and style losses "
            "are not perceptual and this is NOT a real style-transfer run: use it only for offline smoke tests. "
            "Set model.encoder_weights=imagenet (or a path to vgg_normalised.pth) for real training."
        )
        _randomize(encoder)
        encoder.weights_source = "random"
        return encoder
    if weights == "imagenet":
        state = fetch_imagenet_state_dict(
            IMAGENET_VGG19_WEIGHTS,
            what="the ImageNet VGG19 weights for the AdaIN encoder",
            config_key="model.encoder_weights",
            file_hint="/path/to/vgg_normalised.pth (the AdaIN port's) or a torchvision VGG19 state dict",
        )
        source = "imagenet"
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"AdaIN encoder weights file not found: {path}. {ENCODER_WEIGHTS_HELP}.")
        state = read_weights_file(path, expected="torch.save(vgg.state_dict(), path) (see model.encoder_weights)")
        source = f"file:{path}"
        if _is_public_layout(state):
            loaded = load_adain_encoder(state)
            encoder.load_state_dict(loaded.state_dict())
            encoder.weights_source = source
            return encoder
    encoder.load_state_dict(torchvision_to_encoder_state(state, encoder, source))
    encoder.weights_source = source
    return encoder


def _is_public_layout(state: Mapping[str, torch.Tensor]) -> bool:
    try:
        return detect_checkpoint_format(state) == "adain_encoder"
    except ValueError:
        return False


def torchvision_to_encoder_state(
    state: Mapping[str, torch.Tensor], encoder: AdaINEncoder, source: str = "the state dict"
) -> dict[str, torch.Tensor]:
    """An :class:`AdaINEncoder` state dict from a torchvision VGG19 one (``features.<i>.*`` or bare ``<i>.*``),
    with the leading 1x1 conv set to ImageNet normalisation."""
    if not any(key.startswith("features.") for key in state):
        state = {f"features.{key}": value for key, value in state.items()}
    target = {key: value.clone() for key, value in encoder.state_dict().items()}
    missing = [
        f"features.{index}.{part}"
        for index in TORCHVISION_TO_ENCODER
        for part in ("weight", "bias")
        if f"features.{index}.{part}" not in state
    ]
    if missing:
        found = ", ".join(sorted(state)[:6]) or "no keys"
        raise ValueError(
            f"{source} is neither the AdaIN port's vgg_normalised.pth nor a torchvision VGG19 state dict: missing "
            f"{', '.join(missing[:3])} (found {found}). {ENCODER_WEIGHTS_HELP}."
        )
    for tv_index, index in TORCHVISION_TO_ENCODER.items():
        for part in ("weight", "bias"):
            value, expected = state[f"features.{tv_index}.{part}"], target[f"{index}.{part}"]
            if value.shape != expected.shape:
                raise ValueError(
                    f"{source} does not hold VGG19 weights of this encoder's width: features.{tv_index}.{part} is "
                    f"{tuple(value.shape)}, expected {tuple(expected.shape)}."
                )
            target[f"{index}.{part}"] = value.float()
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    target["0.weight"] = torch.diag(1.0 / std).reshape(3, 3, 1, 1)
    target["0.bias"] = -mean / std
    return target


def _randomize(encoder: AdaINEncoder) -> None:
    generator = torch.Generator().manual_seed(RANDOM_WEIGHTS_SEED)
    convs = [module for module in encoder if isinstance(module, nn.Conv2d)]
    with torch.no_grad():
        normalize, *rest = convs
        # The 1x1 input conv does ImageNet normalisation, as with real weights, so the random VGG sees
        # inputs of the scale its He init assumes.
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        normalize.weight.copy_(torch.diag(1.0 / std).reshape(3, 3, 1, 1))
        normalize.bias.copy_(-mean / std)
        for conv in rest:
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            nn.init.zeros_(conv.bias)
