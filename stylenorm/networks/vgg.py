"""Frozen VGG feature networks and their weights (``imagenet``, a file, or ``random`` for offline smoke runs): the
loss network of fast style transfer (Johnson et al. 2016: torchvision's VGG16 to relu4_3) and the AdaIN encoder's
(Huang & Belongie 2017: VGG19 to relu4_1). docs/public_checkpoints.md.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import VGG16_Weights, VGG19_Weights, WeightsEnum
from torchvision.models.vgg import cfgs, make_layers

from stylenorm.networks.adain import AdaINEncoder
from stylenorm.networks.public_checkpoints import detect_checkpoint_format, load_adain_encoder, read_state_dict
from stylenorm.nn.blocks import named_activations

log = logging.getLogger(__name__)

#: Layers whose activations the perceptual loss reads, and their indices in torchvision's ``vgg16().features``.
VGG16_LAYER_INDICES = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
VGG16_LAYERS = tuple(VGG16_LAYER_INDICES)
#: torchvision ``vgg19().features`` conv index -> :class:`AdaINEncoder` conv index, up to relu4_1.
TORCHVISION_TO_ENCODER = {0: 2, 2: 5, 5: 9, 7: 12, 10: 16, 12: 19, 14: 22, 16: 25, 19: 29}

#: The normalisation torchvision's ImageNet weights were trained with, for RGB in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Seed of random VGG weights (``random``): fixed, not the run's seed.
RANDOM_WEIGHTS_SEED = 0


class VGGWeightsUnavailableError(RuntimeError):
    """The ImageNet VGG weights are neither in the torch hub cache nor downloadable."""


@dataclasses.dataclass(frozen=True)
class WeightsOption:
    """A config key naming VGG weights (``imagenet``, ``random`` or a file), what it loads, and a file it takes."""

    config_key: str
    network: str
    imagenet: WeightsEnum
    file_hint: str


VGG16_WEIGHTS = WeightsOption(
    "model.vgg_weights", "VGG16", VGG16_Weights.IMAGENET1K_V1, "/path/to/vgg16.pth (a torchvision VGG16 state dict)"
)
ENCODER_WEIGHTS = WeightsOption(
    "model.encoder_weights",
    "VGG19",
    VGG19_Weights.IMAGENET1K_V1,
    "/path/to/vgg_normalised.pth (the AdaIN port's) or a torchvision VGG19 state dict",
)


def init_like_torchvision(convs: Iterable[nn.Conv2d]) -> None:
    """torchvision's VGG init (He normal, fan out) with a fixed seed: the same loss network whatever the run's seed."""
    generator = torch.Generator().manual_seed(RANDOM_WEIGHTS_SEED)
    for conv in convs:
        nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu", generator=generator)
        nn.init.zeros_(conv.bias)


class VGG16Features(nn.Module):
    """VGG16 up to relu4_3, frozen (:attr:`weights_source` names its weights); 0-1 RGB in, ImageNet-normalised here."""

    def __init__(self) -> None:
        super().__init__()
        # torchvision's VGG16 (configuration "D") layers, without building its 120M-parameter classifier.
        self.features = make_layers(cfgs["D"])[: VGG16_LAYER_INDICES["relu4_3"] + 1]
        # Not persistent: the state dict stays exactly torchvision's ``features.<i>.*`` keys.
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.weights_source = "random"
        init_like_torchvision(m for m in self.features if isinstance(m, nn.Conv2d))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG16Features:
        return super().train(False)  # a fixed function, whatever its parent's mode

    def forward(self, images: torch.Tensor, layers: Iterable[str] = VGG16_LAYERS) -> dict[str, torch.Tensor]:
        """Activations ``{layer name: (N, C, H', W')}`` for ``layers``; stops after the deepest one."""
        wanted = {VGG16_LAYER_INDICES[name]: name for name in check_layer_names(layers, "layers")}
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(
                f"VGG16Features expects RGB images (N, 3, H, W) on a 0-1 scale, got shape {tuple(images.shape)}."
            )
        return named_activations(self.features, (images - self.mean) / self.std, wanted)


def check_layer_names(names: Iterable[str], what: str) -> tuple[str, ...]:
    """``names`` as a tuple, or a ValueError naming the layers that exist."""
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [name for name in names if name not in VGG16_LAYER_INDICES]
    if unknown or not names:
        raise ValueError(f"{what}: unknown or no VGG16 layer(s) {unknown}; expected some of {', '.join(VGG16_LAYERS)}.")
    return names


def read_weights(option: WeightsOption, weights: str | PathLike) -> tuple[Mapping[str, torch.Tensor] | None, str]:
    """``(state dict, source)`` that ``weights`` names (no state dict for ``random``)."""
    if weights == "random":
        log.warning(
            f"RANDOM {option.network} WEIGHTS ({option.config_key}=random): the content and style losses are not "
            "perceptual and this is NOT a real style-transfer run: use it only for offline smoke tests. "
            f"Set {option.config_key}=imagenet (or a path, {option.file_hint}) for real training."
        )
        return None, "random"
    if weights == "imagenet":
        return fetch_imagenet_state_dict(option), "imagenet"
    path = Path(weights).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"{option.network} weights file not found: {path}. {option.config_key} takes 'imagenet', 'random' or "
            f"{option.file_hint}."
        )
    return read_state_dict(path, f"{option.config_key} takes {option.file_hint}."), f"file:{path}"


def load_vgg16_features(weights: str | PathLike = "imagenet") -> VGG16Features:
    """A frozen :class:`VGG16Features` with ``weights``: ``imagenet``, ``random`` or a state dict path."""
    network = VGG16Features()
    state, source = read_weights(VGG16_WEIGHTS, weights)
    if state is not None:
        expected = network.state_dict()
        refusal = (
            f"{source.removeprefix('file:')} is not a VGG16 state dict up to relu4_3: expected torchvision's vgg16() "
            "keys (features.0.weight, ..., features.21.bias[, classifier.*]) or its features alone (0.weight, ...)"
        )
        network.load_state_dict(vgg_tensors(state, {key: key for key in expected}, expected, refusal))
    network.weights_source = source
    return network


def load_adain_encoder_weights(encoder: AdaINEncoder, weights: str | PathLike) -> AdaINEncoder:
    """Give ``encoder`` (width 64 unless ``random``) the weights ``weights`` names, in place; returns it."""
    state, source = read_weights(ENCODER_WEIGHTS, weights)
    if state is None:
        normalize, *rest = (module for module in encoder if isinstance(module, nn.Conv2d))
        weight, bias = _imagenet_normalisation()
        with torch.no_grad():  # ImageNet normalisation in the 1x1 conv, as with real weights
            normalize.weight.copy_(weight)
            normalize.bias.copy_(bias)
            init_like_torchvision(rest)
    elif source.startswith("file:") and _is_public_encoder(state):
        encoder.load_state_dict(load_adain_encoder(state).state_dict())
    else:
        encoder.load_state_dict(torchvision_to_encoder_state(state, encoder, source.removeprefix("file:")))
    encoder.weights_source = source
    return encoder


def _is_public_encoder(state: Mapping[str, torch.Tensor]) -> bool:
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
    """An :class:`AdaINEncoder` state dict from a torchvision VGG19 one, the leading 1x1 conv ImageNet-normalising."""
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


def imagenet_weights_cache_path(weights: WeightsEnum = VGG16_WEIGHTS.imagenet) -> Path:
    """Where torchvision looks for (and downloads) an ImageNet weights file: the torch hub cache."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights.url).path)


