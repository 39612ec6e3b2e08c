"""Reflection padding to the sizes a network accepts, and cropping back, so any image size works.

The networks need height and width to be multiples of ``size_multiple`` (two stride-2 convs and
two 2x upsamples: 4) and at least ``min_size``. Padding by reflection, as every conv in them already
does at the border, keeps the padded strip looking like the image; the output is cropped back to
exactly the input's size. The padding is split between both sides so that both borders are treated
alike.

``F.pad(mode="reflect")`` needs the padding to be smaller than the side it reflects, so tiny images
(a 5x7 icon padded to 8x8, say) are padded in steps, each reflecting the already-padded image; a side
of one pixel has nothing to reflect and is replicated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def padded_length(length: int, multiple: int, min_size: int) -> int:
    """The smallest length >= ``length`` and >= ``min_size`` that is a multiple of ``multiple``."""
    target = max(length, min_size)
    return -(-target // multiple) * multiple


def split_padding(length: int, target: int) -> tuple[int, int]:
    """Padding ``(before, after)`` that takes ``length`` to ``target``; the extra pixel goes after."""
    total = target - length
    return total // 2, total - total // 2


def pad_to_multiple(
    images: torch.Tensor, multiple: int, min_size: int = 1
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Reflection-pad ``(N, C, H, W)`` images to an accepted size.

    Returns the padded images and ``(top, bottom, left, right)``, for :func:`crop_padding`.
    """
    height, width = images.shape[-2:]
    top, bottom = split_padding(height, padded_length(height, multiple, min_size))
    left, right = split_padding(width, padded_length(width, multiple, min_size))
    padding = (top, bottom, left, right)
    if not any(padding):
        return images, padding
    remaining = [left, right, top, bottom]  # F.pad's order: last dim first
    while any(remaining):
        height, width = images.shape[-2:]
        limits = [width - 1, width - 1, height - 1, height - 1]
        if min(limit for limit, amount in zip(limits, remaining, strict=True) if amount) == 0:
            # A one-pixel side cannot be reflected: replicate whatever is still missing.
            images = F.pad(images, remaining, mode="replicate")
            break
        step = [min(amount, limit) for amount, limit in zip(remaining, limits, strict=True)]
        images = F.pad(images, step, mode="reflect")
        remaining = [amount - taken for amount, taken in zip(remaining, step, strict=True)]
    return images, padding


def crop_padding(images: torch.Tensor, padding: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` (the networks keep the size, so the same padding comes off)."""
    top, bottom, left, right = padding
    height, width = images.shape[-2:]
    return images[..., top : height - bottom, left : width - right]
