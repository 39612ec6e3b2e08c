"""Reflection padding to the sizes a network accepts, and running an image too large for memory tile by tile.

Padding goes at the bottom and right only, so crops and tiles line up with the untiled network. Tiles are the
fewest overlapping windows on the size-multiple grid, cross-faded with a raised cosine over the middle half of the
overlap. Layout and blending: docs/modules.md; measured errors: docs/stylize.md, "Tiling".
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

#: Images with more pixels than this are tiled automatically (2048 x 2048).
DEFAULT_AUTO_TILE_PIXELS = 2048 * 2048
#: How tiles of a network with per-sample norms get their statistics by default.
DEFAULT_TILE_STATISTICS = "exact"


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def padded_length(length: int, multiple: int, min_size: int) -> int:
    """The smallest length >= ``length`` and >= ``min_size`` that is a multiple of ``multiple``."""
    return _round_up(max(length, min_size), multiple)


def pad_to_multiple(
    images: torch.Tensor, multiple: int, min_size: int = 1
) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Reflection-pad ``(N, C, H, W)`` images to an accepted size; returns them and ``(top, bottom, left, right)``."""
    height, width = images.shape[-2:]
    padding = (
        0,
        padded_length(height, multiple, min_size) - height,
        0,
        padded_length(width, multiple, min_size) - width,
    )
    remaining = [padding[2], padding[3], padding[0], padding[1]]  # F.pad's order: last dim first
    while any(remaining):  # reflection reaches less than the side it pads: tiny images are padded in steps
        height, width = images.shape[-2:]
        limits = [width - 1, width - 1, height - 1, height - 1]
        if min(limit for limit, amount in zip(limits, remaining, strict=True) if amount) == 0:
            images = F.pad(images, remaining, mode="replicate")  # a one-pixel side cannot be reflected
            break
        step = [min(amount, limit) for amount, limit in zip(remaining, limits, strict=True)]
        images = F.pad(images, step, mode="reflect")
        remaining = [amount - taken for amount, taken in zip(remaining, step, strict=True)]
    return images, padding


