"""Turning a checkpoint file into a :class:`~stylenorm.inference.stylizer.Stylizer`.

Four kinds of file (:func:`stylenorm.networks.checkpoint_kinds.identify` tells them apart, ``format=``
overrides): ``lightning`` (a ``.ckpt`` of ``train.py``; only the network needed is rebuilt from the saved
hyperparameters, without the LightningModule), ``fast_neural_style``, ``cyclegan_generator`` and
``adain_decoder`` (naoto0804/pytorch-AdaIN, with ``encoder=``). AdaIN styles are fixed at loading
(:mod:`stylenorm.inference.adain`). Files are read with :func:`stylenorm.safe_load.safe_load`; one that needs
full unpickling is refused unless ``trusted=True``. The layouts: docs/public_checkpoints.md; how a ``.ckpt``
is rebuilt: docs/modules.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from stylenorm.inference.adain import StyleImages, with_style
from stylenorm.inference.conventions import CONVENTIONS
from stylenorm.inference.styles import StyleChoice, choose_style
from stylenorm.inference.stylizer import Stylizer, resolve_device
from stylenorm.networks import (
    build_networks,
    load_cyclegan_generator,
    load_fast_neural_style,
)
from stylenorm.networks.adain import AdaINNet
from stylenorm.networks.checkpoint_kinds import PUBLIC_KINDS, identify
from stylenorm.networks.public_checkpoints import load_adain, read_state_dict
from stylenorm.safe_load import safe_load

#: Values of ``format=`` (``--format``).
FORMATS = ("auto", "lightning", "fast_neural_style", "cyclegan_generator", "adain_decoder")
DIRECTIONS = ("AtoB", "BtoA")

_EXPECTED = (
    "Expected a .ckpt written by train.py, a fast-neural-style .pth/.model, a CycleGAN generator .pth or an "
    "AdaIN decoder.pth."
)


def read_checkpoint(path: str | PathLike, *, trusted: bool = False) -> dict[str, Any]:
    """The top-level mapping stored in ``path`` (a state dict or a Lightning checkpoint)."""
    state = safe_load(path, _EXPECTED, trusted=trusted, trust_hint="pass --trust-checkpoint (trusted=True)")
    if isinstance(state, torch.jit.ScriptModule):
        raise _torchscript_error(path)
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a checkpoint dict. {_EXPECTED}")
    return read_state_dict(state)  # strips the "module." prefix nn.DataParallel leaves on old files


def _torchscript_error(path: Path) -> ValueError:
    return ValueError(
        f"{path} is a TorchScript model (e.g. written by scripts/export.py), not a checkpoint: run it with "
        f"torch.jit.load. {_EXPECTED}"
    )


def load_lightning_network(checkpoint: Mapping[str, Any], direction: str | None = None, source: str = "checkpoint"):
    """``(network, convention, role)`` of a loaded Lightning checkpoint of this project."""
    if not {"state_dict", "hyper_parameters"} <= set(checkpoint):
        found = ", ".join(sorted(map(str, checkpoint))[:6]) or "no keys"
        raise ValueError(
            f"{source} is not a Lightning checkpoint: expected the keys state_dict and hyper_parameters, "
            f"found {found}. Use --format auto to detect what it is."
        )
    kind = identify(checkpoint)
    name, roles, convention = kind.model, kind.roles, CONVENTIONS[kind.pixels]
    if direction is not None and direction not in roles:
        raise ValueError(
            f"--direction {direction} applies to CycleGAN checkpoints; {source} is a {name} checkpoint, "
            f"which has one network. Leave --direction out."
        )
    role = roles[direction or "AtoB"]
    hyper_parameters = checkpoint["hyper_parameters"]
    config = {key: hyper_parameters.get(key) for key in ("norm", "network", "generator", "discriminator", "conv")}
    network = build_networks({"name": name, **config})[role]
    prefix = f"{role}."
    state = {key[len(prefix) :]: value for key, value in checkpoint["state_dict"].items() if key.startswith(prefix)}
    if not state:
        raise ValueError(f"{source} has no weights for {role} (no state_dict keys starting with {prefix!r}).")
    result = network.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"The {role} weights in {source} do not fit the network its hyper_parameters describe: "
            f"missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}. Was it written by "
            f"another version of stylenorm, or were its hyper_parameters edited?"
        )
    return network, convention, role


def load_stylizer(
    checkpoint: str | PathLike,
    format: str = "auto",
    direction: str | None = None,
    device: str | torch.device | None = "auto",
    *,
    trusted: bool = False,
    style: StyleChoice = None,
    style_images: StyleImages | None = None,
    style_weights: Sequence[float] | torch.Tensor | None = None,
    alpha: float | None = None,
    preserve_color: bool = False,
    style_size: int | None = None,
    encoder: str | PathLike | None = None,
) -> Stylizer:
    """Load any supported checkpoint file, ready to run on ``device``.

    Args:
        checkpoint: path to a ``.ckpt`` / ``.pth`` / ``.model`` file.
        format: ``auto`` (detect), ``lightning``, ``fast_neural_style``, ``cyclegan_generator`` or
            ``adain_decoder``.
        direction: ``AtoB`` or ``BtoA`` for this project's CycleGAN checkpoints (default ``AtoB``).
            A public CycleGAN generator file holds one direction already; ``BtoA`` is refused there.
        device: ``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda``, ``cuda:N``.
        trusted: allow full unpickling for files safe loading refuses (see the module docstring).
        style: for a multi-style checkpoint (``norm=conditional_instance``): a style index, or mix
            weights, one per style, non-negative and summing to 1 (a convex combination of the styles'
            gammas/betas; other sums are refused). Baked into the network
            (:mod:`stylenorm.inference.styles`); refused for checkpoints without styles.
        style_images: for AdaIN (required there, refused elsewhere): one style image or several (paths,
            PIL images or ``(3, H, W)`` tensors, uint8 or float on a 0-1 scale).
        style_weights: interpolation weights for several style images, one each, non-negative and
            summing to 1 (Huang & Belongie 2017, Sec. 7.3).
        alpha: AdaIN content-style trade-off in [0, 1] (Eq. 14; default 1, the full style).
        preserve_color: recolour the style images to each content image first (Sec. 7.3).
        style_size: shorter side of the style images in px (default 512, as the port; 0 keeps them).
        encoder: the ``vgg_normalised.pth`` that goes with a public AdaIN ``decoder.pth``.
    """
    if format not in FORMATS:
        raise ValueError(f"Unknown checkpoint format {format!r}; expected one of {', '.join(FORMATS)}.")
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"Unknown direction {direction!r}; expected AtoB or BtoA.")
    target = resolve_device(device)  # before reading: a bad --device should not wait for a big file
    path = Path(checkpoint)
    state = read_checkpoint(path, trusted=trusted)
    detected = identify(state).format if format == "auto" else format
    adain_options = {"style_weights": style_weights, "alpha": alpha, "preserve_color": preserve_color,
                     "style_size": style_size}  # fmt: skip
    if encoder is not None and detected != "adain_decoder":
        raise ValueError(
            f"--adain-encoder (encoder=) goes with a public AdaIN decoder.pth; {path} is "
            f"{'a train.py checkpoint, which holds its own weights' if detected == 'lightning' else 'not one'}. "
            f"Leave --adain-encoder out."
        )
    if detected == "lightning":
        network, convention, role = load_lightning_network(state, direction, source=str(path))
        description = f"{type(network).__name__} ({role}) from {path.name}"
    elif detected in ("fast_neural_style", "cyclegan_generator"):
        network, convention = _load_public(state, detected, direction, path)
        description = f"{type(network).__name__} from {path.name} ({detected.replace('_', '-')} layout)"
    elif detected == "adain_decoder":
        network, convention = _load_public_adain(state, encoder, direction, path, trusted), CONVENTIONS["unit"]
        description = f"AdaIN from {path.name} + {Path(encoder).name} (pytorch-AdaIN layout)"
    elif detected == "adain_encoder":
        raise ValueError(
            f"{path} is an AdaIN encoder (vgg_normalised.pth): it only encodes. Pass the decoder as the checkpoint "
            f"and this file as its encoder: --checkpoint decoder.pth --adain-encoder {path}."
        )
    else:  # cyclegan_discriminator
        raise ValueError(
            f"{path} is a CycleGAN discriminator (latest_net_D_*.pth): it scores images, it does not "
            f"translate them. Use the generator file of the same run (latest_net_G_A.pth for A->B, "
            f"latest_net_G_B.pth for B->A)."
        )
    check_finite_weights(network, path)
    if isinstance(network, AdaINNet):
        if style is not None:
            raise ValueError(
                f"--style/--style-mix (style=) choose among the styles of a norm=conditional_instance checkpoint; "
                f"{path} is an AdaIN network, which takes its style from images: pass --style-image painting.jpg "
                f"(several with --style-weights to interpolate them; style_images= / style_weights=)."
            )
        network, note = with_style(network, style_images, source=str(path), **adain_options)
        return Stylizer(network, convention, description + note, device=target)
    refuse_adain_options(style_images, adain_options, path)
    description += choose_style(network, style, path)
    return Stylizer(network, convention, description, device=target)


def refuse_adain_options(style_images: StyleImages | None, options: Mapping[str, Any], path: Path) -> None:
    """Style images, weights, alpha and colour preservation only mean something for AdaIN networks."""
    given = [flag for flag, value in (("--style-image (style_images=)", style_images),
             ("--style-weights", options["style_weights"]), ("--alpha", options["alpha"]),
             ("--preserve-color", options["preserve_color"] or None), ("--style-size", options["style_size"]))
             if value is not None]  # fmt: skip
    if given:
        raise ValueError(
            f"{', '.join(given)} apply to AdaIN networks (model=adain checkpoints, or the public decoder.pth), "
            f"which take their style from an image; {path} holds its style in its weights. Leave "
            f"{'them' if len(given) > 1 else 'it'} out (a norm=conditional_instance checkpoint chooses among its "
            f"styles with --style K or --style-mix)."
        )


def _load_public_adain(state: Mapping, encoder: str | PathLike | None, direction: str | None, path: Path, trusted):
    """The public ``decoder.pth`` with the ``vgg_normalised.pth`` it was trained with."""
    if direction is not None:
        raise ValueError(f"--direction applies to CycleGAN checkpoints; {path} is an AdaIN decoder.")
    if encoder is None:
        raise ValueError(
            f"{path} is an AdaIN decoder (decoder.pth of naoto0804/pytorch-AdaIN): it decodes the features of the "
            f"VGG encoder it was trained with, which is a separate file. Pass it: --adain-encoder "
            f"vgg_normalised.pth (encoder= in load_stylizer)."
        )
    if not Path(encoder).is_file():
        raise FileNotFoundError(
            f"--adain-encoder {encoder} not found: expected the port's vgg_normalised.pth that goes with {path.name}."
        )
    encoder_state = read_checkpoint(encoder, trusted=trusted)
    try:
        found = identify(encoder_state).format
    except ValueError:
        found = "unrecognised"
    if found != "adain_encoder":
        raise ValueError(
            f"--adain-encoder {encoder} is not an AdaIN encoder file ({found} layout): expected the port's "
            f"vgg_normalised.pth (0.weight a 3x3x1x1 conv, then VGG19's convs at 2, 5, 9, ...)."
        )
    try:
        return load_adain(state, encoder_state)
    except ValueError as error:
        raise ValueError(f"{path} with --adain-encoder {encoder}: {error}") from None


def check_finite_weights(network: torch.nn.Module, source: str | PathLike) -> None:
    """Refuse a network with NaN or infinite parameters or buffers: its outputs would be NaN (black
    images, NaN exports) while every command reported success. A diverged run leaves such weights."""
    bad = [name for name, tensor in (*network.named_parameters(), *network.named_buffers())
           if tensor.is_floating_point() and not torch.isfinite(tensor).all()]  # fmt: skip
    if bad:
        total = sum(1 for _ in network.parameters()) + sum(1 for _ in network.buffers())
        raise ValueError(
            f"{source} has non-finite weights: {len(bad)} of {total} tensors hold NaN or inf (first: {bad[0]}). "
            f"The run that wrote it diverged; use a checkpoint from before the divergence (lower the "
            f"learning rate, or check the data) - its outputs would be NaN."
        )


def _load_public(state: Mapping, layout: str, direction: str | None, path: Path):
    if layout == "fast_neural_style":
        if direction is not None:
            raise ValueError(f"--direction applies to CycleGAN checkpoints; {path} is a fast-neural-style model.")
        return load_fast_neural_style(state), CONVENTIONS[PUBLIC_KINDS[layout].pixels]
    if direction == "BtoA":
        raise ValueError(
            f"{path} is a single CycleGAN generator: it translates in the one direction it was trained for. "
            f"For the other direction use the other generator file of the run (latest_net_G_B.pth translates "
            f"B->A; the public <name>.pth files are A->B) and leave --direction out."
        )
    return load_cyclegan_generator(state), CONVENTIONS[PUBLIC_KINDS[layout].pixels]
