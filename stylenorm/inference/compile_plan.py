"""``--compile auto``: the padded input shapes a stylize job will run (from image headers, in the command's batches),
of which :func:`stylenorm.speed.stylize_compile_pays` picks those worth compiling; the rest, tiles included, run
eager. The rule: docs/performance.md, "Compiling the stylize command when it pays".
"""

from __future__ import annotations

import collections
import math
import os
from collections.abc import Sequence

from stylenorm.data.images import open_image
from stylenorm.inference.jobs import Job
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import resized_size
from stylenorm.inference.stylizer import Stylizer
from stylenorm.inference.tiling import padded_length
from stylenorm.speed import stylize_compile_pays

#: ``--compile`` values: decide per shape, compile every shape, never compile.
COMPILE_MODES = ("auto", "always", "never")

_EXIF_ORIENTATION = 0x0112
_TRANSPOSED_ORIENTATIONS = (5, 6, 7, 8)  # rotated by 90 degrees: width and height swap when made upright

Shape = tuple[int, int, int]


def header_size(path: str | os.PathLike) -> tuple[int, int, int] | None:
    """``(width, height, frames)`` of an image file from its header, upright; ``None`` if unreadable."""
    try:
        with open_image(path) as image:
            width, height = image.size
            if image.getexif().get(_EXIF_ORIENTATION) in _TRANSPOSED_ORIENTATIONS:
                width, height = height, width
            frames = getattr(image, "n_frames", 1) if getattr(image, "is_animated", False) else 1  # no second open
    except (OSError, ValueError, SyntaxError):
        return None
    return width, height, frames


def planned_shapes(jobs: Sequence[Job], model: Stylizer, options: InferenceOptions) -> collections.Counter[Shape]:
    """How many untiled network calls of each padded input shape ``(N, H, W)`` the command makes."""
    calls: collections.Counter[Shape] = collections.Counter()
    pending: tuple[int, int] | None = None
    pending_count = 0

    def network_shape(count: int, height: int, width: int) -> Shape:
        multiple, min_size = model.size_multiple, model.min_size
        return count, padded_length(height, multiple, min_size), padded_length(width, multiple, min_size)

    def flush() -> None:
        nonlocal pending, pending_count
        if pending_count:
            calls[network_shape(pending_count, *pending)] += 1
        pending, pending_count = None, 0

    for job in jobs:
        header = header_size(job.source)
        if header is None:
            continue  # the command names it and goes on; it does not end the batch being gathered
        width, height = resized_size(header[0], header[1], scale=options.scale, max_size=options.max_size)
        tiled = options.tile_for(height, width) is not None
        if header[2] > 1:  # an animation: its frames in batches of batch_size, after what was gathered
            flush()
            if not tiled:
                full, rest = divmod(header[2], options.batch_size)
                if full:
                    calls[network_shape(options.batch_size, height, width)] += full
                if rest:
                    calls[network_shape(rest, height, width)] += 1
            continue
        if pending_count and (tiled or pending_count >= options.batch_size or pending != (height, width)):
            flush()
        if tiled:
            continue
        pending, pending_count = (height, width), pending_count + 1
    flush()
    return calls


def plan_compile(
    mode: str, jobs: Sequence[Job], model: Stylizer, options: InferenceOptions | None = None
) -> tuple[bool, frozenset[Shape] | None, str]:
    """``(compile?, shapes to compile for or None for all, reason)`` for ``--compile mode`` and the job."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"Unknown --compile {mode!r}; expected one of {', '.join(COMPILE_MODES)}.")
    if mode == "never":
        return False, None, "--compile never"
    if mode == "always":
        return True, None, "--compile always: every input shape"
    calls = planned_shapes(jobs, model, options or InferenceOptions())
    shapes, reason = stylize_compile_pays({shape: count * math.prod(shape) / 1e6 for shape, count in calls.items()})
    return bool(shapes), shapes, reason
