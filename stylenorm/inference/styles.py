"""Fixing a checkpoint's style at loading, so the command, tiling and export see a one-style network:
``norm=conditional_instance`` styles or a convex mix of their gamma/beta rows baked into instance norms (Dumoulin,
Shlens & Kudlur 2017, Sec. 5); AdaIN style images, weights, alpha and colour preservation fixed (Huang & Belongie
2017, Sec. 7.3; port naoto0804/pytorch-AdaIN). Differences from the port: docs/modules.md; options: docs/stylize.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import torch
import torchvision.transforms.functional as TF
from PIL import Image
from torch import nn

from stylenorm.data.images import load_rgb, to_rgb
from stylenorm.networks.adain import (
    MIN_SIZE,
    AdaINNet,
    AdaINWithStyleStatistics,
    ColourPreservingStyle,
    FixedStyle,
)
from stylenorm.nn.conditional_instance_norm import Style, conditional_layers, convex_weights, num_styles, set_style
from stylenorm.nn.norm import NormSpec

#: ``style=`` of :func:`~stylenorm.inference.loading.load_stylizer`: an index or mix weights.
StyleChoice = int | Sequence[float] | None


def parse_weights(text: str, flag: str) -> list[float]:
    """``"0.3,0.7"`` -> ``[0.3, 0.7]``: the syntax of every weight list (``--style-mix``, ``--style-weights``)."""
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{flag} {text!r}: expected comma-separated numbers, e.g. {flag} 0.3,0.7.") from None


def choose_style(network: nn.Module, style: StyleChoice, source: str | PathLike) -> str:
    """Bake ``style`` into a conditional ``network`` in place; returns a note for the stylizer's description."""
    count = num_styles(network)
    if count == 0:
        if style is not None:
            raise ValueError(
                f"{source} holds one style (not norm=conditional_instance ones). Leave --style/--style-mix out."
            )
        return ""
    if style is None:
        if count > 1:
            choice = f"--style K (0..{count - 1}) or --style-mix w0,...,w{count - 1} (style=)"
            raise ValueError(f"{source} holds {count} styles (data.style_images): choose one, {choice}.")
        style = 0
    if isinstance(style, bool) or not isinstance(style, (int, Sequence, torch.Tensor)):
        raise ValueError(f"style= must be an int (--style K) or a list of mix weights (--style-mix), got {style!r}.")
    if isinstance(style, int):
        if not 0 <= style < count:
            raise ValueError(f"--style {style} is out of range: {source} has --style 0..{count - 1}.")
        bake_style(network, style)
        return f", style {style}" if count > 1 else ""
    example = ",".join(["1"] + ["0"] * (count - 1))
    tail = f"but {source} holds {count} styles: give one weight per style, e.g. --style-mix {example}."
    weights = mix_weights(style, count, "--style-mix", "styles", tail)
    bake_style(network, weights)
    return ", style mix " + ",".join(f"{w:g}" for w in torch.as_tensor(style, dtype=torch.float64).reshape(-1).tolist())


def mix_weights(weights: Sequence[float] | torch.Tensor, count: int, flag: str, what: str, tail: str) -> torch.Tensor:
    """``weights`` as a tensor: one per each of ``count`` items mixed (else ``tail`` says so), convex."""
    values = [float(w) for w in (weights.reshape(-1).tolist() if isinstance(weights, torch.Tensor) else weights)]
    if len(values) != count:
        shown = ",".join(f"{w:g}" for w in values)
        raise ValueError(f"{flag} {shown} has {len(values)} weight(s) {tail}")
    return convex_weights(values, flag, what)


@torch.no_grad()
def bake_style(module: nn.Module, style: Style) -> nn.Module:
    """Every conditional layer of ``module`` replaced, in place, by an instance norm with ``style``'s gamma, beta."""
    set_style(module, style)  # refuses a network without conditional layers
    if style is None or (isinstance(style, torch.Tensor) and style.dim() > 1):
        raise ValueError("bake_style needs one style for the whole network: an int or a list of mix weights.")
    replacements = {}
    for layer in conditional_layers(module):
        gamma, beta = layer.style_parameters(1)
        plain = NormSpec(kind="instance", affine=True, eps=layer.eps)(layer.num_features, name="baked style")
        plain.weight.copy_(gamma[0])
        plain.bias.copy_(beta[0])
        replacements[layer] = plain.to(layer.weight.device)
    if module in replacements:  # a lone layer
        return replacements[module]
    for parent in module.modules():
        for name, child in list(parent.named_children()):
            if child in replacements:
                setattr(parent, name, replacements[child])
    return module


#: Shorter side of style images after resizing (the port's ``--style_size`` default); 0 keeps them.
DEFAULT_STYLE_SIZE = 512