def fetch_imagenet_state_dict(option: WeightsOption) -> Mapping[str, torch.Tensor]:
    """torchvision's ImageNet weights of ``option`` from the hub cache, else downloaded, else a readable refusal."""
    weights = option.imagenet
    cache_path = imagenet_weights_cache_path(weights)
    was_cached = cache_path.is_file()
    try:
        # torchvision's own route: the hub cache, else a download whose SHA256 prefix is checked.
        return weights.get_state_dict(progress=True, check_hash=True, map_location="cpu")
    except Exception as error:
        if was_cached:
            raise VGGWeightsUnavailableError(
                f"The cached ImageNet {option.network} weights at {cache_path} could not be read ({error}), probably "
                f"truncated: delete it to download it again, or put a good copy from {weights.url} there."
            ) from error
        # Offline: URLError, timeouts and SSL failures are OSErrors; a download with a bad hash a RuntimeError.
        if not isinstance(error, (OSError, RuntimeError)):
            raise
        raise VGGWeightsUnavailableError(
            f"Could not get the ImageNet {option.network} weights ({type(error).__name__}: {error}): not in the torch "
            f"hub cache and not downloadable (offline?). Put {weights.url} at {cache_path}, or pass a local copy "
            f"({option.config_key}={option.file_hint}); {option.config_key}=random is for offline smoke runs only."
        ) from error


def vgg_tensors(
    state: Mapping[str, torch.Tensor], keys: Mapping[str, str], expected: Mapping[str, torch.Tensor], refusal: str
) -> dict[str, torch.Tensor]:
    """``{ours: state[theirs]}`` for ``keys`` (ours -> torchvision's ``features.<i>.*``) from a full torchvision
    state dict or its ``features`` alone, shapes checked against ``expected``; errors start with ``refusal``."""
    found = ", ".join(sorted(state)[:6]) or "no keys"
    if not any(key.startswith("features.") for key in state):  # a features-only state dict
        state = {f"features.{key}": value for key, value in state.items()}
    missing = [theirs for theirs in keys.values() if theirs not in state]
    if missing:
        raise ValueError(
            f"{refusal}: missing {len(missing)} of the {len(keys)} tensors needed (e.g. {', '.join(missing[:3])}); "
            f"found {found}."
        )
    wrong = [
        f"{theirs} {tuple(state[theirs].shape)} != {tuple(expected[ours].shape)}"
        for ours, theirs in keys.items()
        if state[theirs].shape != expected[ours].shape
    ]
    if wrong:
        raise ValueError(f"{refusal}: tensor shapes differ: {'; '.join(wrong[:3])}.")
    return {ours: state[theirs] for ours, theirs in keys.items()}
