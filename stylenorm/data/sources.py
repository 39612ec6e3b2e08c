"""The raw material of the embedded datasets, nothing downloaded: 64 px tiles of the colour photographs inside the
scikit-image wheel (:data:`PHOTOS`) and procedural paintings from fixed seeds. Why these: docs/modules.md.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from stylenorm.data.images import open_image

#: Colour photographs bundled with scikit-image (``skimage/data``), in the order they are tiled.
PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
)
TILE_SIZE = 64
MAX_SHORT_SIDE = 512
MIN_TILE_STD = 0.02
MIN_TILE_MEAN = 0.05
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as PIL's convert("L")


def skimage_data_dir() -> Path:
    """``skimage/data`` of the installed scikit-image, found without importing it (its downloader never runs)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("The embedded datasets need scikit-image's photos: pip install 'scikit-image>=0.22'.")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _photo_path(name: str) -> Path:
    path = skimage_data_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: `pip install --force-reinstall 'scikit-image>=0.22'`.")
    return path


def source_photo_hashes() -> dict[str, str]:
    """SHA-256 of each source photo file, recorded in the manifests of the generated datasets."""
    return {name: hashlib.sha256(_photo_path(name).read_bytes()).hexdigest() for name in PHOTOS}


def photo_pixels(name: str, short_side: int, *, enlarge: bool = True) -> np.ndarray:
    """The photo ``name`` as (H, W, 3) uint8, its shorter side resized (Lanczos) to ``short_side`` (or shrunk only)."""
    with open_image(_photo_path(name)) as opened:
        photo = opened.convert("RGB")
    scale = short_side / min(photo.size)
    if scale < 1.0 or enlarge:
        photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    return np.asarray(photo)


@dataclass(frozen=True)
class Tile:
    """One tile: ``name`` like ``astronaut_r03_c05`` (photo, grid row, column); ``pixels`` (H, W, 3) uint8."""

    name: str
    pixels: np.ndarray

    @property
    def photo(self) -> str:
        """The source photo's file stem, e.g. ``astronaut``."""
        return self.name.rsplit("_r", 1)[0]


@functools.cache
def photo_tiles(tile_size: int = TILE_SIZE, max_short_side: int = MAX_SHORT_SIDE) -> tuple[Tile, ...]:
    """All kept tiles of all :data:`PHOTOS`, in photo order then row-major; pixels are read-only."""
    tiles = []
    for name in PHOTOS:
        pixels = photo_pixels(name, max_short_side, enlarge=False)
        rows, cols = pixels.shape[0] // tile_size, pixels.shape[1] // tile_size
        top, left = (pixels.shape[0] - rows * tile_size) // 2, (pixels.shape[1] - cols * tile_size) // 2
        for row in range(rows):
            for col in range(cols):
                y, x = top + row * tile_size, left + col * tile_size
                tile = pixels[y : y + tile_size, x : x + tile_size].copy()
                luminance = (tile / 255.0) @ _LUMA
                if luminance.std() < MIN_TILE_STD or luminance.mean() < MIN_TILE_MEAN:
                    continue
                tile.setflags(write=False)
                tiles.append(Tile(f"{Path(name).stem}_r{row:02d}_c{col:02d}", tile))
    return tuple(tiles)


#: Hues (in turns) of the stained-glass palette: cobalt, crimson, saffron, emerald, violet, orange, teal.
_MOSAIC_HUES = (0.62, 0.98, 0.13, 0.36, 0.78, 0.07, 0.5)


def mosaic_style_image(size: int = 256, num_cells: int = 56, seed: int = 1605) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 stained-glass mosaic: Voronoi cells with a brush-stroke ripple, lead lines."""
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0, size, size=(num_cells, 2))
    hues = np.array(_MOSAIC_HUES)[rng.integers(len(_MOSAIC_HUES), size=num_cells)] + rng.uniform(-0.02, 0.02, num_cells)
    saturation = rng.uniform(0.75, 1.0, num_cells)
    value = rng.uniform(0.7, 1.0, num_cells)
    colours = np.array([colorsys.hsv_to_rgb(h % 1.0, s, v) for h, s, v in zip(hues, saturation, value, strict=True)])
    directions = rng.uniform(0, np.pi, num_cells)
    wavelengths = rng.uniform(6, 14, num_cells)

    y, x = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    distances = np.hypot(y[..., None] - seeds[:, 0], x[..., None] - seeds[:, 1])  # (size, size, cells)
    nearest_two = np.partition(distances, 1, axis=-1)[..., :2]
    cell = distances.argmin(axis=-1)
    phase = (x * np.cos(directions[cell]) + y * np.sin(directions[cell])) / wavelengths[cell]
    ripple = 0.8 + 0.2 * np.sin(2 * np.pi * phase)
    glass = colours[cell] * ripple[..., None]
    border = np.clip((nearest_two[..., 1] - nearest_two[..., 0] - 1.5) / 2.0, 0.0, 1.0)  # 0 on the line
    lead = np.array([0.07, 0.05, 0.04])
    image = lead + (glass - lead) * border[..., None]
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def swirl_style_image(size: int = 256, seed: int = 1889) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 painting of flowing bands about a random centre: no edges, smooth strokes."""
    rng = np.random.default_rng(seed)
    palette = np.array([[0.08, 0.12, 0.38], [0.16, 0.35, 0.72], [0.85, 0.66, 0.18], [0.95, 0.91, 0.74]])
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    cy, cx = rng.uniform(0.3 * size, 0.7 * size, size=2)
    radius, angle = np.hypot(y - cy, x - cx), np.arctan2(y - cy, x - cx)
    noise = sum(
        0.35 * np.sin(2 * np.pi * (x * np.cos(t) + y * np.sin(t)) / w + p)
        for t, w, p in zip(rng.uniform(0, np.pi, 3), rng.uniform(40, 90, 3), rng.uniform(0, 2 * np.pi, 3), strict=True)
    )
    band = radius / 18 + 1.4 * np.sin(3 * angle + radius / 40) + noise
    index = np.floor(band).astype(np.int64)
    blend = np.clip((band - index - 0.8) / 0.2, 0.0, 1.0)[..., None]  # soft edge into the next band
    colours = palette[index % 4] * (1 - blend) + palette[(index + 1) % 4] * blend
    image = colours * (0.9 + 0.1 * np.sin(2 * np.pi * band * 7))[..., None]
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def stripes_style_image(size: int = 256, seed: int = 1913) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 painting of sharp diagonal stripes in red, black and off-white, with grain."""
    rng = np.random.default_rng(seed)
    palette = np.array([[0.78, 0.1, 0.08], [0.06, 0.05, 0.05], [0.93, 0.9, 0.84]])
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    t = np.deg2rad(35.0)
    stripe = np.floor((x * np.cos(t) + y * np.sin(t)) / 11.0).astype(np.int64)
    choice = rng.integers(len(palette), size=stripe.max() - stripe.min() + 1)
    image = palette[choice[stripe - stripe.min()]] + rng.uniform(-0.06, 0.06, size=(size, size, 1))
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
