"""Turning a checkpoint file into a :class:`~stylenorm.inference.stylizer.Stylizer`: ``lightning`` (``train.py``),
``fast_neural_style``, ``cyclegan_generator`` or ``adain_decoder`` (with ``encoder=``), told apart by
:func:`stylenorm.networks.public_checkpoints.identify` (``format=`` overrides). Layouts: docs/public_checkpoints.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import torch

from stylenorm.inference.styles import StyleChoice, StyleImages, choose_style, with_style
from stylenorm.inference.stylizer import CONVENTIONS, Stylizer, resolve_device
from stylenorm.networks import build_networks, load_cyclegan_generator, load_fast_neural_style
from stylenorm.networks.adain import AdaINNet
from stylenorm.networks.public_checkpoints import PUBLIC_KINDS, identify, load_adain, read_state_dict
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
        raise ValueError(f"{path} is a TorchScript model, not a checkpoint: run it with torch.jit.load. {_EXPECTED}")
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a checkpoint dict. {_EXPECTED}")
    return read_state_dict(state)  # strips the "module." prefix nn.DataParallel leaves on old files


def load_lightning_network(checkpoint: Mapping[str, Any], direction: str | None = None, source: str = "checkpoint"):
    """``(network, convention, role)`` of a loaded Lightning checkpoint of this project."""
    if not {"state_dict", "hyper_parameters"} <= set(checkpoint):
        found = ", ".join(sorted(map(str, checkpoint))[:6]) or "no keys"
        raise ValueError(f"{source} is not a Lightning checkpoint (keys: {found}); use --format auto.")
    kind = identify(checkpoint)
    if direction is not None and direction not in kind.roles:
        raise ValueError(f"--direction applies to CycleGAN checkpoints; {source} is {kind.model}: leave it out.")
    role = kind.roles[direction or "AtoB"]
    hyper_parameters = checkpoint["hyper_parameters"]
    config = {key: hyper_parameters.get(key) for key in ("norm", "network", "generator", "discriminator", "conv")}
    network = build_networks({"name": kind.model, **config})[role]
    prefix = f"{role}."
    state = {key[len(prefix) :]: value for key, value in checkpoint["state_dict"].items() if key.startswith(prefix)}
    if not state:
        raise ValueError(f"{source} has no weights for {role} (no state_dict keys starting with {prefix!r}).")
    result = network.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        wrong = f"missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
        raise ValueError(f"The {role} weights in {source} do not fit its hyper_parameters ({wrong}): another version?")
    return network, CONVENTIONS[kind.pixels], role


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
    """Load a checkpoint file onto ``device``; the keywords are the stylize command's flags of the same name
    (``trusted``: ``--trust-checkpoint``, ``encoder``: ``--adain-encoder``), docs/stylize.md."""
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
        what = "a train.py checkpoint, which holds its own weights" if detected == "lightning" else "not one"
        raise ValueError(f"--adain-encoder (encoder=) goes with a public AdaIN decoder.pth; {path} is {what}.")
    if direction is not None and detected in ("fast_neural_style", "adain_decoder"):
        what = "a fast-neural-style model" if detected == "fast_neural_style" else "an AdaIN decoder"
        raise ValueError(f"--direction applies to CycleGAN checkpoints; {path} is {what}.")
    if detected == "lightning":
        network, convention, role = load_lightning_network(state, direction, source=str(path))
        description = f"{type(network).__name__} ({role}) from {path.name}"
    elif detected in ("fast_neural_style", "cyclegan_generator"):
        if direction == "BtoA":  # only a CycleGAN generator gets here with a direction
            raise ValueError(
                f"{path} is a single CycleGAN generator: for B->A use the run's latest_net_G_B.pth, no --direction."
            )
        network = (load_fast_neural_style if detected == "fast_neural_style" else load_cyclegan_generator)(state)
        convention = CONVENTIONS[PUBLIC_KINDS[detected].pixels]
        description = f"{type(network).__name__} from {path.name} ({detected.replace('_', '-')} layout)"
    elif detected == "adain_decoder":
        network, convention = _load_public_adain(state, encoder, path, trusted), CONVENTIONS["unit"]
        description = f"AdaIN from {path.name} + {Path(encoder).name} (pytorch-AdaIN layout)"
    elif detected == "adain_encoder":
        raise ValueError(f"{path} is an AdaIN encoder: use --checkpoint decoder.pth --adain-encoder {path}.")
    else:  # cyclegan_discriminator
        raise ValueError(f"{path} is a CycleGAN discriminator; use a generator (latest_net_G_A.pth or _G_B.pth).")
    check_finite_weights(network, path)
    if isinstance(network, AdaINNet):
        if style is not None:
            raise ValueError(f"--style/--style-mix: {path} is AdaIN, styled by images; use --style-image.")
        network, note = with_style(network, style_images, source=str(path), **adain_options)
    else:
        given = {"--style-image (style_images=)": style_images, "--style-weights": style_weights, "--alpha": alpha,
                 "--preserve-color": preserve_color or None, "--style-size": style_size}  # fmt: skip
        given = [flag for flag, value in given.items() if value is not None]
        if given:
            them = "them" if len(given) > 1 else "it"
            raise ValueError(f"{', '.join(given)} apply to AdaIN networks; {path} holds its style. Leave {them} out.")
        note = choose_style(network, style, path)
    return Stylizer(network, convention, description + note, device=target, settings=note.removeprefix(", "))


def _load_public_adain(state: Mapping, encoder: str | PathLike | None, path: Path, trusted: bool):
    """The public ``decoder.pth`` with the ``vgg_normalised.pth`` it was trained with."""
    if encoder is None:
        raise ValueError(f"{path} is an AdaIN decoder: pass its encoder, --adain-encoder vgg_normalised.pth.")
    if not Path(encoder).is_file():
        raise FileNotFoundError(f"--adain-encoder {encoder} not found: expected the port's vgg_normalised.pth.")
    try:  # load_adain refuses an encoder file of another layout
        return load_adain(state, read_checkpoint(encoder, trusted=trusted))
    except ValueError as error:
        raise ValueError(f"{path} with --adain-encoder {encoder}: {error}") from None


def check_finite_weights(network: torch.nn.Module, source: str | PathLike) -> None:
    """Refuse a network with NaN or infinite parameters or buffers (a diverged run): its outputs would be NaN."""
    bad = [name for name, tensor in (*network.named_parameters(), *network.named_buffers())
           if tensor.is_floating_point() and not torch.isfinite(tensor).all()]  # fmt: skip
    if bad:
        total = sum(1 for _ in network.parameters()) + sum(1 for _ in network.buffers())
        what = f"{len(bad)} of {total} tensors hold NaN or inf (first: {bad[0]})"
        raise ValueError(f"{source} has non-finite weights: {what}. Its run diverged; use an earlier checkpoint.")
