"""Reflection padding to the sizes a network accepts, and cropping back, so any image size works.

Height and width are padded by reflection, as the networks' own convs pad, to multiples of ``size_multiple``
and at least ``min_size``, at the bottom and right only, so a crop of a photo is stylized like the same region
of the whole photo and the tiles of :mod:`stylenorm.inference.tiling` line up with the untiled network; the
output is cropped back to the input's size. Tiny images are padded in steps; a one-pixel side is replicated.
Why, and the steps: docs/modules.md; for users: docs/stylize.md, "Images".
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def padded_length(length: int, multiple: int, min_size: int) -> int:
    """The smallest length >= ``length`` and >= ``min_size`` that is a multiple of ``multiple``."""
    target = max(length, min_size)
    return -(-target // multiple) * multiple


def pad_to_multiple(
    images: torch.Tensor, multiple: int, min_size: int = 1
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Reflection-pad ``(N, C, H, W)`` images to an accepted size.

    Returns the padded images and ``(top, bottom, left, right)``, for :func:`crop_padding`.
    """
    height, width = images.shape[-2:]
    padding = (
        0,
        padded_length(height, multiple, min_size) - height,
        0,
        padded_length(width, multiple, min_size) - width,
    )
    top, bottom, left, right = padding
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
