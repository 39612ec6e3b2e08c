"""A user's clip with its motion estimated by Farnebäck's optical flow (Farnebäck 2003, via OpenCV, the optional
extra ``stylenorm[flow]``), for the flicker metric: the flow's own errors count as flicker (docs/video.md, "User
clips")."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylenorm.data.clips import Clip
from stylenorm.inference.flicker import motion_from_flow
from stylenorm.inference.video_io import probe_video, read_video

#: calcOpticalFlowFarneback's arguments after the output: OpenCV's documented example values.
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


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
    """Backward flow ``(T-1, H, W, 2)`` of uint8 frames ``(T, 3, H, W)``: frame t+1's pixel (x, y) came
    from (x, y) + flow in frame t, as :func:`~stylenorm.inference.flicker.motion_from_flow` takes it."""
    cv2 = _cv2()
    grey = [cv2.cvtColor(np.ascontiguousarray(frame.permute(1, 2, 0).numpy()), cv2.COLOR_RGB2GRAY) for frame in frames]
    pairs = itertools.pairwise(grey)
    flows = [cv2.calcOpticalFlowFarneback(after, before, None, *FARNEBACK) for before, after in pairs]
    return torch.from_numpy(np.stack(flows))


def video_clip(path: str | os.PathLike, max_side: int = 256, max_frames: int = 64) -> Clip:
    """The first ``max_frames`` frames of a video, the longer side at most ``max_side``, with their motion estimated."""
    _cv2()  # before decoding: a missing extra should not wait for the file
    frames = []
    for frame in read_video(path):
        frames.append(torch.from_numpy(frame.pixels).permute(2, 0, 1))
        if len(frames) == max_frames:
            break
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
