"""Reflection padding (bottom and right, so crops and tiles line up with the untiled network) and running an image
tile by tile: the fewest overlapping tiles on the size-multiple grid, cross-faded with a raised cosine over the middle
half of the overlap. Layout and blending: docs/modules.md; measured errors: docs/stylize.md, "Tiling".
"""

from __future__ import annotations

import dataclasses
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


def pad_to_multiple(images: torch.Tensor, multiple: int, min_size: int = 1) -> torch.Tensor:
    """Reflection-pad ``(N, C, H, W)`` images at the bottom and right to an accepted size (crop: ``[..., :H, :W]``)."""
    height, width = images.shape[-2:]
    bottom, right = padded_length(height, multiple, min_size) - height, padded_length(width, multiple, min_size) - width
    remaining = [0, right, 0, bottom]  # F.pad's order: last dim first
    while any(remaining):  # reflection reaches less than the side it pads: tiny images are padded in steps
        height, width = images.shape[-2:]
        limits = [width - 1, width - 1, height - 1, height - 1]
        if min(limit for limit, amount in zip(limits, remaining, strict=True) if amount) == 0:
            return F.pad(images, remaining, mode="replicate")  # a one-pixel side cannot be reflected
        step = [min(amount, limit) for amount, limit in zip(remaining, limits, strict=True)]
        images = F.pad(images, step, mode="reflect")
        remaining = [amount - taken for amount, taken in zip(remaining, step, strict=True)]
    return images


def downscale(images: torch.Tensor, longest: int, multiple: int = 1) -> torch.Tensor:
    """Float ``(N, C, H, W)`` with the longest side at most about ``longest``, sides on the ``multiple`` grid."""
    factor = min(1.0, longest / max(images.shape[-2:]))
    size = [max(multiple, round(side * factor / multiple) * multiple) for side in images.shape[-2:]]
    return F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)


def default_overlap(tile: int, multiple: int = 4, radius: int = 0) -> int:
    """An eighth of the tile on the ``multiple`` grid; at least ``4 * radius`` (up to half the tile), since the
    blend keeps ``overlap / 4`` px of context on each side of a seam."""
    overlap = _round_up(max(tile // 8, multiple), multiple)
    if radius:
        overlap = max(overlap, min(_round_up(4 * radius, multiple), tile // 2 // multiple * multiple))
    return overlap


@dataclasses.dataclass(frozen=True)
class Tiles:
    """Tiles of at most ``tile`` px overlapping by ``overlap`` px for a network taking multiples of ``multiple``."""

    tile: int
    overlap: int
    multiple: int = 4
    min_size: int = 1

    def __post_init__(self) -> None:
        if self.overlap < 0:
            raise ValueError(f"The tile overlap must be >= 0 pixels, got {self.overlap}.")
        tile, overlap = self.tile // self.multiple * self.multiple, _round_up(self.overlap, self.multiple)
        smallest = max(_round_up(self.min_size, self.multiple), 2 * self.multiple)
        if tile < smallest:
            raise ValueError(f"Tiles must be at least {smallest} px for this network, got {self.tile}.")
        if 2 * overlap > tile:
            overlap = f"Tile overlap ({self.overlap} px, {overlap} rounded to {self.multiple})"
            raise ValueError(f"{overlap} must be at most half the tile ({tile} px): use a larger tile or less overlap")
        object.__setattr__(self, "tile", tile)
        object.__setattr__(self, "overlap", overlap)

    def pad(self, images: torch.Tensor) -> torch.Tensor:
        return pad_to_multiple(images, self.multiple, self.min_size)

    def layout(self, length: int) -> tuple[int, list[int]]:
        """:func:`tile_layout` along a padded side of ``length`` px."""
        return tile_layout(length, self.tile, self.overlap, self.multiple)

    def count(self, height: int, width: int) -> int:
        rows = self.layout(padded_length(height, self.multiple, self.min_size))[1]
        return len(rows) * len(self.layout(padded_length(width, self.multiple, self.min_size))[1])


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
            seam = (start + starts[neighbour] + size) / 2  # the middle of the overlap
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


def run_tiled(run: Callable[[torch.Tensor], torch.Tensor], pixels: torch.Tensor, tiles: Tiles) -> torch.Tensor:
    """``run`` (float 0-255 ``(1, 3, h, w)`` -> same size) applied to ``pixels`` tile by tile; ``pixels`` stay
    where they are, so device memory holds one tile's activations at a time."""
    padded = tiles.pad(pixels)
    output = torch.zeros(padded.shape, dtype=torch.float32, device=padded.device)
    tile_height, rows, row_weights = axis_weights(padded.shape[-2], tiles.tile, tiles.overlap, tiles.multiple)
    tile_width, columns, column_weights = axis_weights(padded.shape[-1], tiles.tile, tiles.overlap, tiles.multiple)
    for top, row_weight in zip(rows, row_weights, strict=True):
        for left, column_weight in zip(columns, column_weights, strict=True):
            window = (..., slice(top, top + tile_height), slice(left, left + tile_width))
            result = run(padded[window]).to(output.device, torch.float32)
            output[window] += result * (row_weight[:, None] * column_weight[None, :]).to(output.device)
    return output[..., : pixels.shape[-2], : pixels.shape[-1]]
