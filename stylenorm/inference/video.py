"""Stylize clips: video files (:mod:`stylenorm.inference.video_io`) or frames in memory, frame by frame.

Every frame goes through the image pipeline (:func:`stylenorm.inference.stylize_batch`: resizing, tiling,
precision, quantisation) in batches of consecutive frames; with ``frame_stats`` other than ``per-frame``
(:mod:`stylenorm.inference.frame_statistics`) the clip is read twice. Outputs: a video file (the input's
frames, timing and size, audio copied), an animation (:func:`~stylenorm.inference.image_io.save_animation`) or
a folder of frames, moved into place once all are written. Usage: docs/video.md, "Stylize a clip".
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import torch
from PIL import Image

from stylenorm.inference.frame_statistics import (
    concatenate,
    parse_frame_statistics,
    pooled,
    record_statistics,
    run_with_statistics,
    stack,
    window_indices,
)
from stylenorm.inference.image_io import OUTPUT_FORMATS, save_animation, save_image
from stylenorm.inference.jobs import Job, _check_writable, normalize_extension
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import prepare, stylize_batch
from stylenorm.inference.stylizer import Stylizer
from stylenorm.inference.video_io import VIDEO_EXTENSIONS, VideoWriter, is_video, probe_video, read_video

#: A source of frames that can be read more than once: each call starts again at the first frame.
Frames = Callable[[], Iterable[torch.Tensor]]


def _batches(frames: Iterable[torch.Tensor], size: int) -> Iterator[torch.Tensor]:
    batch = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield torch.stack(batch)
            batch = []
    if batch:
        yield torch.stack(batch)


def stylize_clip(
    frames: Frames,
    model: Stylizer,
    options: InferenceOptions | None = None,
    *,
    progress: Callable[[str, int], None] | None = None,
    **keywords,
) -> Iterator[torch.Tensor]:
    """Stylized uint8 ``(3, H, W)`` frames of ``frames()`` (uint8 ``(3, H, W)`` tensors of one size), in order.

    ``options``: :class:`~stylenorm.inference.options.InferenceOptions` (or its fields as keywords), of which
    ``batch_size``, ``frame_stats``, the tiling and the precision apply. ``progress(stage, frames)`` is
    called after each batch (stage ``statistics`` or ``stylize``).
    """
    options = InferenceOptions.from_keywords(options, **keywords)
    window = parse_frame_statistics(options.frame_stats)
    if window == 1:
        for batch in _batches(frames(), options.batch_size):
            yield from stylize_batch(batch, model, options)
            if progress:
                progress("stylize", len(batch))
        return
    parts, total = [], 0
    for batch in _batches(frames(), options.batch_size):
        sizes = options.tiling(*batch.shape[-2:], model)
        parts.append(record_statistics(model, batch.float(), options.precision, sizes, options.tile_stats))
        total += len(batch)
        if progress:
            progress("statistics", len(batch))
    statistics = concatenate(parts)
    start = 0
    for batch in _batches(frames(), options.batch_size):
        shared = stack([pooled(statistics, window_indices(start + i, total, window)) for i in range(len(batch))])
        sizes = options.tiling(*batch.shape[-2:], model)
        output = run_with_statistics(model, batch.float(), shared, options.precision, sizes)
        yield from model.convention.quantize(output)
        start += len(batch)
        if progress:
            progress("stylize", len(batch))


def _frame_durations(times: list[float], rate: float) -> list[int]:
    """Milliseconds each frame is shown, from presentation times in seconds (the last: one frame period)."""
    ends = [*times[1:], times[-1] + 1 / rate]
    return [max(1, round(1000 * (end - start))) for start, end in zip(times, ends, strict=True)]


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
    """Stylize the video ``source`` into ``target``: a video file, an animation/stills (image extension) or,
    for a path without either, a folder of frames with extension ``ext``. Returns the files written.

    ``options`` (or its fields as keywords): as for :func:`stylize_clip`, with ``scale`` and ``max_size``
    resizing each frame first. Audio is copied into video outputs.
    """
    options = InferenceOptions.from_keywords(options, **keywords)
    source, target = Path(source), Path(target)
    info = probe_video(source)
    stamps: list[tuple[int | None, object]] = []  # (pts, time_base) of each frame read in the last pass

    def frames() -> Iterator[torch.Tensor]:
        stamps.clear()
        for frame in read_video(source):
            stamps.append((frame.pts, frame.time_base))
            yield prepare(Image.fromarray(frame.pixels), scale=options.scale, max_size=options.max_size).pixels

    outputs = stylize_clip(frames, model, options, progress=progress)
    if is_video(target):
        with VideoWriter(target, info.rate, audio_from=source) as writer:
            for index, output in enumerate(outputs):
                writer.write(output.permute(1, 2, 0).numpy(), *stamps[index])
        return [target]
    if target.suffix.lower() in OUTPUT_FORMATS:
        images = [Image.fromarray(o.permute(1, 2, 0).numpy()) for o in outputs]
        times = [
            float(pts * base) if pts is not None and base is not None else i / float(info.rate)
            for i, (pts, base) in enumerate(stamps)
        ]
        return save_animation(images, target, _frame_durations(times, float(info.rate)), loop=0)
    return _write_frames(outputs, target, ext)


def _write_frames(outputs: Iterable[torch.Tensor], folder: Path, ext: str) -> list[Path]:
    """Frames ``000000<ext>``, ... into ``folder``, via a hidden temporary folder beside them."""
    temporary = folder / f".frames.{os.getpid()}.partial"
    try:
        names = []
        for index, output in enumerate(outputs):
            name = f"{index:06d}{ext}"
            save_image(Image.fromarray(output.permute(1, 2, 0).numpy()), temporary / name)
            names.append(name)
        written = []
        for name in names:
            os.replace(temporary / name, folder / name)
            written.append(folder / name)
        temporary.rmdir()
        return written
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def plan_video_jobs(inputs: Sequence[str], output: str | os.PathLike, ext: str | None = None) -> list[Job] | None:
    """Jobs for video inputs (``None`` when no input is a video file, for the image planner to take).

    One video: ``output`` is a video file, an image file (an animation, or numbered stills) or a folder
    of frames. Several: ``output`` is a folder, each result named as its input (``ext`` replaces the
    extension).
    """
    videos = [item for item in inputs if is_video(item)]
    if not videos:
        return None
    if len(videos) != len(inputs):
        raise ValueError("--input mixes videos and images; run videos and images separately.")
    missing = [item for item in videos if not Path(item).is_file()]
    if missing:
        expected = ", ".join(VIDEO_EXTENSIONS)
        raise FileNotFoundError(f"Input not found: {missing[0]}. Expected a video file ({expected}).")
    if ext is not None:
        ext = "." + ext.lower().lstrip(".")
        if ext not in VIDEO_EXTENSIONS:
            normalize_extension(ext)  # a readable error for unknown extensions
    output = Path(output)
    if len(videos) == 1:
        jobs = [Job(Path(videos[0]), output)]  # no extension: a folder of frames (--ext: their format)
    else:
        if output.suffix.lower() in VIDEO_EXTENSIONS or output.is_file():
            raise ValueError(f"--output {output} must be a folder for {len(videos)} input videos.")
        jobs = [Job(Path(item), output / (Path(item).stem + (ext or Path(item).suffix))) for item in videos]
    for job in jobs:
        if job.target.resolve() == job.source.resolve():
            raise ValueError(f"Refusing to overwrite the input {job.source} with its result; choose another --output.")
    if len({job.target.resolve() for job in jobs}) != len(jobs):
        raise ValueError("Two input videos would write the same output; rename one of them.")
    _check_writable([Job(j.source, j.target if j.target.suffix else j.target / "000000.png") for j in jobs])
    return jobs