def crop_padding(images: torch.Tensor, padding: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_multiple`."""
    top, bottom, left, right = padding
    height, width = images.shape[-2:]
    return images[..., top : height - bottom, left : width - right]


def default_overlap(tile: int, multiple: int = 4, radius: int = 0) -> int:
    """An eighth of the tile on the ``multiple`` grid; at least ``4 * radius`` (up to half the tile), since the
    blend keeps ``overlap / 4`` px of context on each side of a seam."""
    overlap = _round_up(max(tile // 8, multiple), multiple)
    if radius:
        overlap = max(overlap, min(_round_up(4 * radius, multiple), tile // 2 // multiple * multiple))
    return overlap


def auto_tile_size(max_pixels: int, multiple: int = 4) -> int:
    """The largest square tile, a multiple of ``multiple``, with at most ``max_pixels`` pixels."""
    return max(multiple, math.isqrt(max_pixels) // multiple * multiple)


def check_tiling(tile: int, overlap: int, multiple: int = 4, min_size: int = 1) -> tuple[int, int]:
    """Validate ``tile`` / ``overlap``; returns them rounded to ``multiple`` (tile down, overlap up)."""
    if tile <= 0:
        raise ValueError(f"The tile size must be a positive number of pixels, got {tile}.")
    if overlap < 0:
        raise ValueError(f"The tile overlap must be >= 0 pixels, got {overlap}.")
    rounded_tile = tile // multiple * multiple
    rounded_overlap = _round_up(overlap, multiple)
    smallest = max(_round_up(min_size, multiple), 2 * multiple)
    if rounded_tile < smallest:
        raise ValueError(f"Tiles must be at least {smallest} px for this network, got {tile}.")
    if 2 * rounded_overlap > rounded_tile:
        raise ValueError(
            f"The tile overlap ({overlap} px, {rounded_overlap} rounded up to a multiple of {multiple}) must be at "
            f"most half the tile ({rounded_tile} px). Use a larger tile or a smaller overlap."
        )
    return rounded_tile, rounded_overlap


def tile_layout(length: int, tile: int, overlap: int, multiple: int = 4) -> tuple[int, list[int]]:
    """``(tile size, starts)`` along one axis: the fewest tiles overlapping by ``overlap``, shrunk to the smallest
    common size that still covers ``length`` and spread evenly (``tile`` is a maximum)."""
    if length <= tile:
        return length, [0]
    count = -(-(length - overlap) // (tile - overlap))
    size = _round_up(-(-(length + (count - 1) * overlap) // count), multiple)
    units = (length - size) // multiple  # distribute the starts in whole multiples
    return size, [multiple * (index * units // (count - 1)) for index in range(count)]


def axis_weights(length: int, tile: int, overlap: int, multiple: int = 4) -> tuple[int, list[int], list[torch.Tensor]]:
    """``(tile size, starts, weights)`` along one axis; at every position the tiles' weights sum to one."""
    size, starts = tile_layout(length, tile, overlap, multiple)
    blend = overlap / 2  # width of each cross-fade: the middle half of the (minimum) overlap
    raw = []
    for index, start in enumerate(starts):
        centers = torch.arange(start, start + size, dtype=torch.float64) + 0.5
        weight = torch.ones(size, dtype=torch.float64)
        for neighbour, rising in ((index - 1, True), (index + 1, False)):
            if not 0 <= neighbour < len(starts):
                continue  # the image border: nothing to blend with
            first, second = sorted((start, starts[neighbour]))
            seam = (second + first + size) / 2  # the middle of the overlap
            if blend > 0:
                ramp = torch.sin(((centers - (seam - blend / 2)) / blend).clamp(0, 1) * (math.pi / 2)) ** 2
            else:
                ramp = (centers >= seam).to(torch.float64)
            weight *= ramp if rising else 1 - ramp
        raw.append(weight)
    # Complementary ramps already sum to one; dividing by the total makes it exact for any layout.
    total = torch.zeros(length, dtype=torch.float64)
    for start, weight in zip(starts, raw, strict=True):
        total[start : start + size] += weight
    weights = [(weight / total[start : start + size]).float() for start, weight in zip(starts, raw, strict=True)]
    return size, starts, weights


def tile_count(height: int, width: int, tile: int, overlap: int, multiple: int = 4, min_size: int = 1) -> int:
    """How many tiles :func:`run_tiled` cuts a ``height x width`` image into."""
    tile, overlap = check_tiling(tile, overlap, multiple, min_size)
    rows = tile_layout(padded_length(height, multiple, min_size), tile, overlap, multiple)[1]
    columns = tile_layout(padded_length(width, multiple, min_size), tile, overlap, multiple)[1]
    return len(rows) * len(columns)


def run_tiled(
    run: Callable[[torch.Tensor], torch.Tensor],
    pixels: torch.Tensor,
    *,
    tile: int,
    overlap: int,
    multiple: int = 4,
    min_size: int = 1,
) -> torch.Tensor:
    """``run`` (float 0-255 ``(1, 3, h, w)`` -> same size) applied to ``pixels`` tile by tile; ``pixels`` stay
    where they are, so device memory holds one tile's activations at a time."""
    tile, overlap = check_tiling(tile, overlap, multiple, min_size)
    padded, padding = pad_to_multiple(pixels, multiple, min_size)
    height, width = padded.shape[-2:]
    output = torch.zeros(padded.shape, dtype=torch.float32, device=padded.device)
    tile_height, rows, row_weights = axis_weights(height, tile, overlap, multiple)
    tile_width, columns, column_weights = axis_weights(width, tile, overlap, multiple)
    for top, row_weight in zip(rows, row_weights, strict=True):
        for left, column_weight in zip(columns, column_weights, strict=True):
            window = (..., slice(top, top + tile_height), slice(left, left + tile_width))
            result = run(padded[window]).to(output.device, torch.float32)
            output[window] += result * (row_weight[:, None] * column_weight[None, :]).to(output.device)
    return crop_padding(output, padding)
