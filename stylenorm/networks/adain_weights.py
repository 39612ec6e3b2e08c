"""Where the AdaIN encoder's weights come from (``model.encoder_weights``; Huang & Belongie 2017, Sec. 6.1: a fixed
ImageNet VGG19 up to relu4_1). As for the style model's VGG16 (:mod:`stylenorm.networks.vgg`): ``imagenet``
(torchvision's VGG19, its convs mapped onto the encoder's, its input normalisation in the encoder's 1x1 conv), a file
(the port's ``vgg_normalised.pth`` or a torchvision VGG19 state dict) or ``random``. See docs/public_checkpoints.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import torch
from torch import nn
from torchvision.models import VGG19_Weights

from stylenorm.networks.adain import AdaINEncoder
from stylenorm.networks.public_checkpoints import detect_checkpoint_format, load_adain_encoder
from stylenorm.networks.vgg import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    WeightsOption,
    init_like_torchvision,
    read_weights,
    vgg_tensors,
)

#: torchvision ``vgg19().features`` conv index -> :class:`AdaINEncoder` conv index, up to relu4_1.
TORCHVISION_TO_ENCODER = {0: 2, 2: 5, 5: 9, 7: 12, 10: 16, 12: 19, 14: 22, 16: 25, 19: 29}
ENCODER_WEIGHTS = WeightsOption(
    "model.encoder_weights",
    "VGG19",
    VGG19_Weights.IMAGENET1K_V1,
    "the AdaIN port's vgg_normalised.pth or a torchvision VGG19 state dict",
    "/path/to/vgg_normalised.pth (the AdaIN port's) or a torchvision VGG19 state dict",
)


def load_adain_encoder_weights(encoder: AdaINEncoder, weights: str | PathLike) -> AdaINEncoder:
    """Give ``encoder`` (width 64 unless ``random``) the weights ``weights`` names, in place; returns it."""
    state, source = read_weights(ENCODER_WEIGHTS, weights)
    if state is None:
        normalize, *rest = (module for module in encoder if isinstance(module, nn.Conv2d))
        weight, bias = _imagenet_normalisation()
        with torch.no_grad():
            # ImageNet normalisation in the 1x1 conv, as with real weights, so the random VGG sees inputs of
            # the scale its He init assumes.
            normalize.weight.copy_(weight)
            normalize.bias.copy_(bias)
            init_like_torchvision(rest)
    elif source.startswith("file:") and _is_public_layout(state):
        encoder.load_state_dict(load_adain_encoder(state).state_dict())
    else:
        encoder.load_state_dict(torchvision_to_encoder_state(state, encoder, source.removeprefix("file:")))
    encoder.weights_source = source
    return encoder


def _is_public_layout(state: Mapping[str, torch.Tensor]) -> bool:
    try:
        return detect_checkpoint_format(state) == "adain_encoder"
    except ValueError:
        return False


def _imagenet_normalisation() -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of a 1x1 conv computing ``(x - mean) / std`` with ImageNet's statistics."""
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    return torch.diag(1.0 / std).reshape(3, 3, 1, 1), -mean / std


def torchvision_to_encoder_state(
    state: Mapping[str, torch.Tensor], encoder: AdaINEncoder, source: str = "the state dict"
) -> dict[str, torch.Tensor]:
    """An :class:`AdaINEncoder` state dict from a torchvision VGG19 one (``features.<i>.*`` or bare ``<i>.*``),
    with the leading 1x1 conv set to ImageNet normalisation."""
    keys = {
        f"{index}.{part}": f"features.{tv_index}.{part}"
        for tv_index, index in TORCHVISION_TO_ENCODER.items()
        for part in ("weight", "bias")
    }
    refusal = (
        f"{source} is neither the AdaIN port's vgg_normalised.pth nor a torchvision VGG19 state dict of this "
        f"encoder's width ({ENCODER_WEIGHTS.config_key} takes 'imagenet', 'random' or the path of either)"
    )
    target = {key: value.float() for key, value in vgg_tensors(state, keys, encoder.state_dict(), refusal).items()}
    target["0.weight"], target["0.bias"] = _imagenet_normalisation()
    return target
