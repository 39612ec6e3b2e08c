"""What a checkpoint file is (:func:`identify`), and loading the public fast-neural-style, CycleGAN (Zhu et al. 2017)
and AdaIN (Huang & Belongie 2017) files into this project's networks; layouts: docs/public_checkpoints.md.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from os import PathLike
from typing import Any

import torch
from torch import nn

from stylenorm.networks.adain import ENCODER_LENGTH, AdaINDecoder, AdaINEncoder, AdaINNet
from stylenorm.networks.cyclegan_generator import ResnetGenerator
from stylenorm.networks.factory import resolved_affine
from stylenorm.networks.transformer_net import TransformerNet
from stylenorm.nn.norm import STYLE_CONDITIONED_KINDS, NormSpec
from stylenorm.safe_load import safe_load

StateDict = dict[str, torch.Tensor]
Source = str | PathLike | Mapping[str, torch.Tensor]
_RUNNING_STAT_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


@dataclasses.dataclass(frozen=True)
class CheckpointKind:
    """One kind of checkpoint file: layout, model, role per direction, pixels, trained norm, whether it runs."""

    format: str
    model: str
    roles: Mapping[str, str]
    pixels: str
    norm_kind: str
    affine: bool | None
    num_styles: int = 1
    runnable: bool = True

    @property
    def directions(self) -> tuple[str, ...]:
        """``("AtoB", "BtoA")`` for a checkpoint holding both CycleGAN generators, else ``()``."""
        return tuple(self.roles) if len(self.roles) > 1 else ()


#: The networks of a train.py checkpoint, by its model name: the role to run per direction, and pixels.
LIGHTNING_MODELS: dict[str, tuple[dict[str, str], str]] = {
    "style": ({"AtoB": "transformer"}, "zero_to_255"),
    "cyclegan": ({"AtoB": "G_AB", "BtoA": "G_BA"}, "signed"),
    "autoencoder": ({"AtoB": "autoencoder"}, "unit"),
    "adain": ({"AtoB": "adain"}, "unit"),  # the port's test.py: ToTensor in, save_image (rounding) out
}

#: The public layouts, in this project's terms (the norm layers of the code that wrote them).
PUBLIC_KINDS = {
    kind.format: kind
    for kind in (
        CheckpointKind("fast_neural_style", "style", {}, "zero_to_255", "instance", True),  # InstanceNorm2d(affine)
        CheckpointKind("cyclegan_generator", "cyclegan", {}, "signed", "instance", False),  # --norm instance
        CheckpointKind("adain_decoder", "adain", {}, "unit", "none", None),  # no norm: AdaIN sits in the middle
        CheckpointKind("adain_encoder", "adain", {}, "unit", "none", None, runnable=False),
        CheckpointKind("cyclegan_discriminator", "cyclegan", {}, "signed", "instance", False, runnable=False),
    )
}


def lightning_model_name(checkpoint: Mapping[str, Any]) -> str:
    """The ``name`` hyperparameter; older files without it are recognised by their weight prefixes."""
    name = checkpoint["hyper_parameters"].get("name")
    if name in LIGHTNING_MODELS:
        return name
    prefixes = {key.split(".", 1)[0] for key in checkpoint["state_dict"]}
    for candidate, (roles, _) in LIGHTNING_MODELS.items():
        if set(roles.values()) <= prefixes:
            return candidate
    raise ValueError(
        f"The Lightning checkpoint's model name is {name!r} and its weights ({', '.join(sorted(prefixes))}) "
        f"match none of {', '.join(LIGHTNING_MODELS)}: it was not written by this project's train.py."
    )


def identify(state: Mapping[str, Any]) -> CheckpointKind:
    """What a loaded checkpoint mapping is, from its keys (and a train.py file's hyperparameters)."""
    layout = detect_checkpoint_format(state)
    if layout != "lightning":
        return PUBLIC_KINDS[layout]
    model = lightning_model_name(state)
    roles, pixels = LIGHTNING_MODELS[model]
    norm = state["hyper_parameters"].get("norm") or {}
    kind = str(norm.get("kind", "?"))
    num_styles = int(norm.get("num_styles") or 1) if kind in STYLE_CONDITIONED_KINDS else 1
    affine = resolved_affine(model, norm.get("affine"))
    return CheckpointKind("lightning", model, roles, pixels, kind, affine, num_styles)


def read_state_dict(source: Source, expected: str = "Expected a state dict (a mapping of tensors).") -> StateDict:
    """A state dict from a file (``expected`` ends errors) or a mapping, without ``nn.DataParallel``'s ``module.``."""
    if isinstance(source, Mapping):
        state = dict(source)
    else:
        state = safe_load(source, expected)
        if not isinstance(state, Mapping):
            raise ValueError(f"{source} holds a {type(state).__name__}, expected a state dict (a mapping of tensors).")
        state = dict(state)
    if state and all(key.startswith("module.") for key in state):
        state = {key.removeprefix("module."): value for key, value in state.items()}
    return state


def detect_checkpoint_format(state: Mapping) -> str:
    """Name the layout of a loaded checkpoint: ``lightning`` or one of :data:`PUBLIC_KINDS`."""
    keys = set(state)
    if {"state_dict", "hyper_parameters"} <= keys:
        return "lightning"
    if "conv1.conv2d.weight" in keys and "deconv3.conv2d.weight" in keys:
        return "fast_neural_style"
    if "model.1.weight" in keys and any(".conv_block." in key for key in keys):
        return "cyclegan_generator"
    if "model.0.weight" in keys:
        return "cyclegan_discriminator"
    if "0.weight" in keys and "2.weight" in keys and tuple(state["0.weight"].shape) == (3, 3, 1, 1):
        return "adain_encoder"
    if "1.weight" in keys and "0.weight" not in keys and state["1.weight"].dim() == 4:
        return "adain_decoder"
    sample = ", ".join(sorted(keys)[:6]) or "no keys"
    raise ValueError(
        "Unrecognised checkpoint layout. Expected a train.py .ckpt or a public fast-neural-style, CycleGAN or AdaIN "
        f"state dict (docs/public_checkpoints.md); found {sample}."
    )


def _renamed(
    state: Mapping[str, torch.Tensor], blocks: tuple[str, str, int], rules: list[tuple[str, str]]
) -> StateDict:
    """``state`` with block ``blocks[0]<i>.`` renamed ``blocks[1]<i + blocks[2]>.``, then key segments by ``rules``."""
    renamed = {}
    for key, value in state.items():
        match = re.match(rf"{blocks[0]}(\d+)\.(.*)", key)
        if match:
            key = f"{blocks[1]}{int(match.group(1)) + blocks[2]}.{match.group(2)}"
        parts = key.split(".")
        for pattern, replacement in rules:
            parts = [re.sub(pattern, replacement, part) if re.fullmatch(pattern, part) else part for part in parts]
        renamed[".".join(parts)] = value
    return renamed


def fast_neural_style_to_transformer_net(state: Mapping[str, torch.Tensor]) -> StateDict:
    """Rename fast-neural-style keys to :class:`TransformerNet` keys (``res3.in1`` -> ``residual_blocks.2.norm1``)."""
    rules = [(r"conv2d", "conv"), (r"in(\d)", r"norm\1"), (r"deconv([12])", r"up\1"), (r"deconv3", "conv_out")]
    return _renamed(state, ("res", "residual_blocks.", -1), rules)


def transformer_net_to_fast_neural_style(state: Mapping[str, torch.Tensor]) -> StateDict:
    """Inverse of :func:`fast_neural_style_to_transformer_net`, for files the example code can load."""
    rules = [(r"conv", "conv2d"), (r"norm(\d)", r"in\1"), (r"up([12])", r"deconv\1"), (r"conv_out", "deconv3")]
    return _renamed(state, (r"residual_blocks\.", "res", 1), rules)


def _read(source: Source, layout: str, refusal: str) -> StateDict:
    """The state dict of ``source``, refused with ``refusal`` unless its layout is ``layout``."""
    state = read_state_dict(source)
    if detect_checkpoint_format(state) != layout:
        raise ValueError(refusal)
    return state


def _loaded(model: nn.Module, state: StateDict, layout: str) -> nn.Module:
    """``model`` in eval mode holding ``state``, whose keys must be exactly its own, but for running statistics it has
    no buffer for (PyTorch < 0.4 saved them for instance norm)."""
    wanted = set(model.state_dict())
    state = {k: v for k, v in state.items() if k in wanted or not k.endswith(_RUNNING_STAT_SUFFIXES)}
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"The file does not match the {layout} layout: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}."
        )
    return model.eval()


