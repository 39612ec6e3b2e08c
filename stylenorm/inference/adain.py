"""The style side of AdaIN inference: style images, interpolation weights, alpha and colour
preservation turned into a one-input network (Huang & Belongie 2017, Sec. 7.3; conventions of the
paper's PyTorch port naoto0804/pytorch-AdaIN, ``test.py``).

Style images are read like content images and resized so their shorter side is :data:`DEFAULT_STYLE_SIZE` px
(the port's ``--style_size``; ``0`` keeps them); several are interpolated with weights >= 0 summing to 1
(refused without weights, never rescaled); ``alpha`` is Eq. 14; ``preserve_color`` recolours every style image
to each content image, with several styles too. Why the style size matters and where this differs from the
port: docs/modules.md; the options: docs/stylize.md.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from stylenorm.networks.adain import AdaINNet
from stylenorm.networks.adain_stylizer import (
    MIN_SIZE,
    AdaINWithStyleStatistics,
    ColourPreservingStyle,
    FixedStyle,
)
from stylenorm.nn.conditional_instance_norm import convex_weights

#: Shorter side of style images after resizing (the port's ``--style_size`` default); 0 keeps them.
DEFAULT_STYLE_SIZE = 512

StyleImage = str | os.PathLike | Image.Image | torch.Tensor
StyleImages = StyleImage | Sequence[StyleImage]


def shorter_side_size(width: int, height: int, size: int) -> tuple[int, int]:
    """``(width, height)`` with the shorter side ``size`` px; the longer one scaled and truncated, as
    torchvision's ``Resize(size)`` does in the port."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def _as_list(style_images: StyleImages) -> list[StyleImage]:
    if isinstance(style_images, (str, os.PathLike, Image.Image)):
        return [style_images]
    if isinstance(style_images, torch.Tensor):
        return list(style_images) if style_images.dim() == 4 else [style_images]
    return list(style_images)


def _name(image: StyleImage, index: int) -> str:
    return Path(image).name if isinstance(image, (str, os.PathLike)) else f"in-memory image {index + 1}"


def load_style_image(image: StyleImage, size: int = DEFAULT_STYLE_SIZE, index: int = 0) -> torch.Tensor:
    """One style image as ``(1, 3, H, W)`` float RGB on a 0-1 scale, resized per ``size`` (module docstring).

    A path, a PIL image, or a ``(3, H, W)`` tensor (uint8, or float on a 0-1 scale). Unreadable files
    and unusable tensors raise ``ValueError`` naming the image.
    """
    from stylenorm.data.images import load_rgb, to_rgb

    if size < 0:
        raise ValueError(f"--style-size must be >= 0 (0 keeps the style images as they are), got {size}.")
    if isinstance(image, torch.Tensor):
        pixels = _tensor_pixels(image, index)
        if size:
            width, height = shorter_side_size(pixels.shape[-1], pixels.shape[-2], size)
            pixels = F.interpolate(pixels, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    else:
        if isinstance(image, Image.Image):
            rgb = to_rgb(image)
        else:
            if not Path(image).is_file():
                found = "a folder" if Path(image).is_dir() else "nothing"
                raise FileNotFoundError(f"Style image not found: {image} (found {found} there).")
            try:
                rgb = load_rgb(image)
            except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, ... for bad files
                raise ValueError(
                    f"Could not read the style image {image}: {type(error).__name__}: {error}. "
                    f"Expected an image file (PNG, JPEG, WebP, ...)."
                ) from None
        if size:
            rgb = rgb.resize(shorter_side_size(*rgb.size, size), Image.Resampling.BILINEAR)
        pixels = torch.from_numpy(np.array(rgb, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    if min(pixels.shape[-2:]) < MIN_SIZE:
        raise ValueError(
            f"The style image {_name(image, index)} is {pixels.shape[-1]}x{pixels.shape[-2]} px after resizing; "
            f"AdaIN needs at least {MIN_SIZE} px a side (the encoder downsamples 8x). Use a larger image or "
            f"--style-size."
        )
    return pixels.contiguous()


def _tensor_pixels(image: torch.Tensor, index: int) -> torch.Tensor:
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"Style image {index} must be RGB shaped (3, H, W), got {tuple(image.shape)}.")
    if image.dtype == torch.uint8:
        return image.float()[None] / 255
    if not image.is_floating_point():
        raise ValueError(f"Style image {index} must be uint8 (0-255) or float (0-1), got {image.dtype}.")
    return image.detach().float()[None]


def check_style_weights(weights: Sequence[float] | torch.Tensor | None, count: int) -> torch.Tensor:
    """The interpolation weights as a float tensor: one per style image, non-negative, summing to 1
    (:func:`~stylenorm.nn.conditional_instance_norm.convex_weights`, the ``--style-mix`` rule); refused otherwise,
    naming the fix."""
    if weights is None:
        if count > 1:
            raise ValueError(
                f"{count} style images given: AdaIN interpolates them (Sec. 7.3) with weights you choose: pass "
                f"--style-weights w1,...,w{count} (non-negative, summing to 1; style_weights= in load_stylizer), "
                f"e.g. --style-weights {','.join([f'{1 / count:.4g}'] * count)}."
            )
        return torch.ones(1)
    values = [float(w) for w in (weights.reshape(-1).tolist() if isinstance(weights, torch.Tensor) else weights)]
    if len(values) != count:
        raise ValueError(
            f"--style-weights {','.join(f'{w:g}' for w in values)} has {len(values)} weight(s) for {count} style "
            f"image(s): give one weight per --style-image, in the same order."
        )
    return convex_weights(values, "--style-weights", "style images")


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
    """``net`` with its style fixed (module docstring) and a note for the stylizer's description."""
    if style_images is None or len(images := _as_list(style_images)) == 0:
        raise ValueError(
            f"{source} is an AdaIN network: it takes its style from an image. Pass --style-image painting.jpg "
            f"(style_images= in load_stylizer); several images with --style-weights interpolate them."
        )
    alpha = 1.0 if alpha is None else float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"--alpha {alpha:g} is outside [0, 1]: 0 keeps the content, 1 (default) is the full style.")
    weights = check_style_weights(style_weights, len(images))
    size = DEFAULT_STYLE_SIZE if style_size is None else int(style_size)
    styles = [load_style_image(image, size, index) for index, image in enumerate(images)]
    net = net.eval()
    if preserve_color:
        style = ColourPreservingStyle(net.encoder, styles, weights)
    else:
        style = FixedStyle.from_images(net.encoder, styles, weights)
    network = AdaINWithStyleStatistics(net.encoder, net.decoder, style, alpha)
    names = ", ".join(_name(image, index) for index, image in enumerate(images))
    note = f", style {names}"
    if len(images) > 1:
        note += " (weights " + ",".join(f"{w:g}" for w in weights.tolist()) + ")"
    if alpha != 1.0:
        note += f", alpha {alpha:g}"
    if preserve_color:
        note += ", content colours preserved"
    return network, note
