"""The stylize API, the command's steps: read, resize (``scale``, then ``max_size``), the network (tiled where
:class:`InferenceOptions` says), quantise with the original code's rounding, alpha put back. Examples: docs/stylize.md.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import torch
import torchvision.transforms.functional as TF
from PIL import Image

from stylenorm.inference.image_io import read_image, split_image
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.stylizer import Stylizer
from stylenorm.inference.tile_statistics import (
    Statistics,
    frozen_statistics,
    needs_whole_image,
    network_calls,
    whole_image_context,
)
from stylenorm.inference.tiling import run_tiled


@dataclasses.dataclass
class PreparedImage:
    """An image ready for the network: uint8 RGB ``(3, H, W)`` and its alpha (mode ``L``) if any."""

    pixels: torch.Tensor
    alpha: Image.Image | None

    @property
    def size(self) -> tuple[int, int]:  # (height, width)
        return tuple(self.pixels.shape[-2:])


def resized_size(width: int, height: int, scale: float | None = None, max_size: int | None = None) -> tuple[int, int]:
    """``(width, height)`` times ``scale``, then the longest side capped at ``max_size`` (both checked already)."""
    if scale is not None:
        width, height = max(1, round(width * scale)), max(1, round(height * scale))
    if max_size is not None:
        if width >= height and width > max_size:
            width, height = max_size, max(1, round(height * max_size / width))
        elif height > width and height > max_size:
            width, height = max(1, round(width * max_size / height)), max_size
    return width, height


def prepare(
    image: Image.Image | torch.Tensor | str | os.PathLike, options: InferenceOptions | None = None, **keywords
) -> PreparedImage:
    """A file path, PIL image or ``(3, H, W)`` tensor (uint8, or float in [0, 1]) -> :class:`PreparedImage`, resized
    as ``options`` (or its fields as keywords: ``scale``, ``max_size``) say."""
    options = InferenceOptions.from_keywords(options, **keywords)
    if isinstance(image, torch.Tensor):
        if image.dim() == 4 and image.shape[0] == 1:
            image = image[0]
        if image.dim() != 3 or image.shape[0] != 3:
            shape = tuple(image.shape)
            raise ValueError(f"Expected one RGB image shaped (3, H, W), got {shape}; use stylize_batch for batches.")
        if image.dtype != torch.uint8:
            image = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
        image = to_image(image)
    rgb, alpha = split_image(image) if isinstance(image, Image.Image) else read_image(image)
    size = resized_size(*rgb.size, scale=options.scale, max_size=options.max_size)
    if size != rgb.size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
        alpha = alpha.resize(size, Image.Resampling.LANCZOS) if alpha is not None else None
    return PreparedImage(TF.pil_to_tensor(rgb).contiguous(), alpha)


def to_image(pixels: torch.Tensor, alpha: Image.Image | None = None) -> Image.Image:
    """uint8 RGB ``(3, H, W)`` plus optional alpha -> PIL ``RGB`` or ``RGBA``."""
    image = Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy(), mode="RGB")
    if alpha is not None:
        image.putalpha(alpha)
    return image


def stylize_pixels(
    pixels: torch.Tensor,
    model: Stylizer,
    options: InferenceOptions,
    progress: Callable[[int, int], None] | None = None,
    statistics: Statistics | None = None,
) -> torch.Tensor:
    """Float 0-255 ``(N, 3, H, W)`` -> the same on the CPU; norms take ``statistics`` (a row per image) if given,
    ``progress(done, total)`` after each network call on a tiled image."""
    height, width = pixels.shape[-2:]
    tiles = options.tiling(height, width, model)
    if tiles is None:
        with frozen_statistics(statistics or {}):
            return model(pixels, options.precision, eager=statistics is not None).cpu()
    whole_image = statistics is not None or (options.tile_stats != "per-tile" and needs_whole_image(model.network))
    total = len(pixels) * network_calls(options.tile_stats, model.network, tiles.count(height, width))
    done = 0

    def run(window: torch.Tensor) -> torch.Tensor:
        nonlocal done
        try:
            return model(window, options.precision, eager=whole_image)  # hooks need the eager module
        finally:  # partial passes end in an exception once the layer measured has run
            done += 1
            if progress is not None:
                progress(done, total)

    outputs = []
    for index, image in enumerate(pixels):
        given = statistics and {
            layer: (mean[index : index + 1], var[index : index + 1]) for layer, (mean, var) in statistics.items()
        }
        with whole_image_context(options.tile_stats, run, model.network, image[None].float(), tiles, given):
            outputs.append(run_tiled(run, image[None].float(), tiles))
    return torch.cat(outputs)


def stylize_batch(
    images: torch.Tensor,
    model: Stylizer,
    options: InferenceOptions | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    **keywords,
) -> torch.Tensor:
    """RGB images ``(N, 3, H, W)`` of one size: uint8 -> uint8 as the command writes, float [0, 1] -> float [0, 1]."""
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"Expected a batch of RGB images shaped (N, 3, H, W), got {tuple(images.shape)}.")
    quantize = images.dtype == torch.uint8
    pixels = images.float() if quantize else images.float() * 255
    output = stylize_pixels(pixels, model, InferenceOptions.from_keywords(options, **keywords), progress)
    return model.convention.quantize(output) if quantize else output / 255


def stylize(
    image: Image.Image | torch.Tensor | str | os.PathLike,
    model: Stylizer,
    options: InferenceOptions | None = None,
    **keywords,
) -> Image.Image:
    """Stylize one image (PIL image, file path or ``(3, H, W)`` tensor) -> PIL ``RGB``, or ``RGBA`` with its alpha."""
    options = InferenceOptions.from_keywords(options, **keywords)
    prepared = prepare(image, options)
    return to_image(stylize_batch(prepared.pixels[None], model, options)[0], prepared.alpha)
