"""The page's "Video" tab: the first :data:`MAX_FRAMES` frames of an upload, at most :data:`MAX_SIDE` px (even
sides, for H.264), through two checkpoints, with motion-free flicker numbers (:mod:`stylenorm.inference.flicker`
with zero motion: they include the clip's own; the known-motion numbers are ``scripts/flicker.py``'s, docs/video.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch
from PIL import Image

from stylenorm.data.clips import Clip, translation_motion
from stylenorm.demo.catalog import CheckpointEntry
from stylenorm.demo.inputs import DemoError
from stylenorm.demo.models import NO_CONTROLS, Controls, ModelCache
from stylenorm.inference.flicker import flicker, stylize_known_clip
from stylenorm.inference.pipeline import prepare
from stylenorm.inference.video_io import probe_video, read_video, save_video

MAX_FRAMES = 48
MAX_SIDE = 256
COLUMNS = ["variant", "frame change (gray levels)", "mean colour change (gray levels)", "time (s)"]


def read_clip(path: str | os.PathLike, max_frames: int = MAX_FRAMES, max_side: int = MAX_SIDE) -> tuple[Clip, float]:
    """The first ``max_frames`` frames of ``path`` at most ``max_side`` px, even sides; and the frame rate."""
    try:
        rate = float(probe_video(path).rate)
        frames = []
        for frame in read_video(path):
            pixels = prepare(Image.fromarray(frame.pixels), max_size=max_side).pixels
            height, width = pixels.shape[-2:]
            frames.append(pixels[:, : height - height % 2, : width - width % 2])
            if len(frames) == max_frames:
                break
    except (ValueError, OSError) as error:
        raise DemoError(f"Not a video this page can read: {error}") from None
    if len(frames) < 2:
        raise DemoError("The clip needs at least two frames.")
    stack = torch.stack(frames)
    motion = translation_motion([(0, 0)] * (len(frames) - 1), *stack.shape[-2:])
    return Clip(Path(path).name, stack, *motion, fps=round(rate)), rate


def row(name: str, outputs: torch.Tensor, clip: Clip, seconds: float) -> list:
    score = flicker(outputs, clip)
    return [name, round(score.warp_error, 2), round(score.global_flicker, 2), round(seconds, 2)]


def compare_clip(
    path: str | os.PathLike,
    variants: list[tuple[CheckpointEntry, str]],
    models: ModelCache,
    controls: Controls = NO_CONTROLS,
    *,
    output_dir: str | os.PathLike,
    precision: str = "auto",
) -> tuple[list[Path], list[list]]:
    """Each ``(checkpoint, frame_stats)`` variant on the clip: the videos written and the table (the input first)."""
    if not variants:
        raise DemoError("No checkpoint selected: tick one or two in the list of checkpoints.")
    clip, rate = read_clip(path)
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    videos, rows = [], [row(f"input ({len(clip.frames)} frames)", clip.frames, clip, 0.0)]
    for index, (entry, frame_stats) in enumerate(variants, start=1):
        model = models.get(entry, controls)
        started = time.perf_counter()
        outputs = stylize_known_clip(model, clip, frame_stats=frame_stats, precision=precision)
        seconds = time.perf_counter() - started
        videos.append(save_video(outputs, folder / f"{index}_{entry.path.stem}.mp4", round(rate) or 12))
        rows.append(row(f"{entry.name} · {entry.norm_label} · {frame_stats}", outputs, clip, seconds))
    return videos, rows