StyleImage = str | os.PathLike | Image.Image | torch.Tensor
StyleImages = StyleImage | Sequence[StyleImage]


def _name(image: StyleImage, index: int) -> str:
    return Path(image).name if isinstance(image, (str, os.PathLike)) else f"in-memory image {index + 1}"


def load_style_image(image: StyleImage, size: int = DEFAULT_STYLE_SIZE, index: int = 0) -> torch.Tensor:
    """A path, PIL image or uint8 / 0-1 float ``(3, H, W)`` tensor as 0-1 ``(1, 3, H, W)``, shorter side ``size``
    (torchvision's ``Resize(size)``, bilinear, as the port)."""
    if size < 0:
        raise ValueError(f"--style-size must be >= 0 (0 keeps the style images as they are), got {size}.")
    if isinstance(image, torch.Tensor):
        pixels = image[0] if image.dim() == 4 and image.shape[0] == 1 else image
        if pixels.dim() != 3 or pixels.shape[0] != 3:
            raise ValueError(f"Style image {index} must be RGB shaped (3, H, W), got {tuple(pixels.shape)}.")
        if pixels.dtype != torch.uint8 and not pixels.is_floating_point():
            raise ValueError(f"Style image {index} must be uint8 (0-255) or float (0-1), got {pixels.dtype}.")
        pixels = pixels.float()[None] / 255 if pixels.dtype == torch.uint8 else pixels.detach().float()[None]
    elif isinstance(image, Image.Image):
        pixels = to_rgb(image)
    elif not Path(image).is_file():
        found = "a folder" if Path(image).is_dir() else "nothing"
        raise FileNotFoundError(f"Style image not found: {image} (found {found} there).")
    else:
        try:
            pixels = load_rgb(image)
        except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for bad files
            raise ValueError(f"Could not read the style image {image}: {type(error).__name__}: {error}.") from None
    if size:  # PIL images resized as PIL images, tensors antialiased
        pixels = TF.resize(pixels, size)
    pixels = TF.to_tensor(pixels)[None] if isinstance(pixels, Image.Image) else pixels
    if min(pixels.shape[-2:]) < MIN_SIZE:
        size = f"{_name(image, index)} is {pixels.shape[-1]}x{pixels.shape[-2]} px"
        raise ValueError(f"Style image {size}; AdaIN needs >= {MIN_SIZE} px a side: a larger image or --style-size.")
    return pixels.contiguous()


def with_style(
    net: AdaINNet,
    style_images: StyleImages | None,
    *,
    style_weights: Sequence[float] | torch.Tensor | None = None,
    alpha: float | None = None,
    preserve_color: bool = False,
    style_size: int | None = None,
    source: str = "the checkpoint",
) -> tuple[AdaINWithStyleStatistics, str]:
    """``net`` with its style fixed and a note for the description; ``alpha``: Eq. 14 (default 1)."""
    if isinstance(style_images, (str, os.PathLike, Image.Image)):
        images = [style_images]
    elif isinstance(style_images, torch.Tensor):
        images = list(style_images) if style_images.dim() == 4 else [style_images]
    else:
        images = list(style_images or [])
    if not images:
        raise ValueError(f"{source} is an AdaIN network: pass --style-image painting.jpg (style_images=).")
    alpha = 1.0 if alpha is None else float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"--alpha {alpha:g} is outside [0, 1]: 0 keeps the content, 1 (default) is the full style.")
    count = len(images)
    if style_weights is None and count > 1:
        example = ",".join([f"{1 / count:.4g}"] * count)
        raise ValueError(f"{count} style images: pass --style-weights w1,...,w{count}, e.g. {example}.")
    tail = f"for {count} style image(s): give one weight per --style-image, in the same order."
    weights = mix_weights(
        [1.0] if style_weights is None else style_weights, count, "--style-weights", "style images", tail
    )
    size = DEFAULT_STYLE_SIZE if style_size is None else int(style_size)
    styles = [load_style_image(image, size, index) for index, image in enumerate(images)]
    net = net.eval()
    if preserve_color:
        style = ColourPreservingStyle(net.encoder, styles, weights)
    else:
        style = FixedStyle.from_images(net.encoder, styles, weights)
    note = ", style " + ", ".join(_name(image, index) for index, image in enumerate(images))
    if len(images) > 1:
        note += " (weights " + ",".join(f"{w:g}" for w in weights.tolist()) + ")"
    if alpha != 1.0:
        note += f", alpha {alpha:g}"
    if preserve_color:
        note += ", content colours preserved"
    return AdaINWithStyleStatistics(net.encoder, net.decoder, style, alpha), note