def load_fast_neural_style(source: Source, norm: NormSpec | Mapping | str | None = None) -> TransformerNet:
    """A :class:`TransformerNet` holding a fast-neural-style file; ``norm`` defaults to the file's instance norm."""
    refusal = "Not a fast-neural-style state dict: it has no conv1.conv2d.weight / deconv3.conv2d.weight."
    state = _read(source, "fast_neural_style", refusal)
    if norm is None:
        norm = NormSpec(kind="instance", affine="in1.weight" in state)
    return _loaded(TransformerNet(norm=norm), fast_neural_style_to_transformer_net(state), "fast-neural-style")


def infer_cyclegan_generator_options(state: Mapping[str, torch.Tensor]) -> dict:
    """Constructor arguments of :class:`ResnetGenerator` that reproduce a CycleGAN generator file."""
    first = state["model.1.weight"]
    blocks = sorted({int(m.group(1)) for key in state if (m := re.match(r"model\.(\d+)\.conv_block\.", key))})
    if not blocks:
        raise ValueError("No residual blocks (model.N.conv_block.*) found: not a ResNet generator file.")
    first_up = blocks[-1] + 1
    has_bias = "model.1.bias" in state
    # The original used batch norm without conv biases and instance norm with them; old
    # instance-norm files also hold running stats, so the bias is what tells the two apart.
    kind = "batch" if ("model.2.running_mean" in state and not has_bias) else "instance"
    return {
        "ngf": first.shape[0],
        "in_channels": first.shape[1],
        "n_blocks": len(blocks),
        "dropout": 0.5 if any(f"model.{blocks[0]}.conv_block.6." in key for key in state) else 0.0,
        "upsampling": "resize_conv" if f"model.{first_up}.conv.weight" in state else "transpose",
        "conv_bias": has_bias,
        "out_channels": state[f"model.{first_up + 7}.weight"].shape[0],
        "norm": NormSpec(kind=kind, affine="model.2.weight" in state),
    }


