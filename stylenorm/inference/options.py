"""How images go through a network: one :class:`InferenceOptions`, built once from the command's flags, the
demo's settings or the Python API's keywords, and passed down to resizing, tiling and clips."""

from __future__ import annotations

import dataclasses
import math

from stylenorm.inference.stylizer import Stylizer, check_precision
from stylenorm.inference.tile_statistics import DEFAULT_FRAME_STATISTICS, TILE_STATISTICS, parse_frame_statistics
from stylenorm.inference.tiling import DEFAULT_AUTO_TILE_PIXELS, DEFAULT_TILE_STATISTICS, Tiles, default_overlap


def auto_tile_size(max_pixels: int, multiple: int = 4) -> int:
    """The largest square tile, a multiple of ``multiple``, with at most ``max_pixels`` pixels."""
    return max(multiple, math.isqrt(max_pixels) // multiple * multiple)


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
    """The stylize command's options for running images, checked here once for every entry point; each field is the
    flag of the same name (``overlap``: ``--tile-overlap``), docs/stylize.md."""

    precision: str = "fp32"
    tile: int | None = None
    overlap: int | None = None
    auto_tile_pixels: int | None = DEFAULT_AUTO_TILE_PIXELS
    tile_stats: str = DEFAULT_TILE_STATISTICS
    scale: float | None = None
    max_size: int | None = None
    batch_size: int = 1
    frame_stats: str = DEFAULT_FRAME_STATISTICS

    def __post_init__(self) -> None:
        check_precision(self.precision)
        if self.tile_stats not in TILE_STATISTICS:
            expected = ", ".join(TILE_STATISTICS)
            raise ValueError(f"Unknown tile statistics {self.tile_stats!r}; expected one of {expected} (--tile-stats).")
        try:
            parse_frame_statistics(self.frame_stats)
        except ValueError as error:
            raise ValueError(f"--frame-stats: {error}") from None
        if self.scale is not None and not self.scale > 0:
            raise ValueError(f"--scale must be > 0, got {self.scale!r}.")
        at_least = {
            "--tile": (self.tile, 0),
            "--tile-overlap": (self.overlap, 0),
            "--auto-tile-pixels": (self.auto_tile_pixels, 0),
            "--max-size": (self.max_size, 1),
            "--batch-size": (self.batch_size, 1),
        }
        for flag, (value, least) in at_least.items():  # None: the flag's default behaviour
            if value is not None and value < least:
                raise ValueError(f"{flag} must be a whole number >= {least}, got {value!r}.")

    @classmethod
    def from_keywords(cls, options: InferenceOptions | None = None, **keywords) -> InferenceOptions:
        return dataclasses.replace(options or cls(), **keywords)

    def tile_for(self, height: int, width: int) -> int | None:
        """``tile`` if the image is larger, an automatic one above ``auto_tile_pixels``, else ``None`` (untiled)."""
        if self.tile:
            return self.tile if height > self.tile or width > self.tile else None
        if self.auto_tile_pixels and height * width > self.auto_tile_pixels:
            return auto_tile_size(self.auto_tile_pixels)
        return None

    def tiling(self, height: int, width: int, model: Stylizer) -> Tiles | None:
        """The :class:`Tiles` an image of this size runs in on ``model``; ``None``: untiled."""
        tile = self.tile_for(height, width)
        return None if tile is None else self._tiles(tile, model)

    def _tiles(self, tile: int, model: Stylizer) -> Tiles:
        overlap = self.overlap
        if overlap is None:
            overlap = default_overlap(tile, model.size_multiple, model.receptive_field_radius)
        return Tiles(tile, overlap, model.size_multiple, model.min_size)

    def check_tiling(self, model: Stylizer) -> None:
        """Refuse a tile and overlap ``model`` cannot run (before any image is read), naming the flag."""
        if not (self.tile or self.auto_tile_pixels):
            return
        try:  # --tile-overlap applies to the automatic tiles too
            self._tiles(self.tile or auto_tile_size(self.auto_tile_pixels, model.size_multiple), model)
        except ValueError as error:
            source = "--tile" if self.tile else f"--auto-tile-pixels {self.auto_tile_pixels}"
            raise ValueError(f"{error} (tiles from {source})") from None
