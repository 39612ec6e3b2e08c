"""Temporal flicker of a stylized clip: the warping error under known motion (Lai et al. 2018, Eq. 8), in grey levels,
with the clip's motion (:class:`stylenorm.data.clips.Clip`) or, for a user's video, Farnebäck optical flow (OpenCV,
the extra ``stylenorm[flow]``). Definitions: docs/video.md, "The flicker metric (known motion)" and "User clips".
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylenorm.data.clips import Clip, inside, pixel_grid
from stylenorm.inference.video import stylize_clip
from stylenorm.inference.video_io import probe_video, read_video

#: calcOpticalFlowFarneback's arguments after the output: OpenCV's documented example values.
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


@dataclasses.dataclass(frozen=True)
class Flicker:
    """Warping error and global flicker in grey levels (means over frame pairs), and the pixels compared."""

    warp_error: float
    global_flicker: float
    compared_fraction: float


def warp(previous: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """``previous`` frames ``(P, C, H, W)`` sampled at ``source`` ``(P, H, W, 2)`` (x, y in pixels), bilinear."""
    height, width = previous.shape[-2:]
    x, y = source.to(torch.float64).unbind(-1)  # whole-pixel positions must come out whole: no float32 rounding
    normalised = torch.stack([(2 * x + 1) / width - 1, (2 * y + 1) / height - 1], dim=-1).to(previous.dtype)
    return F.grid_sample(previous, normalised, mode="bilinear", padding_mode="border", align_corners=False)


def motion_from_flow(flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(source, valid)`` from a backward flow ``(P, H, W, 2)``: frame t+1's pixel (x, y) came from
    (x, y) + flow in frame t (OpenCV's ``calcOpticalFlowFarneback(next, previous, ...)`` gives this)."""
    height, width = flow.shape[1:3]
    source = pixel_grid(height, width) + flow.float()
    return source, inside(source, height, width)


def compared_pixels(source: torch.Tensor, valid: torch.Tensor, margin: int = 0) -> torch.Tensor:
    """``valid``, less the pixels within ``margin`` px of the edge in frame t+1 or, by ``source``, in frame t."""
    if margin <= 0:
        return valid
    size = valid.shape[-2:]
    return valid & inside(pixel_grid(*size), *size, margin)[None] & inside(source, *size, margin)


def flicker(outputs: torch.Tensor, clip: Clip, *, margin: int = 0) -> Flicker:
    """Flicker of ``outputs`` (``(T, 3, H, W)``, uint8 or float on 0-255) stylized from ``clip``'s frames."""
    if outputs.shape != clip.frames.shape:
        shapes = f"{tuple(outputs.shape)} outputs for clip {clip.name!r} of {tuple(clip.frames.shape)}"
        raise ValueError(f"{shapes}: stylize every frame at the clip's size.")
    frames = outputs.double()
    warped = warp(frames[:-1], clip.source)
    mask = compared_pixels(clip.source, clip.valid, margin)[:, None].double()  # (P, 1, H, W)
    counts = mask.sum(dim=(1, 2, 3))
    if bool((counts == 0).any()):
        raise ValueError(f"Clip {clip.name!r}: a frame pair has no pixel to compare (margin {margin} too large?).")
    difference = (frames[1:] - warped) * mask
    warp_error = difference.abs().sum(dim=(1, 2, 3)) / (3 * counts)
    mean_shift = difference.sum(dim=(2, 3)) / counts[:, None]  # (P, 3): signed change of each channel's mean
    return Flicker(
        warp_error=float(warp_error.mean()),
        global_flicker=float(mean_shift.abs().mean()),
        compared_fraction=float(counts.sum() / mask[:, 0].numel()),
    )


def stylize_known_clip(model, clip: Clip, *, frame_stats: str = "per-frame", **options) -> torch.Tensor:
    """``clip``'s frames through ``model`` (:func:`~stylenorm.inference.video.stylize_clip`): uint8 ``(T, 3, H, W)``."""
    return torch.stack(list(stylize_clip(lambda: iter(clip.frames), model, frame_stats=frame_stats, **options)))


def _cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError(
            "Estimating a clip's motion needs OpenCV: pip install 'stylenorm[flow]' (opencv-python-headless). "
            "The embedded clips (--clips embedded) have known motion and need nothing else."
        ) from None
    return cv2


def farneback_flow(frames: torch.Tensor) -> torch.Tensor:
    """Backward flow ``(T-1, H, W, 2)`` of uint8 frames ``(T, 3, H, W)``, as :func:`motion_from_flow` takes it."""
    cv2 = _cv2()
    grey = [cv2.cvtColor(np.ascontiguousarray(frame.permute(1, 2, 0).numpy()), cv2.COLOR_RGB2GRAY) for frame in frames]
    flows = [
        cv2.calcOpticalFlowFarneback(after, before, None, *FARNEBACK) for before, after in itertools.pairwise(grey)
    ]
    return torch.from_numpy(np.stack(flows))


def video_clip(path: str | os.PathLike, max_side: int = 256, max_frames: int = 64) -> Clip:
    """The first ``max_frames`` frames of a video, the longer side at most ``max_side``, with their motion estimated."""
    _cv2()  # before decoding: a missing extra should not wait for the file
    frames = [
        torch.from_numpy(frame.pixels).permute(2, 0, 1) for frame in itertools.islice(read_video(path), max_frames)
    ]
    if len(frames) < 2:
        raise ValueError(f"{path}: {len(frames)} frame(s); a flicker estimate needs at least 2.")
    stacked = torch.stack(frames)
    height, width = stacked.shape[-2:]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(2, round(height * scale)), max(2, round(width * scale)))
        resized = F.interpolate(stacked.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        stacked = resized.round().clamp(0, 255).to(torch.uint8)
    source, valid = motion_from_flow(farneback_flow(stacked))
    rate = probe_video(path).rate
    return Clip(Path(path).stem, stacked, source, valid, fps=round(float(rate)) if rate else 0)