def load_cyclegan_generator(source: Source, norm: NormSpec | Mapping | str | None = None) -> ResnetGenerator:
    """A :class:`ResnetGenerator` holding an original CycleGAN generator file (``latest_net_G_A.pth``)."""
    refusal = "Not a CycleGAN ResNet generator state dict: expected model.1.weight and model.N.conv_block.* keys."
    state = _read(source, "cyclegan_generator", refusal)
    options = infer_cyclegan_generator_options(state)
    net = ResnetGenerator(**{**options, "norm": options["norm"] if norm is None else norm})
    return _loaded(net, state, "CycleGAN generator")


def load_adain_encoder(source: Source) -> AdaINEncoder:
    """An :class:`AdaINEncoder` holding the public ``vgg_normalised.pth``; its layers after relu4_1 are ignored."""
    refusal = "Not an AdaIN vgg_normalised.pth: expected an nn.Sequential state dict whose 0.weight is a 3x3x1x1 conv."
    state = _read(source, "adain_encoder", refusal)
    net = AdaINEncoder(width=state["2.weight"].shape[0])
    _loaded(net, {k: v for k, v in state.items() if int(k.split(".")[0]) < ENCODER_LENGTH}, "AdaIN vgg_normalised")
    net.weights_source = f"file:{source}" if not isinstance(source, Mapping) else "state_dict"
    return net


def load_adain(decoder: Source, encoder: Source) -> AdaINNet:
    """An :class:`AdaINNet` from the public ``decoder.pth`` and ``vgg_normalised.pth``."""
    loaded_encoder = load_adain_encoder(encoder)
    refusal = "Not an AdaIN decoder.pth: expected an nn.Sequential state dict starting at 1.weight."
    state = _read(decoder, "adain_decoder", refusal)
    loaded_decoder = _loaded(AdaINDecoder(width=state["1.weight"].shape[1] // 8), state, "AdaIN decoder")
    if loaded_encoder.width != loaded_decoder.width:
        raise ValueError(
            f"The encoder (width {loaded_encoder.width}) and decoder (width {loaded_decoder.width}) do not fit "
            "together: use the vgg_normalised.pth and decoder.pth of one release."
        )
    net = AdaINNet(width=loaded_decoder.width)
    net.encoder, net.decoder = loaded_encoder, loaded_decoder
    return net.eval()
