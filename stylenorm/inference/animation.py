"""Animated inputs (GIF, WebP, APNG) for the stylize command: every frame, back into one animation.

Pillow decodes each frame of an animated file as a whole picture (earlier frames composited
under it), so each is stylized like a still image - the same resizing, tiling and precision - and
the results are written back with the input's frame durations and loop count
(:func:`stylenorm.inference.image_io.save_animation`: one animated file for GIF, WebP and PNG
outputs, numbered stills for JPEG, BMP and TIFF). Reading a single image (``load_rgb``, the
training data) takes the first frame.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import ImageSequence

from stylenorm.data.images import open_image
from stylenorm.inference.image_io import save_animation
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import PreparedImage, prepare, to_image
from stylenorm.inference.stylizer import Stylizer

#: Frame duration (ms) used when a file names none (browsers show such GIFs at about 10 frames/s).
DEFAULT_FRAME_MS = 100


def is_animated(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds more than one frame (GIF, WebP, APNG); False for files PIL cannot open."""
    try:
        with open_image(path) as image:
            return bool(getattr(image, "is_animated", False)) and getattr(image, "n_frames", 1) > 1
    except (OSError, ValueError, SyntaxError):
        return False  # not for this module to report: the still-image path names the problem


def read_frames(
    path: str | os.PathLike, *, scale: float | None = None, max_size: int | None = None
) -> tuple[list[PreparedImage], list[int], int | None]:
    """Every frame of ``path`` prepared for the network, their durations (ms) and the loop count."""
    frames, durations = [], []
    with open_image(path) as image:
        loop = image.info.get("loop")
        for frame in ImageSequence.Iterator(image):
            durations.append(int(frame.info.get("duration") or DEFAULT_FRAME_MS))
            frames.append(
                prepare(
                    frame.convert("RGBA" if "transparency" in frame.info else "RGB"), scale=scale, max_size=max_size
                )
            )
    return frames, durations, loop


def stylize_animation(
    source: str | os.PathLike, target: str | os.PathLike, model: Stylizer, options: InferenceOptions | None = None
) -> list[Path]:
    """Stylize every frame of ``source`` and write them to ``target``; returns the files written.

    ``options``: resizing, tiling and precision as for a still image; ``batch_size`` and ``frame_stats``
    (norm statistics shared across frames) as for video (:func:`stylenorm.inference.video.stylize_clip`).
    """
    from stylenorm.inference.video import stylize_clip

    options = options or InferenceOptions()
    frames, durations, loop = read_frames(source, scale=options.scale, max_size=options.max_size)
    pixels = lambda: (frame.pixels for frame in frames)  # noqa: E731
    outputs = stylize_clip(pixels, model, options)
    results = [to_image(output, frame.alpha) for frame, output in zip(frames, outputs, strict=True)]
    return save_animation(results, target, durations, loop)
