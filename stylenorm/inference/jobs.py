"""The stylize command's plan, decided before the first image is decoded: the files it reads and writes (clashes
refused up front), its batches and, for ``--compile auto``, the padded input shapes they feed the network. Rules:
docs/stylize.md, docs/video.md; compiling: docs/performance.md, "Compiling the stylize command when it pays".
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import itertools
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from stylenorm.data.images import IMAGE_EXTENSIONS, list_images
from stylenorm.inference.image_io import OUTPUT_FORMATS, header_size
from stylenorm.inference.options import InferenceOptions
from stylenorm.inference.pipeline import resized_size
from stylenorm.inference.stylizer import Stylizer
from stylenorm.inference.tile_statistics import parse_frame_statistics
from stylenorm.inference.tiling import padded_length
from stylenorm.inference.video_io import VIDEO_EXTENSIONS, is_video
from stylenorm.speed import stylize_compile_pays

#: ``--compile`` values: decide per shape, compile every shape, never compile.
COMPILE_MODES = ("auto", "always", "never")
T = TypeVar("T")
Shape = tuple[int, int, int]


@dataclasses.dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def normalize_extension(ext: str | None, allowed: Sequence[str] = ()) -> str | None:
    """``"jpg"`` / ``".JPG"`` -> ``".jpg"``; refuses formats that cannot be written (images, or ``allowed``)."""
    if ext is None:
        return None
    ext = "." + ext.lower().lstrip(".")
    if ext not in OUTPUT_FORMATS and ext not in allowed:
        raise ValueError(f"Unknown output extension {ext!r}; expected one of {', '.join(OUTPUT_FORMATS)}.")
    return ext


def collect_inputs(inputs: Sequence[str]) -> tuple[list[Path], Path, bool]:
    """``(files, base folder their output paths are relative to, whether it is one named file)``."""
    if not inputs:
        raise ValueError("No input given: pass --input with an image file, a folder or a glob pattern.")
    if len(inputs) > 1:
        folders = [item for item in inputs if Path(item).is_dir()]
        if folders:
            raise ValueError(f"--input {folders[0]} is a folder among several inputs: run once per folder.")
        _check_exist(inputs, "")
        files = [Path(item) for item in inputs]
        return files, Path(os.path.commonpath([str(path.parent.absolute()) for path in files])), False
    item = inputs[0]
    path = Path(item)
    if path.is_file():
        return [path], path.parent, True
    if path.is_dir():
        hint = "Pass --input an image file, a folder of images or a quoted glob pattern such as 'photos/*.jpg'."
        return list_images(path, recursive=True, hint=hint), path, False
    if not glob.has_magic(item):
        raise FileNotFoundError(f"Input not found: {item} (no such file or folder, and not a glob pattern).")
    matches = sorted(
        Path(match)
        for match in glob.glob(item, recursive=True)
        if Path(match).is_file() and Path(match).suffix.lower() in IMAGE_EXTENSIONS
    )
    if not matches:
        raise FileNotFoundError(f"No image files match {item!r}; use ** for subfolders, e.g. 'photos/**/*.jpg'.")
    fixed = itertools.takewhile(lambda part: not glob.has_magic(part), path.parts[:-1])
    return matches, Path(".", *fixed), False  # photos/2024/*.jpg: relative to photos/2024


def _check_exist(inputs: Sequence[str], expected: str) -> None:
    missing = [item for item in inputs if not Path(item).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise FileNotFoundError(f"Input not found: {missing[0]}{more}.{expected}")


def plan_jobs(inputs: Sequence[str], output: str | os.PathLike, ext: str | None = None) -> list[Job]:
    """The ``(source, target)`` pairs of one command; raises before any work for impossible plans."""
    jobs = _video_jobs(inputs, Path(output), ext) if any(map(is_video, inputs)) else _image_jobs(inputs, output, ext)
    sources = {job.source.resolve(): job.source for job in jobs}
    writers: dict[Path, Path] = {}
    for job in jobs:
        resolved = job.target.resolve()
        clash = sources.get(resolved)
        if clash is None and job.target.exists() and os.path.samefile(job.target, job.source):  # a hard link
            clash = job.source
        if clash is not None:
            whose = "its own result" if clash == job.source else f"the result of {job.source}"
            raise ValueError(f"Refusing to overwrite the input {clash} with {whose}: change --output.")
        if resolved in writers:
            raise ValueError(f"{writers[resolved]} and {job.source} would both write {job.target}: drop --ext.")
        writers[resolved] = job.source
    _check_writable(jobs)
    return jobs


def _image_jobs(inputs: Sequence[str], output: str | os.PathLike, ext: str | None) -> list[Job]:
    ext = normalize_extension(ext)
    files, base, single_file = collect_inputs(inputs)
    output = Path(output)
    if single_file and output.suffix.lower() in OUTPUT_FORMATS and not output.is_dir():
        if ext is not None and OUTPUT_FORMATS[ext] != OUTPUT_FORMATS[output.suffix.lower()]:
            raise ValueError(f"--ext {ext} contradicts the output file name {output}; drop one of them.")
        return [Job(files[0], output)]
    if output.is_file():
        raise ValueError(f"--output {output} is a file, but {len(files)} inputs need a folder: give a folder name.")
    if output.suffix.lower() in OUTPUT_FORMATS and not output.exists():
        raise ValueError(f"--output {output} looks like a file name, but {len(files)} inputs need a folder.")
    if output.resolve() != base.resolve():
        # A second run into a folder inside the input folder must not pick up the first run's results.
        files = [path for path in files if not path.resolve().is_relative_to(output.resolve())]
    if not files:
        raise FileNotFoundError(f"Every input image is inside the output folder {output}; nothing to do.")
    jobs = []
    for path in files:  # one named file: its name; base is its folder
        target = output / os.path.relpath(path.absolute(), base.absolute())
        jobs.append(Job(path, target.with_suffix(ext) if ext is not None else target))
        if jobs[-1].target.suffix.lower() not in OUTPUT_FORMATS:
            raise ValueError(f"Cannot tell the output format of {target}: pass --ext, e.g. --ext png.")
    return jobs


def _video_jobs(inputs: Sequence[str], output: Path, ext: str | None) -> list[Job]:
    """One video: ``output`` is a video file, an image file (an animation, or numbered stills) or a folder of
    frames (``--ext``: their format). Several: ``output`` is a folder, each result named as its input."""
    if not all(is_video(item) for item in inputs):
        raise ValueError("--input mixes videos and images; run videos and images separately.")
    _check_exist(inputs, f" Expected a video file ({', '.join(VIDEO_EXTENSIONS)}).")
    ext = normalize_extension(ext, VIDEO_EXTENSIONS)
    if len(inputs) == 1:
        return [Job(Path(inputs[0]), output)]
    if output.suffix.lower() in VIDEO_EXTENSIONS or output.is_file():
        raise ValueError(f"--output {output} must be a folder for {len(inputs)} input videos.")
    return [Job(Path(item), output / (Path(item).stem + (ext or Path(item).suffix))) for item in inputs]


def _check_writable(jobs: list[Job]) -> None:
    """Every output folder can be created and written to: a probe file in the nearest existing folder of each."""
    for folder in sorted({(job.target.parent if job.target.suffix else job.target).absolute() for job in jobs}):
        existing = folder  # a target without a suffix is a folder of frames
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(f"{existing} is a file, so no folder can be made under it: change --output.")
        try:
            with tempfile.TemporaryFile(dir=existing):
                pass
        except OSError as error:
            raise ValueError(f"Cannot write under {folder}: {error.strerror or error}; change --output.") from None


def batches(
    items: Iterable[T], size: Callable[[T], tuple[int, int] | None], options: InferenceOptions
) -> Iterator[list[T]]:
    """Consecutive images of one ``size`` (height, width), up to ``batch_size``; tiled ones and clips (None) alone."""
    pending: list[T] = []
    for item in items:
        shape = size(item)
        alone = shape is None or options.tile_for(*shape) is not None  # tiles: their point is bounded memory
        if pending and (alone or shape != size(pending[0])):
            yield pending
            pending = []
        pending.append(item)
        if alone or len(pending) == options.batch_size:
            yield pending
            pending = []
    if pending:
        yield pending


def frame_batches(frames: Iterable[T], size: int) -> Iterator[list[T]]:
    """A clip's frames, ``size`` consecutive ones at a time, as :func:`.video.stylize_clip` runs them."""
    frames = iter(frames)
    while batch := list(itertools.islice(frames, size)):
        yield batch


def planned_shapes(jobs: Sequence[Job], model: Stylizer, options: InferenceOptions) -> collections.Counter[Shape]:
    """How many untiled network calls of each padded input shape ``(N, H, W)`` the command makes."""
    items = []  # (height, width, frames) as the runner will read them
    for header in filter(None, map(header_size, (job.source for job in jobs))):  # unreadable: named when run
        width, height = resized_size(header[0], header[1], scale=options.scale, max_size=options.max_size)
        items.append((height, width, header[2]))
    calls: collections.Counter[Shape] = collections.Counter()
    shared_frames = parse_frame_statistics(options.frame_stats) != 1
    for batch in batches(items, lambda item: item[:2] if item[2] == 1 else None, options):
        height, width, frames = batch[0]
        if options.tile_for(height, width) is not None or (frames > 1 and shared_frames):
            continue  # tiled images and clips sharing statistics run eager: the statistics need the module's hooks
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
