"""Stylize clips (video files, animated GIF/WebP/APNG, frames in memory) in batches of consecutive frames, keeping
their frames and timing; with ``frame_stats`` other than ``per-frame`` a first pass records each frame's norm
statistics. Usage: docs/video.md, "Stylize a clip".
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import torch
from PIL import Image, ImageSequence

from stylenorm.data.images import open_image
from stylenorm.inference.image_io import OUTPUT_FORMATS, header_size, save_animation, save_image
from stylenorm.inference.jobs import frame_batches
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import prepare, stylize_pixels, to_image
from stylenorm.inference.stylizer import Stylizer
from stylenorm.inference.tile_statistics import (
    Statistics,
    concatenate,
    measure,
    parse_frame_statistics,
    per_sample_norm_layers,
    pooled,
    whole_image_context,
    window_indices,
)
from stylenorm.inference.video_io import is_video, probe_video, read_video, video_writer

#: A source of frames that can be read more than once: each call starts again at the first frame.
Frames = Callable[[], Iterable[torch.Tensor]]
#: Frame duration (ms) of an animation whose file names none (browsers show such GIFs at about 10 frames/s).
DEFAULT_FRAME_MS = 100


def record_statistics(model: Stylizer, pixels: torch.Tensor, options: InferenceOptions) -> Statistics:
    """Each float 0-255 frame's own statistics (float64, CPU, a row per frame) at every per-sample norm layer."""
    layers = per_sample_norm_layers(model.network)
    if not layers:
        return {}
    run = lambda window: model(window, options.precision, eager=True)  # noqa: E731 - hooks need the eager module
    tiles = options.tiling(*pixels.shape[-2:], model)
    if tiles is None:
        statistics = measure(run, layers, pixels)
    elif options.tile_stats == "per-tile":
        raise ValueError("--frame-stats needs whole-frame statistics: --tile-stats exact or thumbnail, not per-tile.")
    else:
        parts = []
        for image in pixels:
            with whole_image_context(options.tile_stats, run, model.network, image[None].float(), tiles) as part:
                parts.append(part)
        statistics = concatenate(parts)
    return {layer: (mean.cpu(), var.cpu()) for layer, (mean, var) in statistics.items()}


def stylize_clip(
    frames: Frames,
    model: Stylizer,
    options: InferenceOptions | None = None,
    *,
    progress: Callable[[str, int], None] | None = None,
    **keywords,
) -> Iterator[torch.Tensor]:
    """Stylized uint8 ``(3, H, W)`` frames of ``frames()`` (uint8 ``(3, H, W)``, one size), in order;
    ``progress(stage, frames)`` after each batch (stage ``statistics`` or ``stylize``)."""
    options = InferenceOptions.from_keywords(options, **keywords)
    window = parse_frame_statistics(options.frame_stats)
    statistics, total = None, 0
    if window != 1:
        parts = []
        for batch in map(torch.stack, frame_batches(frames(), options.batch_size)):
            parts.append(record_statistics(model, batch.float(), options))
            total += len(batch)
            if progress:
                progress("statistics", len(batch))
        statistics = concatenate(parts)
    start = 0
    for batch in map(torch.stack, frame_batches(frames(), options.batch_size)):
        shared = None
        if statistics is not None:
            shared = concatenate(
                [pooled(statistics, window_indices(start + i, total, window)) for i in range(len(batch))]
            )
        yield from model.convention.quantize(stylize_pixels(batch.float(), model, options, statistics=shared))
        start += len(batch)
        if progress:
            progress("stylize", len(batch))


def stylize_video(
    source: str | os.PathLike,
    target: str | os.PathLike,
    model: Stylizer,
    options: InferenceOptions | None = None,
    *,
    ext: str = ".png",
    progress: Callable[[str, int], None] | None = None,
    **keywords,
) -> list[Path]:
    """Stylize the video ``source`` into ``target``: a video file, an animation or stills (image extension) or
    else a folder of frames with extension ``ext``; returns the files written."""
    options = InferenceOptions.from_keywords(options, **keywords)
    source, target = Path(source), Path(target)
    rate = probe_video(source).rate
    stamps: list[tuple[int | None, object]] = []  # (pts, time_base) of each frame read in the last pass

    def frames() -> Iterator[torch.Tensor]:
        stamps.clear()
        for frame in read_video(source):
            stamps.append((frame.pts, frame.time_base))
            yield prepare(Image.fromarray(frame.pixels), options).pixels

    outputs = stylize_clip(frames, model, options, progress=progress)
    if is_video(target):
        with video_writer(target, rate, audio_from=source) as write:
            for index, output in enumerate(outputs):
                write(output.permute(1, 2, 0).numpy(), *stamps[index])
        return [target]
    images = map(to_image, outputs)
    if target.suffix.lower() in OUTPUT_FORMATS:
        images = list(images)
        times = [
            float(pts * base) if pts is not None and base is not None else i / float(rate)
            for i, (pts, base) in enumerate(stamps)
        ]
        ends = [*times[1:], times[-1] + 1 / float(rate)]  # the last frame: one frame period
        durations = [max(1, round(1000 * (end - start))) for start, end in zip(times, ends, strict=True)]
        return save_animation(images, target, durations, loop=0)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".frames.", dir=target) as temporary:  # frames appear once all are written
        names = [save_image(image, Path(temporary, f"{index:06d}{ext}")).name for index, image in enumerate(images)]
        for name in names:
            os.replace(Path(temporary, name), target / name)
    return [target / name for name in names]


def is_animated(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds more than one frame (GIF, WebP, APNG); False for files PIL cannot open."""
    return (header_size(path) or (0, 0, 1))[2] > 1


def stylize_animation(
    source: str | os.PathLike, target: str | os.PathLike, model: Stylizer, options: InferenceOptions | None = None
) -> list[Path]:
    """Stylize every frame of an animated image (as Pillow composites it) into ``target``, durations and loop kept."""
    options = options or InferenceOptions()
    frames, durations = [], []
    with open_image(source) as image:
        loop = image.info.get("loop")
        for frame in ImageSequence.Iterator(image):
            durations.append(int(frame.info.get("duration") or DEFAULT_FRAME_MS))
            rgb = frame.convert("RGBA" if "transparency" in frame.info else "RGB")
            frames.append(prepare(rgb, options))
    outputs = stylize_clip(lambda: (frame.pixels for frame in frames), model, options)
    results = [to_image(output, frame.alpha) for frame, output in zip(frames, outputs, strict=True)]
    return save_animation(results, target, durations, loop)
