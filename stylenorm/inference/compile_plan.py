"""``--compile auto``: the padded input shapes a stylize job will run (from image headers, in the runner's
:func:`~stylenorm.inference.jobs.batches`), of which :func:`stylenorm.speed.stylize_compile_pays` picks those worth
compiling; the rest, tiles included, run eager. The rule: docs/performance.md, "Compiling the stylize command when it
pays".
"""

from __future__ import annotations

import collections
import math
from collections.abc import Sequence

from stylenorm.inference.image_io import header_size
from stylenorm.inference.jobs import Job, batches, frame_batches
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import resized_size
from stylenorm.inference.stylizer import Stylizer
from stylenorm.inference.tiling import padded_length
from stylenorm.speed import stylize_compile_pays

#: ``--compile`` values: decide per shape, compile every shape, never compile.
COMPILE_MODES = ("auto", "always", "never")

Shape = tuple[int, int, int]


def planned_shapes(jobs: Sequence[Job], model: Stylizer, options: InferenceOptions) -> collections.Counter[Shape]:
    """How many untiled network calls of each padded input shape ``(N, H, W)`` the command makes."""
    items = []  # (height, width, frames) as the runner will read them
    for header in filter(None, map(header_size, (job.source for job in jobs))):  # unreadable: named when run
        width, height = resized_size(header[0], header[1], scale=options.scale, max_size=options.max_size)
        items.append((height, width, header[2]))
    calls: collections.Counter[Shape] = collections.Counter()
    for batch in batches(items, lambda item: item[:2] if item[2] == 1 else None, options):
        height, width, frames = batch[0]
        if options.tile_for(height, width) is not None:
            continue  # tiled images run eager: the tile statistics need the module's hooks
        padded = [padded_length(side, model.size_multiple, model.min_size) for side in (height, width)]
        clip = frame_batches(range(frames), options.batch_size) if frames > 1 else [batch]
        calls.update((len(part), *padded) for part in clip)
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
