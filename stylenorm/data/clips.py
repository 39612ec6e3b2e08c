"""Short deterministic clips with known motion, made from the embedded datasets' photos, so the temporal error of
:mod:`stylenorm.inference.flicker` (Lai et al. 2018) needs no optical flow. The clips: docs/video.md, "The flicker
metric (known motion)".
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import torch
import torch.nn.functional as F

from stylenorm.data.sources import photo_pixels

#: The clips :func:`motion_clips` makes, in order.
CLIP_NAMES = ("pan", "zoom", "brightness", "entering")
CLIP_FPS = 12


@dataclasses.dataclass(frozen=True)
class Clip:
    """Frames uint8 ``(T, 3, H, W)``; ``source`` float ``(T-1, H, W, 2)``: the (x, y) in frame t of pixel
    (y, x) of frame t+1 (pixel centres at whole numbers); ``valid`` bool ``(T-1, H, W)``."""

    name: str
    frames: torch.Tensor
    source: torch.Tensor
    valid: torch.Tensor
    fps: int = CLIP_FPS

    def __post_init__(self) -> None:
        count, _, height, width = self.frames.shape
        if self.source.shape != (count - 1, height, width, 2) or self.valid.shape != (count - 1, height, width):
            shapes = f"{tuple(self.source.shape)} / {tuple(self.valid.shape)}"
            raise ValueError(f"Clip {self.name!r}: motion {shapes} does not fit {count} frames of {height}x{width}.")


def pixel_grid(height: int, width: int) -> torch.Tensor:
    """``(H, W, 2)`` float: the (x, y) of every pixel centre."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([xs, ys], dim=-1).float()


def inside(points: torch.Tensor, height: int, width: int, margin: float = 0) -> torch.Tensor:
    """Whether (x, y) points lie within the pixel centres of an ``height x width`` frame, ``margin`` px in."""
    x, y = points[..., 0], points[..., 1]
    return (x >= margin) & (x <= width - 1 - margin) & (y >= margin) & (y <= height - 1 - margin)


def translation_motion(shifts: list[tuple[int, int]], height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(source, valid)`` for content moving by ``(dx, dy)`` px between consecutive frames (one per pair)."""
    grid = pixel_grid(height, width)
    source = torch.stack([grid - torch.tensor(shift, dtype=torch.float32) for shift in shifts])
    return source, inside(source, height, width)


_photo = functools.cache(photo_pixels)


def _stack(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()


def pan_clip(size: int = 96, count: int = 16, step: tuple[int, int] = (2, 1)) -> Clip:
    photo = _photo("coffee.png", 2 * size)
    # The window moves by +step over the photo, so the content moves by -step in the frame.
    frames = [photo[t * step[1] : t * step[1] + size, t * step[0] : t * step[0] + size] for t in range(count)]
    source, valid = translation_motion([(-step[0], -step[1])] * (count - 1), size, size)
    return Clip("pan", _stack(frames), source, valid)


def zoom_clip(size: int = 96, count: int = 16, rate: float = 1.03) -> Clip:
    photo = torch.from_numpy(_photo("chelsea.png", 2 * size).copy()).permute(2, 0, 1)[None].double()
    height, width = photo.shape[-2:]
    grid = pixel_grid(size, size).double()
    centre = (size - 1) / 2
    scales = [1.5 / rate**t for t in range(count)]  # photo px per frame px, shrinking: zooming in
    frames = []
    for scale in scales:
        photo_x = (width - 1) / 2 + scale * (grid[..., 0] - centre)
        photo_y = (height - 1) / 2 + scale * (grid[..., 1] - centre)
        normalised = torch.stack([(2 * photo_x + 1) / width - 1, (2 * photo_y + 1) / height - 1], dim=-1)
        sampled = F.grid_sample(photo, normalised[None], mode="bilinear", align_corners=False)[0]
        frames.append(sampled.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy())
    # Pixel p of frame t+1 shows photo point c + s_{t+1} (p - c), which frame t showed at c + s_{t+1}/s_t (p - c).
    source = torch.stack([centre + scales[t + 1] / scales[t] * (grid - centre) for t in range(count - 1)]).float()
    return Clip("zoom", _stack(frames), source, inside(source, size, size))


def brightness_clip(size: int = 96, count: int = 16, low: float = 0.6) -> Clip:
    photo = _photo("astronaut.png", size)
    view = photo[:size, (photo.shape[1] - size) // 2 :][:, :size].astype(np.float64)
    gains = np.linspace(low, 1.0, count)
    frames = [np.round(view * gain).astype(np.uint8) for gain in gains]
    source, valid = translation_motion([(0, 0)] * (count - 1), size, size)
    return Clip("brightness", _stack(frames), source, valid)


def entering_clip(size: int = 96, count: int = 16, side: int = 32, speed: int = 4) -> Clip:
    background = _photo("rocket.jpg", size)[:size, :size]
    cat = _photo("chelsea.png", 2 * side)
    sprite = cat[(cat.shape[0] - side) // 2 :][:side, (cat.shape[1] - side) // 2 :][:, :side]
    top = (size - side) // 2
    frames, covered = [], []
    for left in [speed * t - side for t in range(count)]:  # starts just outside the left edge
        visible = slice(max(left, 0), max(min(left + side, size), 0))
        frame = background.copy()
        frame[top : top + side, visible] = sprite[:, visible.start - left : visible.stop - left]
        frames.append(frame)
        covered.append(torch.zeros(size, size, dtype=torch.bool))
        covered[-1][top : top + side, visible] = True
    grid = pixel_grid(size, size)
    sources, valids = [], []
    for before, after in itertools.pairwise(covered):
        source = torch.where(after[..., None], grid - torch.tensor([speed, 0.0]), grid)
        # On the square: its previous position must have been in view; elsewhere: the square must not have hidden it.
        valids.append(torch.where(after, inside(source, size, size), ~before))
        sources.append(source)
    return Clip("entering", _stack(frames), torch.stack(sources), torch.stack(valids))


_MAKERS = {"pan": pan_clip, "zoom": zoom_clip, "brightness": brightness_clip, "entering": entering_clip}


def motion_clips(names: tuple[str, ...] = CLIP_NAMES, size: int = 96, count: int = 16) -> list[Clip]:
    """The known-motion clips ``names`` at ``size x size`` px, ``count`` frames each."""
    unknown = [name for name in names if name not in _MAKERS]
    if unknown:
        raise ValueError(f"Unknown clip {unknown[0]!r}; expected some of {', '.join(CLIP_NAMES)}.")
    return [_MAKERS[name](size=size, count=count) for name in names]
