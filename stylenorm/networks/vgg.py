"""The frozen VGG16 loss network of fast style transfer, and where its weights come from.

Johnson et al. 2016 (Sec. 3) measure content and style with an ImageNet VGG16 (Simonyan & Zisserman
2015) at relu1_2, relu2_2, relu3_3 and relu4_3. :class:`VGG16Features` is torchvision's VGG16
``features`` cut after relu4_3, so torchvision's ``features.<i>.*`` keys load unchanged. Weights
(``model.vgg_weights``: ``imagenet``, a file, or ``random`` for offline smoke runs):
docs/public_checkpoints.md. The losses take this network as an argument (:mod:`stylenorm.losses`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import VGG16_Weights
from torchvision.models.vgg import cfgs, make_layers

from stylenorm.safe_load import safe_load

log = logging.getLogger(__name__)

#: Layers whose activations the perceptual loss reads, and their indices in torchvision's
#: ``vgg16().features``.
VGG16_LAYER_INDICES = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22}
VGG16_LAYERS = tuple(VGG16_LAYER_INDICES)

#: The normalisation torchvision's ImageNet weights were trained with, for RGB in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

IMAGENET_WEIGHTS = VGG16_Weights.IMAGENET1K_V1


class VGGWeightsUnavailableError(RuntimeError):
    """The ImageNet VGG16 weights are neither in the torch hub cache nor downloadable."""


#: Seed of the random VGG16 weights (``model.vgg_weights=random``): fixed, not the run's seed.
RANDOM_WEIGHTS_SEED = 0


class VGG16Features(nn.Module):
    """VGG16 up to relu4_3, frozen, returning the activations the perceptual loss reads.

    Input: ``(N, 3, H, W)`` RGB on a 0-1 scale (values outside it are fine: a network's unclamped
    output). ImageNet mean/std normalisation happens here, so callers never do it. This equals the
    PyTorch example's ``normalize_batch`` applied to a 0-255 image: ``(x / 255 - mean) / std``.

    Built randomly initialised (torchvision's scheme); use :func:`load_vgg16_features` for real
    weights. :attr:`weights_source` says which weights it holds (``imagenet``, ``file:<path>``,
    ``random``), for hyperparameters and logs.
    """

    def __init__(self) -> None:
        super().__init__()
        # torchvision's VGG16 (configuration "D") layers, without building its 120M-parameter classifier.
        self.features = make_layers(cfgs["D"])[: VGG16_LAYER_INDICES["relu4_3"] + 1]
        # Not persistent: the state dict stays exactly torchvision's ``features.<i>.*`` keys.
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.weights_source = "random"
        self._init_like_torchvision()
        self.requires_grad_(False)
        self.eval()

    def _init_like_torchvision(self) -> None:
        # torchvision's VGG init, so random weights give activations of a sensible scale. Drawn from a
        # generator of its own with a fixed seed: the loss network is then the same function in every
        # run, whatever the run's seed, so losses of an ablation's seeds and variants are comparable
        # (with the global generator each seed would be scored by a different loss).
        generator = torch.Generator().manual_seed(RANDOM_WEIGHTS_SEED)
        for module in self.features:
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=generator)
                nn.init.zeros_(module.bias)

    def train(self, mode: bool = True) -> VGG16Features:
        # A loss network must stay a fixed function, but `.train()` on any parent (the LightningModule
        # this lives in, Lightning < 2.1 at fit start, its on_validation_model_train hook) recurses
        # into it; so it ignores that. VGG16's conv/ReLU/pool layers act the same in both modes
        # today; staying in eval keeps that true and lets model summaries show it as frozen.
        return super().train(False)

    def forward(self, images: torch.Tensor, layers: Iterable[str] = VGG16_LAYERS) -> dict[str, torch.Tensor]:
        """Activations ``{layer name: (N, C, H', W')}`` for ``layers``; stops after the deepest one.

        For a 64x64 input: relu1_2 (N, 64, 64, 64), relu2_2 (N, 128, 32, 32),
        relu3_3 (N, 256, 16, 16), relu4_3 (N, 512, 8, 8).
        """
        wanted = {VGG16_LAYER_INDICES[name]: name for name in check_layer_names(layers, "layers")}
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(
                "VGG16Features expects RGB images of shape (N, 3, H, W) on a 0-1 scale, "
                f"got shape {tuple(images.shape)}."
            )
        x = (images - self.mean) / self.std
        outputs = {}
        for index, layer in enumerate(self.features[: max(wanted) + 1]):
            x = layer(x)
            if index in wanted:
                outputs[wanted[index]] = x
        return outputs


def check_layer_names(names: Iterable[str], what: str) -> tuple[str, ...]:
    """``names`` as a tuple, or a ValueError naming the layers that exist."""
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [name for name in names if name not in VGG16_LAYER_INDICES]
    if unknown or not names:
        raise ValueError(f"{what}: unknown or no VGG16 layer(s) {unknown}; expected some of {', '.join(VGG16_LAYERS)}.")
    return names


def load_vgg16_features(weights: str | PathLike = "imagenet") -> VGG16Features:
    """A frozen :class:`VGG16Features` with ``weights``: ``imagenet``, ``random`` or a state dict path.

    Raises:
        VGGWeightsUnavailableError: ``imagenet`` weights not cached and not downloadable.
        FileNotFoundError: a path that does not exist.
        ValueError: a file that is not a VGG16 state dict.
    """
    network = VGG16Features()
    if weights == "random":
        log.warning(
            "PERCEPTUAL LOSS USES RANDOM VGG16 WEIGHTS (model.vgg_weights=random). Content and style losses "
            "are not perceptual and this is NOT a real style-transfer run: use it only for offline smoke tests. "
            "Set model.vgg_weights=imagenet (or a path to torchvision's vgg16 weights) for real training."
        )
        return network
    if weights == "imagenet":
        state, source, description = _imagenet_state_dict(), "imagenet", f"torchvision's {IMAGENET_WEIGHTS!r}"
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"VGG16 weights file not found: {path}. model.vgg_weights takes 'imagenet', 'random' or the path "
                "of a torchvision VGG16 state dict (e.g. vgg16-397923af.pth)."
            )
        state, source, description = read_weights_file(path), f"file:{path}", str(path)
    network.load_state_dict(_features_state_dict(state, network.state_dict(), description))
    network.weights_source = source
    return network


def imagenet_weights_cache_path(weights=IMAGENET_WEIGHTS) -> Path:
    """Where torchvision looks for (and downloads) an ImageNet weights file (default: VGG16's): the
    torch hub cache."""
    filename = os.path.basename(urlparse(weights.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _imagenet_state_dict() -> Mapping[str, torch.Tensor]:
    return fetch_imagenet_state_dict(
        IMAGENET_WEIGHTS,
        what="the ImageNet VGG16 weights for the perceptual loss",
        config_key="model.vgg_weights",
        file_hint="/path/to/vgg16.pth (a torchvision VGG16 state dict)",
    )


def fetch_imagenet_state_dict(weights, *, what: str, config_key: str, file_hint: str) -> Mapping[str, torch.Tensor]:
    """torchvision's ImageNet ``weights`` (a ``WeightsEnum`` member) from the hub cache, else downloaded.

    Offline and not cached: :class:`VGGWeightsUnavailableError` saying where to put the file, and
    the two other values of ``config_key`` (a local file, or ``random`` for smoke runs).
    """
    cache_path = imagenet_weights_cache_path(weights)
    was_cached = cache_path.is_file()
    try:
        # torchvision's own route (as in vgg16(weights=...)): the hub cache, else a download whose
        # SHA256 prefix (the "397923af" of vgg16-397923af.pth) is checked.
        return weights.get_state_dict(progress=True, check_hash=True, map_location="cpu")
    except Exception as error:
        if was_cached:
            raise VGGWeightsUnavailableError(
                f"The cached {what.removeprefix('the ')} at {cache_path} could not be read ({error}). "
                "The file is probably truncated: delete it and run again to download it, or put a good copy "
                f"from {weights.url} there."
            ) from error
        # Offline: URLError, timeouts and SSL failures are OSErrors; a download with a bad hash a RuntimeError.
        if not isinstance(error, (OSError, RuntimeError)):
            raise
        raise VGGWeightsUnavailableError(
            f"Could not get {what} ({type(error).__name__}: {error}).\n"
            f"They are not in the torch hub cache and could not be downloaded (offline?). Either:\n"
            f"  * download {weights.url} on a machine that is online and put it at\n"
            f"      {cache_path}\n"
            f"    (the torch hub cache: $TORCH_HOME/hub/checkpoints, TORCH_HOME defaults to ~/.cache/torch), or\n"
            f"  * pass a local copy: {config_key}={file_hint}, or\n"
            f"  * for an offline smoke run only: {config_key}=random (random VGG weights: the losses are then\n"
            f"    not perceptual and the result is not real style transfer)."
        ) from error


def read_weights_file(
    path: Path, expected: str = "torch.save(torchvision.models.vgg16(weights='IMAGENET1K_V1').state_dict(), path)"
) -> Mapping[str, torch.Tensor]:
    state = safe_load(path, f"Expected a state dict saved with {expected}.")
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, expected a VGG state dict (a mapping of tensors).")
    return state


def _features_state_dict(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], description: str
) -> dict[str, torch.Tensor]:
    """The entries of ``expected`` (``features.0.weight`` ... ``features.21.bias``) taken from ``state``,
    a full torchvision VGG16 state dict or one of its ``features`` alone; the rest is not needed."""
    needed = list(expected)
    found = ", ".join(sorted(state)[:6]) or "no keys"  # as the file has them, for the error message
    if state and all(key.startswith("module.") for key in state):  # saved from nn.DataParallel
        state = {key.removeprefix("module."): value for key, value in state.items()}
    if not any(key.startswith("features.") for key in state):  # a features-only state dict
        state = {f"features.{key}": value for key, value in state.items()}
    missing = [key for key in needed if key not in state]
    if missing:
        raise ValueError(
            f"{description} is not a VGG16 state dict: missing {len(missing)} of the {len(needed)} tensors VGG16 "
            f"needs up to relu4_3 (e.g. {', '.join(missing[:3])}). Expected torchvision's vgg16() keys "
            f"(features.0.weight, features.0.bias, ..., features.21.bias[, classifier.*]) or its features alone "
            f"(0.weight, ..., 21.bias); found {found}."
        )
    wrong = [
        f"{key} {tuple(state[key].shape)} != {tuple(expected[key].shape)}"
        for key in needed
        if state[key].shape != expected[key].shape
    ]
    if wrong:
        raise ValueError(f"{description} does not hold VGG16 weights; tensor shapes differ: {'; '.join(wrong[:3])}.")
    return {key: state[key] for key in needed}
